"""Celestia's Namespaced Merkle Tree (SHA-256).

Each leaf has a namespace of ``namespace_size`` bytes (default 8,
big-endian); namespaces must be non-decreasing. Roots and nodes are
``2 * namespace_size + 32`` bytes. Proofs are ``bytes`` in the stable wire
format v1 (see docs/nmt.md); ``Proof`` parses and builds them and converts
to and from celestiaorg/nmt's JSON. ``verify*`` return ``False`` for any
malformed or mismatched proof and never raise on hostile bytes.
"""

from __future__ import annotations

import base64 as _base64
import json as _json
import typing as _typing

from animica_native._native import InvalidInput as _InvalidInput
from animica_native._native import nmt_proof_decode as _decode
from animica_native._native import nmt_proof_encode as _encode
from animica_native._native import (
    prove,
    prove_namespace,
    prove_range,
    root,
    verify,
    verify_many,
    verify_namespace,
    verify_range,
)

if _typing.TYPE_CHECKING:
    from typing import Any, Optional, Sequence

DEFAULT_NAMESPACE_SIZE = 8
MAX_NAMESPACE_SIZE = 64


class Proof:
    """Proof(start, end, nodes, leaf_hash=None, *, namespace_size=8): a
    decoded NMT proof: the range ``[start, end)``, the sibling ``nodes`` in
    celestiaorg/nmt's order, and ``leaf_hash`` for absence proofs.

    Raises: InvalidInput if the parts do not form a valid proof (nodes of
    the wrong width, a range out of order, integers out of range)."""

    __slots__ = ("end", "leaf_hash", "namespace_size", "nodes", "start")

    def __init__(
        self,
        start: int,
        end: int,
        nodes: Sequence[bytes],
        leaf_hash: Optional[bytes] = None,
        *,
        namespace_size: int = DEFAULT_NAMESPACE_SIZE,
    ) -> None:
        self.start = start
        self.end = end
        self.nodes = [bytes(n) for n in nodes]
        self.leaf_hash = None if leaf_hash is None else bytes(leaf_hash)
        self.namespace_size = namespace_size
        self.to_bytes()  # validate now rather than at first use

    @classmethod
    def from_bytes(cls, data: bytes) -> Proof:
        """Parses wire format v1.

        Returns: the ``Proof``.
        Raises: InvalidInput if ``data`` is malformed; TypeError if it is
        not bytes-like."""
        n, start, end, nodes, leaf_hash = _decode(data)
        return cls(start, end, nodes, leaf_hash, namespace_size=n)

    def to_bytes(self) -> bytes:
        """Serializes to wire format v1.

        Returns: the proof as ``bytes``."""
        return _encode(self.namespace_size, self.start, self.end, self.nodes, self.leaf_hash)

    @property
    def is_absence(self) -> bool:
        """Whether this proves that a namespace is absent (``leaf_hash`` set)."""
        return self.leaf_hash is not None

    def to_json(self) -> str:
        """celestiaorg/nmt's JSON (``json.Marshal`` of its Proof): base64
        nodes, zero-valued fields omitted, no spaces.

        Returns: the JSON text (``str``)."""
        obj: dict[str, Any] = {}
        if self.start:
            obj["start"] = self.start
        if self.end:
            obj["end"] = self.end
        if self.nodes:
            obj["nodes"] = [_base64.b64encode(n).decode() for n in self.nodes]
        if self.leaf_hash is not None:
            obj["leaf_hash"] = _base64.b64encode(self.leaf_hash).decode()
        obj["is_max_namespace_ignored"] = True
        return _json.dumps(obj, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, *, namespace_size: int = DEFAULT_NAMESPACE_SIZE) -> Proof:
        """Parses celestiaorg/nmt's JSON. The JSON does not carry the
        namespace width, so pass ``namespace_size`` if it is not 8.

        Returns: the ``Proof``.
        Raises: InvalidInput for malformed JSON or an invalid proof."""
        try:
            obj = _json.loads(text)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
            if obj.get("is_max_namespace_ignored") is not True:
                raise ValueError("only proofs with is_max_namespace_ignored=true are supported")
            nodes = [_base64.b64decode(n, validate=True) for n in obj.get("nodes") or []]
            leaf = obj.get("leaf_hash")
            leaf_hash = _base64.b64decode(leaf, validate=True) if leaf else None
            start, end = int(obj.get("start", 0)), int(obj.get("end", 0))
        except (ValueError, TypeError) as e:
            raise _InvalidInput(f"malformed proof JSON: {e}") from None
        return cls(start, end, nodes, leaf_hash, namespace_size=namespace_size)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Proof) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def __repr__(self) -> str:
        kind = "absence " if self.is_absence else ""
        return (
            f"<animica_native.nmt.Proof {kind}[{self.start}, {self.end}) "
            f"{len(self.nodes)} nodes, namespace_size={self.namespace_size}>"
        )


__all__ = [
    "DEFAULT_NAMESPACE_SIZE",
    "MAX_NAMESPACE_SIZE",
    "Proof",
    "prove",
    "prove_namespace",
    "prove_range",
    "root",
    "verify",
    "verify_many",
    "verify_namespace",
    "verify_range",
]

del annotations  # the __future__ import's name; the module exposes only __all__
