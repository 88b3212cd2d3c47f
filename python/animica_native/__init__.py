"""Fast native hashing, Namespaced Merkle Trees and Reed-Solomon coding.

>>> import animica_native as an
>>> an.hash.sha256(b"").hex()[:16]
'e3b0c44298fc1c14'
"""

from animica_native import hash, nmt, rs
from animica_native._native import (
    AnimicaError,
    BackendUnavailable,
    ComputationFailed,
    InvalidInput,
    __version__,
    build_info,
)

__all__ = [
    "AnimicaError",
    "BackendUnavailable",
    "ComputationFailed",
    "InvalidInput",
    "__version__",
    "build_info",
    "hash",
    "nmt",
    "rs",
]
