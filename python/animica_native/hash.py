"""BLAKE3, SHA-256 and Ethereum Keccak-256.

One-shot functions return 32-byte ``bytes``; ``blake3`` also takes
``length=`` (XOF), ``key=`` (keyed mode) and ``derive_key_context=``.
``Blake3``, ``Sha256`` and ``Keccak256`` follow the hashlib protocol, so
they work with ``hashlib.file_digest`` and ``hmac.new``. ``*_many`` hash a
sequence of buffers in parallel, in input order. ``file`` hashes a file by
path with memory mapping.
"""

from animica_native._native import (
    Blake3,
    Keccak256,
    Sha256,
    blake3,
    blake3_many,
    file,
    keccak256,
    keccak256_many,
    sha256,
    sha256_many,
)

__all__ = [
    "Blake3",
    "Keccak256",
    "Sha256",
    "blake3",
    "blake3_many",
    "file",
    "keccak256",
    "keccak256_many",
    "sha256",
    "sha256_many",
]
