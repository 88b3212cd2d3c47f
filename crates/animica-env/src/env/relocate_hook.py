"""Relocates this environment the first time its Python starts where a
plain untar put it (Spark's --archives, TaskVine, by hand). Written by
animica-env; loaded at startup by _animica_env_relocate.pth. It runs
bin/conda-unpack in this process once, under the lock `animica-env run`
takes; every later start reads one small file and compares two paths."""
import os
import sys


def _relocate():
    root = sys.prefix
    state = os.path.join(root, ".animica-env")
    try:
        with open(os.path.join(state, "relocated-to")) as f:
            if os.path.realpath(f.read().strip()) == os.path.realpath(root):
                return
    except (IOError, OSError):
        pass
    script = os.path.join(root, "bin", "conda-unpack")
    if not (os.path.isfile(os.path.join(state, "manifest.json")) and os.path.isfile(script)):
        return
    try:
        with open(script) as f:
            code = compile(f.read(), script, "exec")
        exec(code, {"__file__": script, "__name__": "_animica_env_conda_unpack"})
    except SystemExit as e:
        sys.stderr.write("animica-env: %s could not relocate itself: %s\n" % (root, e))
    except Exception as e:  # never keep the interpreter from starting
        sys.stderr.write("animica-env: %s could not relocate itself: %r\n" % (root, e))


_relocate()
