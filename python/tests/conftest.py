from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[2] / "testdata" / "vectors"


def load(name: str) -> Any:
    path = VECTORS / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make vectors` from the repository root")
    return json.loads(path.read_text())


def blake3_input(n: int) -> bytes:
    """The input pattern of BLAKE3's official test vectors."""
    return bytes(i % 251 for i in range(n))
