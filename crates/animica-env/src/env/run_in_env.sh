#!/bin/sh
# run_in_env COMMAND [ARGS...]: runs a command in this environment, wherever
# it was unpacked (written by animica-env). TaskVine's declare_poncho runs
#   mkdir output && tar xf package.tar.gz -C output && output/bin/run_in_env CMD
# and this needs nothing on the worker but /bin/sh and the environment.
# The physical path: TaskVine reaches one unpacked copy through a link in
# each task's sandbox; relocating for the link would redo it every task.
bin=$(cd -- "$(dirname -- "$0")" && pwd -P) || exit 1
exec "$bin/poncho_package_run" -e "$(dirname -- "$bin")" -- "$@"
