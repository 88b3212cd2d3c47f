#!/usr/bin/env python3
"""Current cctools (TaskVine, poncho) in a Debian chroot: this machine's
Debian has cctools 9.9 (Work Queue only), and trixie's 7.14 needs glibc 2.38+.

    ci/cctools_chroot.py make                  # once; cached in target/chroots/trixie-cctools
    ci/cctools_chroot.py run DIR -- CMD...     # CMD in the chroot, DIR bound at /work

`make` runs debootstrap (trixie, amd64, minbase) with coop-computing-tools
and python3-workqueue (whose ndcctools package holds TaskVine and poncho),
python3-dill and python3-cloudpickle (TaskVine's function calls), and
prints the chroot's path. `run` mounts /proc, /dev and DIR, runs CMD with
DIR as the working directory, unmounts, and exits with CMD's status. Root
is needed (debootstrap, chroot, mount); make test-rust runs `make` first.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_wheels  # noqa: E402

NAME = "trixie-cctools"
PACKAGES = ["coop-computing-tools", "python3-workqueue", "python3-dill", "python3-cloudpickle"]


def make() -> Path:
    return test_wheels.make_chroot(NAME, "trixie", "3.13", "amd64", PACKAGES)


def run(bind: Path, cmd: list[str]) -> int:
    root = make()
    try:
        test_wheels.in_chroot(root, ["/bin/sh", "-c", 'cd /work && exec "$@"', "sh", *cmd], binds=[(bind, "work")])
        return 0
    except subprocess.CalledProcessError as e:
        return e.returncode or 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["make"]:
        print(make())
        return 0
    if len(argv) >= 4 and argv[0] == "run" and "--" in argv:
        at = argv.index("--")
        return run(Path(argv[1]).resolve(), argv[at + 1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
