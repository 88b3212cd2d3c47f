"""A deliberately simple pure-Python NMT, the oracle for the native one.

Written from the spec (docs/nmt.md), recursive and unoptimised: RFC 6962
shape, Celestia's namespaced hashing with "ignore max namespace", proofs
built by walking the perfect tree over [0, 2^ceil(log2 n)) as
celestiaorg/nmt does, and its verification rules.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Optional, Sequence


def _sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def split(n: int) -> int:
    """Largest power of two strictly below n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Hasher:
    def __init__(self, n: int) -> None:
        self.n = n
        self.max_ns = b"\xff" * n

    def leaf(self, ns: bytes, data: bytes) -> bytes:
        return ns + ns + _sha(b"\x00" + ns + data)

    def valid(self, node: Optional[bytes]) -> bool:
        n = self.n
        return node is not None and len(node) == 2 * n + 32 and node[:n] <= node[n : 2 * n]

    def node(self, left: Optional[bytes], right: Optional[bytes]) -> Optional[bytes]:
        n = self.n
        if left is None or right is None or not self.valid(left) or not self.valid(right):
            return None
        if left[n : 2 * n] > right[:n]:
            return None
        hi = left[n : 2 * n] if right[:n] == self.max_ns else right[n : 2 * n]
        return left[:n] + hi + _sha(b"\x01" + left + right)

    def empty_root(self) -> bytes:
        return bytes(2 * self.n) + _sha(b"")


def _check(leaves: Sequence[bytes], namespaces: Sequence[bytes], n: int) -> None:
    assert len(leaves) == len(namespaces)
    assert all(len(x) == n for x in namespaces)
    assert all(a <= b for a, b in zip(namespaces, namespaces[1:]))


