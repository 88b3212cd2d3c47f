from __future__ import annotations

import itertools
import os
import pickle
from typing import Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import animica_native as an


def shards(k: int, size: int) -> list[bytes]:
    return [os.urandom(size) for _ in range(k)]


def test_parity_shard_type() -> None:
    data = shards(4, 1024)
    parity = an.rs.encode(data, 2)
    for i, p in enumerate(parity):
        assert isinstance(p, an.rs.ParityShard) and isinstance(p, bytes)
        assert (p.index, p.data_shards, p.parity_shards) == (i, 4, 2)
        assert len(p) == 1024
        assert hash(p) == hash(bytes(p)) and p == bytes(p) and bytes(p) in {p}
        q = pickle.loads(pickle.dumps(p))
        assert q == p and q.index == i and isinstance(q, an.rs.ParityShard)


@pytest.mark.parametrize("size", [1, 2, 63, 64, 65, 1000, 1001, 4096])
def test_every_erasure_pattern(size: int) -> None:
    k, m = 4, 3
    data = shards(k, size)
    full = data + list(an.rs.encode(data, m))
    for lost in range(m + 1):
        for pattern in itertools.combinations(range(k + m), lost):
            given_: list[Optional[bytes]] = [None if i in pattern else s for i, s in enumerate(full)]
            got = an.rs.reconstruct(given_, k)
            assert got == full, pattern
    assert an.rs.verify(full, k)


@given(
    st.integers(1, 12),
    st.integers(1, 6),
    st.integers(1, 300),
    st.data(),
)
@settings(max_examples=120, deadline=None)
def test_round_trip_random(k: int, m: int, size: int, data: st.DataObject) -> None:
    d = [data.draw(st.binary(min_size=size, max_size=size)) for _ in range(k)]
    parity = an.rs.encode(d, m)
    full = d + list(parity)
    lost = data.draw(st.sets(st.integers(0, k + m - 1), max_size=m))
    got = an.rs.reconstruct([None if i in lost else s for i, s in enumerate(full)], k)
    assert got == full


def test_known_shards_are_returned_as_given() -> None:
    data = shards(3, 100)
    parity = an.rs.encode(data, 2)
    given_ = [data[0], None, data[2], parity[0], None]
    got = an.rs.reconstruct(given_)
    assert got[0] is data[0] and got[3] is parity[0]


def test_errors() -> None:
    data = shards(4, 64)
    parity = an.rs.encode(data, 2)
    with pytest.raises(an.ComputationFailed, match="3 shards are missing but only 2 parity"):
        an.rs.reconstruct([None, None, None, data[3], parity[0], parity[1]])
    with pytest.raises(an.InvalidInput, match="shard 1 has 63 bytes, expected 64"):
        an.rs.encode([data[0], data[1][:63]], 1)
    with pytest.raises(an.InvalidInput, match="shard 0 is empty"):
        an.rs.encode([b"", b""], 1)
    with pytest.raises(an.InvalidInput, match="parity_shards 0 is out of range 1..=65535"):
        an.rs.encode(data, 0)
    with pytest.raises(an.InvalidInput, match="not supported"):
        an.rs.encode([], 2)
    with pytest.raises(an.InvalidInput, match="up to 32768"):
        an.rs.encode([b"ab"] * 40000, 40000)
    with pytest.raises(an.InvalidInput, match="odd shard length needs data \\+ parity <= 256"):
        an.rs.encode([b"abc"] * 200, 100)
    assert len(an.rs.encode([b"abcd"] * 200, 100)) == 100  # even lengths go further
    with pytest.raises(an.InvalidInput, match="pass data_shards"):
        an.rs.reconstruct([data[0], None, data[2], data[3], bytes(parity[0]), bytes(parity[1])])
    with pytest.raises(an.InvalidInput, match="ParityShard 1 of a 4\\+2 code is at position 4, expected 5"):
        an.rs.reconstruct([data[0], None, data[2], data[3], parity[1], parity[0]])
    with pytest.raises(RuntimeError):  # seed compatibility
        an.rs.reconstruct([None] * 6)
    with pytest.raises(TypeError):
        an.rs.encode([1, 2], 1)  # type: ignore[list-item]
    with pytest.raises(an.InvalidInput, match="max_threads"):
        an.rs.encode(data, 2, max_threads=0)


def test_verify() -> None:
    data = shards(5, 333)
    parity = an.rs.encode(data, 3)
    full = data + list(parity)
    assert an.rs.verify(full)
    bad = list(full)
    bad[6] = bytes([bad[6][0] ^ 1]) + bad[6][1:]
    assert not an.rs.verify(bad, 5)
    assert not an.rs.verify(full[:-1] + [None])
    assert not an.rs.verify(full[:-1] + [b"short"], 5)


def test_serial_equals_parallel() -> None:
    data = shards(32, 64 * 1024 + 6)
    one = an.rs.encode(data, 32, max_threads=1)
    assert an.rs.encode(data, 32) == one
    full = data + one
    lost = [None if i % 3 == 0 else s for i, s in enumerate(full)]
    assert an.rs.reconstruct(lost, max_threads=1) == an.rs.reconstruct(lost) == full
