#!/usr/bin/env python3
"""TaskVine (current cctools) running tasks in an animica-env archive
declared as a poncho package, exactly as TaskVine's documentation has users
do with poncho_package_create's archives:

    python3 manager.py --env env.tar.gz --tasks 10 --local-workers 2

`m.declare_poncho(env, cache=True)` makes each worker unpack the archive
once (a mini task: mkdir output && tar xf env.tar.gz -C output) and run
every task that adds it as `output/bin/run_in_env <command>`: the archive's
own launcher (relocates once, activates, runs), with nothing of animica-env
or cctools' poncho on the worker. Each task runs task.py (a declared buffer)
with the environment's python; it imports tabulate, which only the archive
has. Prints a JSON summary; exit 1 unless every task succeeded. Needs
TaskVine's Python module (ndcctools.taskvine, Debian trixie's
python3-workqueue) and vine_worker (coop-computing-tools 7.14+).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ndcctools.taskvine as vine

TASK = """import os, sys
import tabulate
n = int(sys.argv[1])
print("prefix", sys.prefix)
print("square", n * n)
with open(os.path.join(sys.prefix, ".animica-env", "relocated-to")) as f:
    print("relocated-to", f.read().strip())
print(tabulate.tabulate([[n, n * n]], tablefmt="plain"))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", required=True, type=Path, help="the archive (.tar.gz) animica-env wrote")
    ap.add_argument("--tasks", type=int, default=10)
    ap.add_argument("--local-workers", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="animica-vine-")
    m = vine.Manager(port=0)
    print(f"manager listening on port {m.port}", file=sys.stderr, flush=True)
    # Each worker fetches its inputs from the manager. With peer transfers
    # (TaskVine's default) 7.14 sent the second worker to fetch the
    # environment from the first before the first had all of it; the
    # failed transfer was never retried from the manager, and that worker
    # never ran a task (seen on a loaded machine).
    m.disable_peer_transfers()
    env = m.declare_poncho(str(args.env.resolve()), cache=True)
    script = m.declare_buffer(TASK, cache=True)
    workers: list[tuple[subprocess.Popen[bytes], str]] = []
    for w in range(args.local_workers):
        workdir = os.path.join(scratch.name, f"worker{w}")
        os.makedirs(workdir)
        # Each local worker offers a feature of its own, and task i asks for
        # worker i % N's: TaskVine otherwise keeps short tasks on the worker
        # that already holds the environment, and the other never runs one.
        log = os.path.join(scratch.name, f"worker{w}.log")
        # A transfer port of its own: left to choose ("any"), a worker
        # starting beside another sometimes found none and exited.
        with socket.socket() as probe, open(log, "wb") as f:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            probe.close()
            workers.append((subprocess.Popen(["vine_worker", "--single-shot", "--timeout", "60", "--cores", "1",
                                              "--transfer-port", str(port), "--feature", f"local-worker-{w}",
                                              "-s", workdir, "localhost", str(m.port)],
                                             stdout=f, stderr=subprocess.STDOUT), log))
    results: dict[int, dict[str, Any]] = {}
    deadline = time.time() + args.timeout
    try:
        for i in range(args.tasks):
            t = vine.Task(f"python task.py {i}")
            t.set_cores(1)
            if args.local_workers:
                t.add_feature(f"local-worker-{i % args.local_workers}")
            t.add_input(script, "task.py")
            t.add_environment(env)
            t.set_tag(str(i))
            m.submit(t)
        while not m.empty():
            # Task i waits for worker i % N: one that is gone (or never
            # came) ends the run now, with what it said.
            gone = [(p.returncode, log) for p, log in workers if p.poll() is not None]
            if gone or time.time() > deadline:
                why = f"worker exited with status {gone[0][0]}" if gone else "timed out"
                raise SystemExit(f"{why} with {len(results)} of {args.tasks} tasks done\n"
                                 + "\n".join(f"--- {log}:\n" + Path(log).read_text(errors="replace")[-2000:]
                                             for _, log in workers))
            t = m.wait(5)
            if t:
                results[int(t.tag)] = {"worker": t.addrport, "exit": t.exit_code, "result": t.result,
                                       "output": t.output or ""}
    finally:
        for p, _ in workers:
            p.terminate()
        for p, _ in workers:
            p.wait()
        scratch.cleanup()

    def right(i: int, r: dict[str, Any]) -> bool:
        out = r["output"]
        return r["exit"] == 0 and f"square {i * i}\n" in out and "prefix " in out and f"{i}  {i * i}" in out

    ok = sum(1 for i, r in results.items() if right(i, r))
    # Where each worker's unpacked copy was relocated to: one place per
    # worker (its cache), never a task's sandbox.
    relocated: dict[str, set[str]] = {}
    for r in results.values():
        for line in r["output"].splitlines():
            if line.startswith("relocated-to "):
                relocated.setdefault(r["worker"], set()).add(line.split(" ", 1)[1])
    summary = {"tasks": args.tasks, "ok": ok, "workers": len({r["worker"] for r in results.values()}),
               "relocated_to": {w: sorted(p) for w, p in relocated.items()},
               "outputs": {i: results[i]["output"] for i in sorted(results)},
               "failed": {i: results[i] for i in sorted(results) if not right(i, results[i])}}
    json.dump(summary, sys.stdout, indent=1)
    print()
    once = all(len(p) == 1 and "/task." not in next(iter(p)) for p in relocated.values())
    return 0 if ok == args.tasks and once and len(relocated) == summary["workers"] else 1


if __name__ == "__main__":
    sys.exit(main())
