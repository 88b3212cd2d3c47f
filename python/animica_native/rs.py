"""Reed-Solomon erasure coding over GF(2^16) (reed-solomon-simd).

``encode(data_shards, parity_shards)`` returns parity shards as
``ParityShard`` objects (``bytes`` that remember their position), so
``reconstruct(shards)`` can work out the data shard count on its own.
Shards may have any non-empty length; all must have the same length.
"""

from __future__ import annotations

import typing as _typing

from animica_native._native import InvalidInput as _InvalidInput
from animica_native._native import _register_parity_shard
from animica_native._native import encode
from animica_native._native import rs_reconstruct as _reconstruct
from animica_native._native import rs_verify as _verify

if _typing.TYPE_CHECKING:
    from typing import Optional, Sequence

    from typing_extensions import Buffer
    from typing_extensions import disjoint_base as _disjoint_base
else:

    def _disjoint_base(cls):  # type checkers only: nothing to do at run time
        return cls


@_disjoint_base
class ParityShard(bytes):
    """ParityShard(data, *, index, data_shards, parity_shards): a parity
    shard as ``encode`` returns it: ``bytes`` plus its ``index`` among the
    parity shards and the ``data_shards`` / ``parity_shards`` counts of its
    code, so ``reconstruct`` can place it. Pickles as itself; compares and
    hashes as its bytes."""

    # The spec names this attribute `index`; on instances it shadows the
    # `bytes.index()` method (use `bytes(shard).index(x)` for that).
    index: int  # type: ignore[assignment]
    data_shards: int
    parity_shards: int

    def __new__(cls, data: bytes, *, index: int, data_shards: int, parity_shards: int) -> ParityShard:
        self = super().__new__(cls, data)
        self.index = index
        self.data_shards = data_shards
        self.parity_shards = parity_shards
        return self

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (bytes(self), self.index, self.data_shards, self.parity_shards))

    def __repr__(self) -> str:
        return (
            f"ParityShard(index={self.index}, data_shards={self.data_shards}, "
            f"parity_shards={self.parity_shards}, {len(self)} bytes)"
        )


def _rebuild(data: bytes, index: int, data_shards: int, parity_shards: int) -> ParityShard:
    return ParityShard(data, index=index, data_shards=data_shards, parity_shards=parity_shards)


_register_parity_shard(ParityShard)


def _data_count(shards: Sequence[Optional[Buffer]], data_shards: Optional[int]) -> int:
    if data_shards is not None:
        return data_shards
    for pos, s in enumerate(shards):
        if isinstance(s, ParityShard):
            if pos != s.data_shards + s.index:
                raise _InvalidInput(
                    f"ParityShard {s.index} of a {s.data_shards}+{s.parity_shards} code is at "
                    f"position {pos}, expected {s.data_shards + s.index}"
                )
            return s.data_shards
    raise _InvalidInput(
        "cannot tell how many shards are data: pass data_shards=k "
        "(the list holds no ParityShard from encode())"
    )


def reconstruct(
    shards: Sequence[Optional[Buffer]],
    data_shards: Optional[int] = None,
    *,
    max_threads: Optional[int] = None,
) -> list[bytes]:
    """All ``k + m`` shards (data first, then parity) from ``shards``, which
    has ``None`` for each erased shard. ``k`` is ``data_shards``, else read
    from any ``ParityShard`` in the list.

    Returns: the list of all shards; known shards are returned as given.
    Raises: ComputationFailed for more erasures than parity shards;
    InvalidInput for shards of unequal length, no way to tell ``k``, a
    ``ParityShard`` out of place, or counts / ``max_threads`` out of range
    (the message names the limit)."""
    if not isinstance(shards, list):
        shards = list(shards)
    return _reconstruct(shards, _data_count(shards, data_shards), max_threads=max_threads)


def verify(
    shards: Sequence[Optional[Buffer]],
    data_shards: Optional[int] = None,
    *,
    max_threads: Optional[int] = None,
) -> bool:
    """Whether the parity shards match the data shards.

    Returns: ``True`` or ``False``; a missing shard, shards of unequal
    length or a ``data_shards`` the list cannot hold give ``False``.
    Raises: InvalidInput if ``k`` cannot be told, or ``data_shards`` /
    ``max_threads`` is out of range (the message names the limit)."""
    if not isinstance(shards, list):
        shards = list(shards)
    return _verify(shards, _data_count(shards, data_shards), max_threads=max_threads)


__all__ = ["ParityShard", "encode", "reconstruct", "verify"]

del annotations  # the __future__ import's name; the module exposes only __all__
