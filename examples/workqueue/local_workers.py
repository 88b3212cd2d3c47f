"""What the Work Queue example managers share: optional local workers (each
with its own unpack cache, as separate machines would have) and the loop
that waits for every task."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any


def run_all(q: Any, total: int, timeout: int, local_workers: int, record: Callable[[Any], None]) -> None:
    """Starts `local_workers` work_queue_workers for `q`, passes each finished
    task to `record` until `q` is empty, then stops the workers. Exits (via
    SystemExit) when `timeout` seconds pass first."""
    workers = []
    scratch = tempfile.TemporaryDirectory(prefix="animica-wq-")
    for w in range(local_workers):
        workdir = os.path.join(scratch.name, f"worker{w}")
        os.makedirs(workdir)
        env = dict(os.environ, ANIMICA_ENV_CACHE=os.path.join(scratch.name, f"worker{w}-cache"))
        workers.append(subprocess.Popen(
            ["work_queue_worker", "--single-shot", "--timeout", "60", "-s", workdir, "localhost", str(q.port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    deadline = time.time() + timeout
    done = 0
    try:
        while not q.empty():
            if time.time() > deadline:
                raise SystemExit(f"timed out with {done} of {total} tasks done")
            t = q.wait(5)
            if t is not None:
                record(t)
                done += 1
    finally:
        for p in workers:
            p.terminate()
        for p in workers:
            p.wait()
        scratch.cleanup()
