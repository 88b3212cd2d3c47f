#!/usr/bin/env python3
"""Run a Python task many times on Work Queue workers, inside an environment
made by animica-env (docs/animica-env.md, "Work Queue").

Each task ships its input files cached, so each worker receives them once:
the animica-env binary, the environment archive, the script (task.py beside
this file unless --script names another) and any --input files; its command is

    ./animica-env run env.tar.zst -- python SCRIPT N

which unpacks the environment once per worker (the first task there; the
others wait for it, then reuse it) and runs the script inside it.

    python3 manager.py --animica-env target/release/animica-env --env job.tar.zst \\
        --tasks 24 --local-workers 2

A task succeeds when it exits 0 and its output holds every --expect text
(default: "prefix ", which task.py prints with the environment's prefix).

--local-workers N starts N work_queue_worker processes on this machine
(each with its own unpack cache, as separate machines would have); without
it, start workers yourself: work_queue_worker HOST PORT. Prints a JSON
summary on stdout and exits non-zero unless every task succeeded.
Needs Work Queue's Python module (Debian: python3-workqueue) and
work_queue_worker (coop-computing-tools).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import work_queue as wq

import local_workers

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--animica-env", required=True, type=Path)
    ap.add_argument("--env", required=True, type=Path, help="the archive animica-env create wrote")
    ap.add_argument("--script", type=Path, default=HERE / "task.py", help="the Python script each task runs")
    ap.add_argument("--input", type=Path, action="append", default=[], help="another file each task gets beside it")
    ap.add_argument("--expect", action="append", help="text every task's output must hold")
    ap.add_argument("--tasks", type=int, default=24)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--local-workers", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=600, help="seconds before giving up")
    args = ap.parse_args()

    q = wq.WorkQueue(port=args.port)
    print(f"manager listening on port {q.port}", file=sys.stderr, flush=True)
    expect = args.expect or ["prefix "]
    inputs = [(args.animica_env.resolve(), "animica-env"), (args.env.resolve(), "env.tar.zst")]
    inputs += [(f.resolve(), f.name) for f in [args.script, *args.input]]
    for i in range(args.tasks):
        t = wq.Task(f"chmod +x animica-env && ./animica-env run env.tar.zst -- python {args.script.name} {i} 2>&1")
        for local, remote in inputs:
            t.specify_input_file(str(local), remote, cache=True)
        t.specify_tag(str(i))
        q.submit(t)

    results: dict[int, dict[str, Any]] = {}

    def record(t: Any) -> None:
        results[int(t.tag)] = {"worker": t.host, "exit": t.return_status, "result": t.result, "output": t.output or ""}

    local_workers.run_all(q, args.tasks, args.timeout, args.local_workers, record)

    unpacks: dict[str, int] = {}
    for r in results.values():
        unpacks[r["worker"]] = unpacks.get(r["worker"], 0) + r["output"].count("animica-env: unpacked")
    ok = sum(1 for r in results.values() if r["exit"] == 0 and all(e in r["output"] for e in expect))
    summary = {"tasks": args.tasks, "ok": ok, "workers": len(unpacks), "unpacks_per_worker": unpacks,
               "outputs": {i: results[i]["output"] for i in sorted(results)}}
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0 if ok == args.tasks else 1


if __name__ == "__main__":
    sys.exit(main())
