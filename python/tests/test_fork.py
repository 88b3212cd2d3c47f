"""After the parent has run parallel work, children made by fork(),
multiprocessing's fork / forkserver / spawn all run every function."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time

import pytest

import animica_native as an

# Python >= 3.12 warns that fork() in a process with threads may deadlock.
# That is exactly the situation under test (our pool threads exist), so the
# warning is expected here and only here.
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


def exercise(seed: int = 0) -> bytes:
    """Touch every parallel path and return a digest of the results."""
    big = bytes([seed % 251]) * (6 << 20)
    out = [
        an.hash.blake3(big),
        an.hash.sha256(big[:100_000]),
        an.hash.keccak256(big[:100_000]),
        b"".join(an.hash.sha256_many([big[i : i + 64] for i in range(0, 1 << 20, 64)])),
    ]
    data = [big[i * 65536 : (i + 1) * 65536] for i in range(32)]
    parity = an.rs.encode(data, 8)
    out.append(an.rs.reconstruct([None] * 8 + data[8:] + list(parity), 32)[0])
    leaves = [big[i * 512 : (i + 1) * 512] for i in range(4096)]
    nss = [(i // 64).to_bytes(8, "big") for i in range(4096)]
    out.append(an.nmt.root(leaves, nss))
    return an.hash.sha256(b"".join(out))


@pytest.fixture(scope="module")
def parent_result() -> bytes:
    return exercise()  # parallel work in the parent first: pools now exist


def _wait(pid: int, timeout: float = 120.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"child {pid} hung after fork (killed after {timeout}s)")


@pytest.mark.skipif(sys.platform == "win32", reason="os.fork is POSIX-only")
def test_os_fork(parent_result: bytes) -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must not hang on the parent's thread pool
        os.close(r)
        try:
            os.write(w, exercise())
        finally:
            os._exit(0)
    os.close(w)
    assert _wait(pid) == 0
    with os.fdopen(r, "rb") as f:
        assert f.read() == parent_result


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_multiprocessing(parent_result: bytes, method: str) -> None:
    if method not in mp.get_all_start_methods():
        pytest.fail(f"start method {method} unavailable on {sys.platform}")
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:
        res = pool.map_async(exercise, [0, 0, 0])
        assert res.get(timeout=180) == [parent_result] * 3
