from __future__ import annotations

import gc
import json
import sys
from pathlib import Path
from typing import Any, Callable, TypeVar

import pytest

T = TypeVar("T")

VECTORS = Path(__file__).resolve().parents[2] / "testdata" / "vectors"


def load(name: str) -> Any:
    path = VECTORS / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make vectors` from the repository root")
    return json.loads(path.read_text())


def blake3_input(n: int) -> bytes:
    """The input pattern of BLAKE3's official test vectors."""
    return bytes(i % 251 for i in range(n))


# Measured: on CPython 3.11 the collector can run inside a call, at an
# allocation; 3.9 and 3.10 collect elsewhere, and from 3.12 the collector
# runs only between bytecodes, never inside a call.
FINALIZERS_RUN_INSIDE_CALLS = sys.version_info[:2] == (3, 11)


def call_with_finalizer(call: Callable[[], T], change: Callable[[], None], extra: int) -> tuple[T, str]:
    """Runs `call` with the garbage collector set to run a finalizer that
    calls `change` a few new containers after `extra` of them are made:
    where it lands depends on what the caller and the call allocate, so
    tests try several `extra` and require one run inside the call (3.11).
    Returns the call's result and when the finalizer ran: "before" the
    call, "during" it, or "after" (or never).
    A call that reads its input before an allocation that runs `change`,
    then uses what it read, reads freed memory (checked: it crashes)."""
    ran: list[int] = []

    class Flipper:
        __slots__ = ("me",)  # one container: no instance dict

        def __init__(self) -> None:
            self.me = self  # a cycle: freed only by the collector

        def __del__(self) -> None:
            ran.append(1)
            change()

    # With nothing pending (frozen), no list on the free list (drained) and
    # a threshold of 1, the collector runs at the second new container
    # after the Flipper.
    gc.collect()  # an earlier Flipper, whose finalizer would run here
    keep: list[list[None]] = []
    drain: list[list[None]] = [[] for _ in range(100)]
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(1)
    try:
        Flipper()
        for _ in range(extra):
            keep.append([])
        before = len(ran)
        got = call()
        after = len(ran)
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
    del drain
    gc.collect()  # the Flipper, if its finalizer has not run: no later call sees it
    # From 3.12 a finalizer run after `before` ran between bytecodes, after the call.
    when = "before" if before else "during" if after and FINALIZERS_RUN_INSIDE_CALLS else "after"
    return got, when
