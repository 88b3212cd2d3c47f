"""The public API as a user meets it: what each module exposes, that every
function and class documents itself, that integer arguments out of range
raise ``InvalidInput`` naming the limit, that no number can abort the
interpreter, and that the package needs nothing beyond itself."""

from __future__ import annotations

import inspect
import pydoc
import subprocess
import sys
import sysconfig
import types
from importlib import metadata
from typing import Any, Callable

import pytest

import animica_native as an

MODULES = [an, an.hash, an.nmt, an.rs]


def _public(mod: types.ModuleType) -> set[str]:
    return {n for n in vars(mod) if not n.startswith("_")}


@pytest.mark.parametrize("mod", MODULES, ids=lambda m: m.__name__)
def test_modules_expose_only_their_api(mod: types.ModuleType) -> None:
    assert _public(mod) == {n for n in mod.__all__ if not n.startswith("_")}, "names outside __all__ leak"


def _api() -> list[tuple[str, Any]]:
    out = []
    for mod in MODULES:
        for name in mod.__all__:
            obj = getattr(mod, name)
            if callable(obj) and not isinstance(obj, types.ModuleType):
                out.append((f"{mod.__name__}.{name}", obj))
    return out


@pytest.mark.parametrize(("name", "obj"), _api(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_public_callable_documents_itself(name: str, obj: Any) -> None:
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        assert doc.strip(), f"{name} has no docstring"
        return
    assert len(doc) > 40, f"{name} has no real docstring: {doc!r}"
    inspect.signature(obj)  # help() can show how to call it
    if inspect.isclass(obj):
        for attr, member in vars(obj).items():
            if attr.startswith("_") or not (callable(member) or isinstance(member, (property, classmethod))):
                continue
            if type(member).__name__ == "getset_descriptor" or isinstance(member, property):
                assert inspect.getdoc(getattr(obj, attr)) or member.__doc__, f"{name}.{attr} has no docstring"
                continue
            assert (inspect.getdoc(getattr(obj, attr)) or "").strip(), f"{name}.{attr} has no docstring"
    else:
        assert "Returns" in doc, f"{name}'s docstring does not say what it returns"
        assert "Raises" in doc, f"{name}'s docstring does not say what it raises"


def test_help_shows_the_documentation() -> None:
    text = pydoc.plain(pydoc.render_doc(an.hash.sha256))
    assert "SHA-256" in text and "Returns" in text
    text = pydoc.plain(pydoc.render_doc(an.nmt.root))
    assert "root(leaves, namespaces, *, namespace_size=8, max_threads=None)" in text


LEAVES, NSS = [b"a", b"b"], [bytes(8), bytes(7) + b"\x01"]
SHARDS = [b"A" * 64, b"B" * 64]

# (call, argument name, values out of range, what the message must name)
INT_ARGS: list[tuple[str, Callable[[Any], Any], str, list[Any], str]] = [
    ("blake3 length", lambda v: an.hash.blake3(b"x", length=v), "length", [-1, 2**62, 2**64, -(2**200)], "0..="),
    ("Blake3.digest", lambda v: an.hash.Blake3(b"x").digest(v), "length", [-1, 2**63, 2**100], "0..="),
    ("Blake3.hexdigest", lambda v: an.hash.Blake3(b"x").hexdigest(v), "length", [-5, 2**62, 2**64], "0..="),
    ("blake3 max_threads", lambda v: an.hash.blake3(b"x", max_threads=v), "max_threads", [0, -1, 2**64], "1..="),
    ("Blake3 max_threads", lambda v: an.hash.Blake3(max_threads=v), "max_threads", [0, -3, 2**70], "1..="),
    ("sha256_many", lambda v: an.hash.sha256_many([b"x"], max_threads=v), "max_threads", [0, -1, 2**64], "1..="),
    ("file", lambda v: an.hash.file(__file__, max_threads=v), "max_threads", [-1, 2**64], "1..="),
    ("nmt.root", lambda v: an.nmt.root(LEAVES, NSS, namespace_size=v), "namespace_size", [0, -1, 65, 2**64], "1..=64"),
    ("nmt.root max_threads", lambda v: an.nmt.root(LEAVES, NSS, max_threads=v), "max_threads", [0, -1], "1..="),
    ("nmt.prove", lambda v: an.nmt.prove(LEAVES, NSS, v), "index", [-1, 2**32, 2**64], "0..=4294967295"),
    ("nmt.prove_range start", lambda v: an.nmt.prove_range(LEAVES, NSS, v, 1), "start", [-1, 2**64], "0..="),
    ("nmt.prove_range end", lambda v: an.nmt.prove_range(LEAVES, NSS, 0, v), "end", [-2, 2**40], "0..="),
    ("nmt.prove_namespace", lambda v: an.nmt.prove_namespace(LEAVES, NSS, bytes(8), namespace_size=v),
     "namespace_size", [-8, 100], "1..=64"),
    ("nmt.verify", lambda v: an.nmt.verify(b"", b"", b"", b"", namespace_size=v), "namespace_size", [-1, 2**64], "1..=64"),
    ("nmt.Proof", lambda v: an.nmt.Proof(v, 1, []), "start", [-1, 2**64], "0..="),
    ("rs.encode", lambda v: an.rs.encode(SHARDS, v), "parity_shards", [-1, 0, 2**64, 70000], "1..=65535"),
    ("rs.encode max_threads", lambda v: an.rs.encode(SHARDS, 2, max_threads=v), "max_threads", [0, -1], "1..="),
    ("rs.reconstruct", lambda v: an.rs.reconstruct([None, b"B" * 64, b"C" * 64], data_shards=v), "data_shards",
     [-2, 0, 2**64], "1..=65535"),
    ("rs.verify", lambda v: an.rs.verify([b"A", b"B", b"C"], data_shards=v), "data_shards", [-1, 2**80], "1..=65535"),
]


@pytest.mark.parametrize(("what", "call", "arg", "values", "limit"), INT_ARGS, ids=[a[0] for a in INT_ARGS])
def test_integers_out_of_range_raise_invalid_input(
    what: str, call: Callable[[Any], Any], arg: str, values: list[Any], limit: str
) -> None:
    for v in values:
        with pytest.raises(an.InvalidInput) as e:
            call(v)
        msg = str(e.value)
        assert arg in msg and limit in msg and str(v) in msg, f"{what}({v}): {msg}"


@pytest.mark.parametrize(("what", "call", "arg", "values", "limit"), INT_ARGS, ids=[a[0] for a in INT_ARGS])
def test_non_integers_stay_type_errors(
    what: str, call: Callable[[Any], Any], arg: str, values: list[Any], limit: str
) -> None:
    with pytest.raises(TypeError):
        call(1.5)


def test_no_number_aborts_the_interpreter() -> None:
    """Each allocation sized by a caller's number is checked: run where an
    abort would only end a child process, and report what each raised."""
    code = """
import animica_native as an
for call in (
    lambda: an.hash.Blake3(b"x").hexdigest(2**62),
    lambda: an.hash.Blake3(b"x").hexdigest(2**61),
    lambda: an.hash.Blake3(b"x").digest(2**62),
    lambda: an.hash.Blake3(b"x").digest(2**61),
    lambda: an.hash.blake3(b"x", length=2**61),
    lambda: an.hash.blake3(b"x", length=2**62 - 1),
):
    try:
        call()
        print("returned")
    except (an.InvalidInput, MemoryError) as e:
        print(type(e).__name__)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-2000:]}"
    assert run.stdout.split() == ["InvalidInput", "MemoryError", "InvalidInput", "MemoryError", "MemoryError", "MemoryError"]


def test_needs_nothing_beyond_itself() -> None:
    """No runtime dependency is declared, and none is used: the package
    imports and works with typing_extensions unavailable (it is for type
    checkers only, which bring their own copy)."""
    requires = metadata.requires("animica-native") or []
    assert requires == [], f"animica-native declares runtime dependencies: {requires}"
    code = """
import sys
sys.modules["typing_extensions"] = None  # any import of it now fails
import animica_native as an
parity = an.rs.encode([b"A" * 8, b"B" * 8], 2)
assert an.rs.reconstruct([None, b"B" * 8, parity[0], None])[0] == b"A" * 8
assert an.nmt.Proof.from_bytes(an.nmt.prove([b"a"], [bytes(8)], 0)).end == 1
print("ok")
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "ok", run.stderr


def test_free_threaded_python_keeps_the_gil_off() -> None:
    """The module declares itself safe without the GIL (gil_used = false):
    importing it on a free-threaded CPython must not turn the GIL back on.
    On a default (GIL) build there is no GIL to keep off: the check that the
    interpreter reports its GIL as enabled still runs."""
    code = "import sys, animica_native; print(sys._is_gil_enabled() if hasattr(sys, '_is_gil_enabled') else True)"
    out = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    assert out == str(not free_threaded), out