def _subtree_root(h: Hasher, hashes: Sequence[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = split(len(hashes))
    r = h.node(_subtree_root(h, hashes[:k]), _subtree_root(h, hashes[k:]))
    assert r is not None
    return r


def root(leaves: Sequence[bytes], namespaces: Sequence[bytes], n: int = 8) -> bytes:
    _check(leaves, namespaces, n)
    h = Hasher(n)
    if not leaves:
        return h.empty_root()
    return _subtree_root(h, [h.leaf(ns, d) for ns, d in zip(namespaces, leaves)])


def encode(n: int, start: int, end: int, nodes: Sequence[bytes], leaf_hash: Optional[bytes] = None) -> bytes:
    flags = 1 | (2 if leaf_hash is not None else 0)
    return struct.pack(">BBBIII", 1, flags, n, start, end, len(nodes)) + b"".join(nodes) + (leaf_hash or b"")


def decode(proof: bytes) -> Optional[tuple[int, int, int, list[bytes], Optional[bytes]]]:
    if len(proof) < 15:
        return None
    version, flags, n, start, end, count = struct.unpack(">BBBIII", proof[:15])
    if version != 1 or flags not in (1, 3) or not 1 <= n <= 64 or start > end:
        return None
    size = 2 * n + 32
    body = proof[15:]
    if len(body) != count * size + (size if flags & 2 else 0):
        return None
    nodes = [body[i * size : (i + 1) * size] for i in range(count)]
    leaf_hash = body[count * size :] if flags & 2 else None
    return n, start, end, nodes, leaf_hash


def _range_nodes(hashes: Sequence[bytes], h: Hasher, start: int, end: int) -> list[bytes]:
    size = len(hashes)
    out: list[bytes] = []

    def walk(lo: int, hi: int, include: bool) -> Optional[bytes]:
        if lo >= size:
            return None
        if hi - lo == 1:
            if include and not start <= lo < end:
                out.append(hashes[lo])
            return hashes[lo]
        inner = include and not (hi <= start or lo >= end)
        k = (hi - lo) // 2
        left, right = walk(lo, lo + k, inner), walk(lo + k, hi, inner)
        node = left if right is None else h.node(left, right)
        assert node is not None
        if include and not inner:
            out.append(node)
        return node

    full = 1
    while full < size:
        full *= 2
    walk(0, full, True)
    return out


def prove_range(leaves: Sequence[bytes], namespaces: Sequence[bytes], start: int, end: int, n: int = 8) -> bytes:
    _check(leaves, namespaces, n)
    assert 0 <= start < end <= len(leaves)
    h = Hasher(n)
    hashes = [h.leaf(ns, d) for ns, d in zip(namespaces, leaves)]
    return encode(n, start, end, _range_nodes(hashes, h, start, end))


def prove_namespace(leaves: Sequence[bytes], namespaces: Sequence[bytes], ns: bytes, n: int = 8) -> bytes:
    _check(leaves, namespaces, n)
    h = Hasher(n)
    if not leaves:
        return encode(n, 0, 0, [])
    # celestiaorg/nmt (up to v0.15) keeps the min and max of the pushed
    # leaves' namespaces, not the root's (whose max skips 0xFF...).
    if ns < namespaces[0] or ns > namespaces[-1]:
        return encode(n, 0, 0, [])
    hashes = [h.leaf(x, d) for x, d in zip(namespaces, leaves)]
    idx = [i for i, x in enumerate(namespaces) if x == ns]
    if idx:
        return encode(n, idx[0], idx[-1] + 1, _range_nodes(hashes, h, idx[0], idx[-1] + 1))
    i = next(i for i, x in enumerate(namespaces) if x > ns)
    return encode(n, i, i + 1, _range_nodes(hashes, h, i, i + 1), hashes[i])


def _compute_root(h: Hasher, start: int, end: int, leaf_hashes: list[bytes], nodes: list[bytes]) -> Optional[bytes]:
    leaves, rest = list(leaf_hashes), list(nodes)

    def pop(xs: list[bytes]) -> Optional[bytes]:
        return xs.pop(0) if xs else None

    def walk(lo: int, hi: int) -> tuple[bool, Optional[bytes]]:
        if hi - lo == 1:
            return True, pop(leaves) if start <= lo < end else pop(rest)
        if hi <= start or lo >= end:
            return True, pop(rest)
        k = split(hi - lo)
        ok_l, left = walk(lo, lo + k)
        ok_r, right = walk(lo + k, hi)
        if not (ok_l and ok_r):
            return False, None
        if right is None:
            return True, left
        node = h.node(left, right)
        return node is not None, node

    full = 1
    while full < end:
        full *= 2
    ok, r = walk(0, full)
    if not ok or r is None:
        return None
    for node in rest:
        r = h.node(r, node)
        if r is None:
            return None
    return r


def verify_range(proof: bytes, leaves: Sequence[bytes], ns: bytes, root_: bytes) -> bool:
    d = decode(proof)
    if d is None:
        return False
    n, start, end, nodes, leaf_hash = d
    h = Hasher(n)
    if leaf_hash is not None or len(ns) != n:
        return False
    if start == end:
        return not nodes and not leaves and h.valid(root_)
    if len(leaves) != end - start or not h.valid(root_) or not all(h.valid(x) for x in nodes):
        return False
    got = _compute_root(h, start, end, [h.leaf(ns, x) for x in leaves], nodes)
    return got == root_


def verify_namespace(proof: bytes, leaves: Sequence[bytes], ns: bytes, root_: bytes) -> bool:
    d = decode(proof)
    if d is None:
        return False
    n, start, end, nodes, leaf_hash = d
    h = Hasher(n)
    if len(ns) != n or not h.valid(root_):
        return False
    if start == end:
        return not nodes and leaf_hash is None and not leaves and (
            ns < root_[:n] or ns > root_[n : 2 * n] or root_ == h.empty_root()
        )
    if leaf_hash is not None:
        if leaves or end - start != 1 or not h.valid(leaf_hash) or leaf_hash[:n] <= ns:
            return False
        hashes = [leaf_hash]
    else:
        if len(leaves) != end - start:
            return False
        hashes = [h.leaf(ns, x) for x in leaves]
    if not all(h.valid(x) for x in nodes):
        return False
    left = bin(start).count("1")
    if len(nodes) < left:
        return False
    for i, node in enumerate(nodes):
        if i < left and not node[n : 2 * n] < ns:
            return False
        if i >= left and not node[:n] > ns:
            return False
    return _compute_root(h, start, end, hashes, nodes) == root_
