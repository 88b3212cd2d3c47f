"""A PySpark job whose executors run inside an animica-env archive, the way
Spark's "Python Package Management" guide ships packed conda environments:

    spark-submit --archives env.tar.gz#environment \\
        --conf spark.pyspark.python=./environment/bin/python job.py

Spark itself unpacks the archive into each executor's working directory
(no animica-env on the workers); the first start of the archive's Python
there relocates it (animica-env's site-packages hook). Each task imports
tabulate, which only the archive has, runs its console script (which works
only in a relocated environment), and reports the interpreter that ran it. Prints one JSON line:
the tasks' reports.
"""

from __future__ import annotations

import json
import sys

from pyspark.sql import SparkSession


def probe(i: int) -> dict[str, object]:
    import os
    import subprocess
    import sys

    import tabulate  # only the environment has it

    # A console script: its #! line (or, for a long path, the sh trampoline
    # under it) names the prefix it was installed under, so it runs only if
    # the environment was relocated where Spark put it.
    script = os.path.join(sys.prefix, "bin", "tabulate")
    ran = subprocess.run([script, "--help"], capture_output=True, text=True)
    with open(script) as f:
        shebang = f.readline().strip() + " " + f.readline().strip()
    return {"i": i, "square": i * i, "executable": sys.executable, "prefix": sys.prefix,
            "tabulate": tabulate.__version__, "table": tabulate.tabulate([[i, i * i]], tablefmt="plain"),
            "console_script": ran.returncode == 0, "shebang": shebang}


def main() -> int:
    spark = SparkSession.builder.appName("animica-env on Spark").getOrCreate()
    try:
        reports = spark.sparkContext.parallelize(range(8), 4).map(probe).collect()
    finally:
        spark.stop()
    print("RESULT " + json.dumps(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
