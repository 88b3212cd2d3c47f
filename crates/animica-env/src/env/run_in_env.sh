#!/bin/sh
# run_in_env COMMAND [ARGS...]: runs a command in this environment, wherever
# it was unpacked (written by animica-env). TaskVine's declare_poncho runs
#   mkdir output && tar xf package.tar.gz -C output && output/bin/run_in_env CMD
# and this needs nothing on the worker but /bin/sh and the environment.
bin=$(cd -- "$(dirname -- "$0")" && pwd) || exit 1
exec "$bin/poncho_package_run" -e "$(dirname -- "$bin")" -- "$@"
