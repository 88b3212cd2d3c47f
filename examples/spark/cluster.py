#!/usr/bin/env python3
"""Run job.py on a real Apache Spark standalone cluster on loopback with an
animica-env archive as the executors' Python environment.

    python3 cluster.py --env env.tar.gz [--workers 2]

Starts a master and --workers workers (one core each) from pyspark's own
jars with this machine's Java (17+), then

    spark-submit --master spark://127.0.0.1:PORT --archives env.tar.gz#environment \\
        --conf spark.pyspark.python=./environment/bin/python job.py

which is Spark's documented way of shipping a packed conda environment:
Spark unpacks the archive itself into each executor's directory (nothing of
animica-env runs there). Checks every task's result, that it ran on the
archive's interpreter and imported tabulate from it, and that the archive's
console scripts work there (their #! lines name the executor's directory:
the environment relocated itself on its Python's first start), then stops
the cluster.
Prints a JSON summary; exit 1 unless everything held. The driver runs on
this interpreter (pyspark installed; the same Python minor version as the
archive's, as PySpark requires).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyspark

HERE = Path(__file__).resolve().parent
SPARK_HOME = Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the Spark master exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise SystemExit(f"the Spark master did not listen on {port} within {seconds} s:\n{log.read_text()[-3000:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", required=True, type=Path, help="the archive (.tar.gz) animica-env wrote")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    env_archive = args.env.resolve()

    scratch = Path(tempfile.mkdtemp(prefix="animica-spark-"))
    spark_env = dict(os.environ, SPARK_HOME=str(SPARK_HOME), SPARK_LOCAL_IP="127.0.0.1",
                     SPARK_LOG_DIR=str(scratch / "logs"), SPARK_PID_DIR=str(scratch))
    spark_env.pop("PYTHONPATH", None)
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        log = scratch / f"{name}.log"
        p = subprocess.Popen(cmd, env=spark_env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        procs.append(p)
        return p

    started = time.time()
    try:
        master = start("master", [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                  "--port", str(port), "--webui-port", str(free_port())])
        wait_for_port(port, master, scratch / "master.log")
        for w in range(args.workers):
            start(f"worker{w}", [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                                 "--cores", "1", "--memory", "1g", "--work-dir", str(scratch / f"worker{w}"),
                                 "--webui-port", str(free_port()), f"spark://127.0.0.1:{port}"])
        submit = [str(SPARK_HOME / "bin" / "spark-submit"), "--master", f"spark://127.0.0.1:{port}",
                  "--archives", f"{env_archive}#environment",
                  "--conf", "spark.pyspark.python=./environment/bin/python",
                  "--conf", f"spark.pyspark.driver.python={sys.executable}",
                  "--conf", f"spark.executor.cores=1", "--conf", "spark.cores.max=" + str(args.workers),
                  str(HERE / "job.py")]
        out = subprocess.run(submit, env=spark_env, capture_output=True, text=True, timeout=args.timeout)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        print(out.stdout[-3000:], out.stderr[-6000:], sep="\n", file=sys.stderr)
        print(f"cluster.py: the Spark logs and work directories are kept in {scratch}", file=sys.stderr)
        return 1
    reports: list[dict[str, Any]] = json.loads(lines[-1][len("RESULT "):])
    executors = sorted({r["prefix"] for r in reports})
    right = [r for r in reports
             if r["square"] == r["i"] ** 2 and r["executable"].endswith("/environment/bin/python")
             and str(scratch) in r["prefix"] and f"{r['i']}  {r['i'] ** 2}" in r["table"]
             and r["console_script"] and f"{r['prefix']}/bin/python" in r["shebang"]]
    summary = {"tasks": len(reports), "ok": len(right), "executors": len(executors), "prefixes": executors,
               "shebangs": sorted({r["shebang"] for r in reports}),
               "tabulate": sorted({r["tabulate"] for r in reports}), "seconds": round(time.time() - started, 1)}
    json.dump(summary, sys.stdout, indent=1)
    print()
    if len(right) == len(reports) == 8:
        # The workers' copies of the environment: 100 MB a run.
        shutil.rmtree(scratch, ignore_errors=True)
        return 0
    print(f"cluster.py: the Spark logs and work directories are kept in {scratch}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
