"""Every example, including the seed document's code blocks verbatim, runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_examples_run() -> None:
    r = subprocess.run([sys.executable, str(EXAMPLES / "run_all.py")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "examples ran" in r.stdout
