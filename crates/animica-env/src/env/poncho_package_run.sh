#!/bin/sh
# poncho_package_run [options] -e FILE|DIR [--] COMMAND [ARGS...]
# cctools' runner, carried by every archive animica-env writes so that it
# works where nothing else is installed (no animica-env, no cctools, no
# Python beyond the environment's own): unpacks a tarball (-e FILE) into
# -u DIR or a temporary directory, or takes an unpacked one (-e DIR);
# relocates it once (bin/conda-unpack, under a lock); activates it; runs
# the command. Exit 1 when the environment cannot be had, else the
# command's status.

usage() {
    cat <<'USAGE'
Usage: poncho_package_run [options] -e <file|dir> [--] command and args ...
where options are:
 -e, --environment <path>   Conda environment as a tar file or a directory. (Required.)
 -u, --unpack-to <dir>      Directory to unpack the environment. If not given,
                            a temporary directory is used. If the argument to
                            --environment is a directory, --unpack-to is ignored.
 -w, --wait-for-lock <secs> Seconds to wait for the lock on <dir>. Default is 300.
 -d, --debug                Print debug messages (on standard error).
 -k, --keep-alive           Keep a temporary unpack directory after the command.
 -n, --no-command           Set up the environment, run no command.
 -r, --remove-locking       Accepted; the unpack always takes its lock.
 --help-env-creation        Show how to create environment archives.
 -h, --help                 Show this help screen.
USAGE
}

log() {
    if [ "$debug" = yes ]; then
        echo "$(date '+%Y-%m-%d %H:%M:%S') poncho_package_run($$): $*" >&2
    fi
}

fail() {
    echo "poncho_package_run: $*" >&2
    exit 1
}

env_arg=
unpack_to=
wait=300
debug=${PONCHO_PACKAGE_RUN_DEBUG:-no}
keep=no
no_command=no
while [ $# -gt 0 ]; do
    case $1 in
        -h | --help) usage; exit 0 ;;
        --help-env*)
            echo "Environments are made by animica-env (animica-env create, or python_package_create /"
            echo "poncho_package_create SPEC OUT.tar.gz); see its documentation."
            exit 0 ;;
        -e | --environment) [ $# -ge 2 ] || fail "$1 needs a value"; env_arg=$2; shift ;;
        -u | --unpack-to) [ $# -ge 2 ] || fail "$1 needs a value"; unpack_to=$2; shift ;;
        -w | --wait-for-lock) [ $# -ge 2 ] || fail "$1 needs a value"; wait=$2; shift ;;
        -d | --debug) debug=yes ;;
        -k | --keep-alive) keep=yes ;;
        -n | --no-command) no_command=yes ;;
        -r | --remove-locking) ;;
        --) shift; break ;;
        *) break ;;
    esac
    shift
done
[ -n "$env_arg" ] || { usage >&2; fail "a tarball or directory should be specified with the --environment option."; }
[ $# -gt 0 ] || no_command=yes

tmp=
if [ -d "$env_arg" ]; then
    [ -z "$unpack_to" ] || echo "poncho_package_run: ignoring --unpack-to argument as --environment is a directory." >&2
    # Physical: one directory reached through per-task links is relocated once.
    dir=$(cd -- "$env_arg" && pwd -P) || fail "cannot enter $env_arg"
else
    [ -f "$env_arg" ] || fail "no such environment: $env_arg"
    if [ -z "$unpack_to" ]; then
        unpack_to=$(mktemp -d) || fail "cannot make a temporary directory"
        tmp=$unpack_to
    fi
    [ ! -f "$unpack_to" ] || fail "--unpack-to $unpack_to is a file; it should be a directory."
    mkdir -p -- "$unpack_to" || fail "cannot make $unpack_to"
    dir=$(cd -- "$unpack_to" && pwd -P) || fail "cannot enter $unpack_to"
    tarball=$(cd -- "$(dirname -- "$env_arg")" && pwd)/$(basename -- "$env_arg")
    # Unpacked once per directory, under a lock on it (flock(1) when the
    # worker has it, else an atomic mkdir).
    # shellcheck disable=SC2016 # expanded by the inner sh, from its arguments
    expand='[ -e "$1/.poncho_package_run_expanded" ] || { tar -xf "$2" -C "$1" && date > "$1/.poncho_package_run_expanded"; }'
    log "unpacking $tarball into $dir"
    if command -v flock > /dev/null 2>&1; then
        flock -w "$wait" "$dir" /bin/sh -c "$expand" sh "$dir" "$tarball" || fail "could not unpack $env_arg into $dir"
    else
        waited=0
        until mkdir -- "$dir.lock" 2> /dev/null; do
            [ "$waited" -lt "$wait" ] || fail "could not acquire the lock $dir.lock"
            sleep 1
            waited=$((waited + 1))
        done
        /bin/sh -c "$expand" sh "$dir" "$tarball"
        status=$?
        rmdir -- "$dir.lock"
        [ "$status" = 0 ] || fail "could not unpack $env_arg into $dir"
    fi
fi

# Relocated once for where it is now (conda-unpack locks and records the
# prefix its files name; any path to this same directory will do).
recorded=$(cat -- "$dir/.animica-env/relocated-to" 2> /dev/null)
if [ -z "$recorded" ] || [ "$(cd -- "$recorded" 2> /dev/null && pwd -P)" != "$dir" ]; then
    log "relocating $dir"
    "$dir/bin/conda-unpack" || fail "could not relocate the environment in $dir"
fi
if [ "$no_command" = yes ]; then
    log "environment ready at $dir; no command"
    exit 0
fi

# Activated as `animica-env run` does: PATH, CONDA_PREFIX, activate.d,
# poncho's set_env (the spec's git/http data) with the prefix as $1.
CONDA_PREFIX=$dir
CONDA_DEFAULT_ENV=$dir
CONDA_SHLVL=1
PATH=$dir/bin:$PATH
export CONDA_PREFIX CONDA_DEFAULT_ENV CONDA_SHLVL PATH
unset PYTHONPATH PYTHONHOME
for f in "$dir"/etc/conda/activate.d/*.sh; do
    [ -f "$f" ] || continue
    # shellcheck disable=SC1090 # the environment's own activation scripts
    . "$f" || fail "activation script $f failed"
done
if [ -f "$dir/poncho/set_env" ]; then
    # shellcheck disable=SC1091 # written by the spec's git/http sections
    set_env() { . "$dir/poncho/set_env"; }
    set_env "$dir" || fail "$dir/poncho/set_env failed"
fi

log "executing: $*"
if [ -z "$tmp" ] || [ "$keep" = yes ]; then
    exec "$@"
fi
"$@"
status=$?
rm -rf -- "$tmp"
exit "$status"
