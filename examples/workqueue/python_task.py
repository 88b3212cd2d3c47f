#!/usr/bin/env python3
"""Work Queue's own PythonTask in an environment animica-env made, exactly
as cctools' documentation has users do it, with animica-env standing in for
cctools' tools (docs/animica-env.md, "cctools compatibility"):

    animica-env install-links ~/bin          # python_package_create, _run, ...
    python_package_create spec.json env.tar.gz
    python3 python_task.py --env env.tar.gz --calls 12 --local-workers 2

Each call is a `work_queue.PythonTask(job, i)` with
`specify_environment("env.tar.gz")`: Work Queue ships the archive and the
`python_package_run` it finds on PATH to the worker (cached) and runs

    ./python_package_run -e env.tar.gz --unpack-to "$WORK_QUEUE_SANDBOX"/env.tar.gz-env \\
        python pytask_wrapper.py function.p args.p out.p

`job` imports tabulate (a conda package) and dill (pip) from the
environment and returns what it saw. A call succeeds when its result is
right and it ran inside the unpacked environment. --local-workers N starts N
work_queue_worker processes here, each with its own unpack cache (as
separate machines have). Prints a JSON summary (results, unpacks per worker)
and exits non-zero unless every call succeeded. Needs python3-workqueue and
python3-dill (Debian), and python_package_run on PATH.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import work_queue as wq

import local_workers


def job(n: int) -> dict[str, object]:
    """What each worker runs: imports only the environment has."""
    import sys

    import dill
    import tabulate

    return {"n": n, "square": n * n, "prefix": sys.prefix, "dill": dill.__version__,
            "table": tabulate.tabulate([[n, n * n]], headers=["n", "n^2"])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", required=True, type=Path, help="the archive python_package_create wrote")
    ap.add_argument("--calls", type=int, default=12)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--local-workers", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=600, help="seconds before giving up")
    args = ap.parse_args()

    q = wq.WorkQueue(port=args.port)
    print(f"manager listening on port {q.port}", file=sys.stderr, flush=True)
    for i in range(args.calls):
        t = wq.PythonTask(job, i)
        t.specify_environment(str(args.env.resolve()))
        t.specify_tag(str(i))
        q.submit(t)

    calls: dict[int, dict[str, Any]] = {}

    def record(t: Any) -> None:
        result = t.output
        calls[int(t.tag)] = {"worker": t.host, "result": result if isinstance(result, dict) else repr(result),
                             "log": t.std_output or ""}

    local_workers.run_all(q, args.calls, args.timeout, args.local_workers, record)

    def right(i: int, r: object) -> bool:
        """The function's result, computed by the environment's Python."""
        return (isinstance(r, dict) and r["n"] == i and r["square"] == i * i and r["dill"] == "0.3.6"
                and f"{i * i}" in r["table"] and r["prefix"] != sys.prefix)

    unpacks: dict[str, int] = {}
    for c in calls.values():
        unpacks[c["worker"]] = unpacks.get(c["worker"], 0) + c["log"].count("animica-env: unpacked")
    ok = sum(1 for i, c in calls.items() if right(i, c["result"]))
    summary = {"calls": args.calls, "ok": ok, "workers": len(unpacks), "unpacks_per_worker": unpacks,
               "results": {i: calls[i]["result"] for i in sorted(calls)},
               "logs": {i: calls[i]["log"] for i in sorted(calls) if not right(i, calls[i]["result"])}}
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0 if ok == args.calls else 1


if __name__ == "__main__":
    sys.exit(main())
