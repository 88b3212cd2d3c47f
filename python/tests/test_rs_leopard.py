"""Parity against reed-solomon-leopard, which binds the same codec. Apart
from test_rs.py because only PyPI has it: the conda recipe's test runs every
other file (recipe/recipe.yaml); make test and the wheel tests run this too."""

from __future__ import annotations

import os
import sysconfig

import pytest

import animica_native as an

if sysconfig.get_config_var("Py_GIL_DISABLED"):
    # Only here may it be missing: nothing builds it for free-threaded CPython.
    reed_solomon_leopard = pytest.importorskip(
        "reed_solomon_leopard",
        reason="reed-solomon-leopard (PyO3 0.20) cannot be built for free-threaded CPython",
    )
else:
    import reed_solomon_leopard  # type: ignore[import-untyped,no-redef]  # ships no stubs


@pytest.mark.parametrize("k,m,size", [(4, 2, 64), (10, 4, 1000), (32, 32, 65536), (3, 5, 6)])
def test_identical_to_reed_solomon_leopard(k: int, m: int, size: int) -> None:
    """Even lengths must agree byte for byte."""
    data = [os.urandom(size) for _ in range(k)]
    assert an.rs.encode(data, m) == reed_solomon_leopard.encode(data, m)
