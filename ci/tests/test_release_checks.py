"""The release checks catch what they exist to catch.

Each test copies the files the checks read into a temporary tree, breaks one
consumer of the matrix (or one version), and runs the real script there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COPIED = [
    "ci", "nix", "docs/wheels.md", "docs/python-api.md", ".github/workflows/wheels.yml",
    "python/pyproject.toml", "crates/animica-env/pyproject.toml", "Cargo.toml", "Cargo.lock",
    "crates/animica-core/Cargo.toml", "crates/animica-py/Cargo.toml", "crates/animica-env/Cargo.toml", "fuzz/Cargo.toml",
    "flake.nix", "flake.lock", "recipe",
]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for rel in COPIED:
        src, dst = ROOT / rel, tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "tests"))
        else:
            shutil.copy(src, dst)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def run(tree: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(tree / "ci" / script), *args], cwd=tree,
                          capture_output=True, text=True)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_matrix_check_passes_on_the_real_tree(tree: Path) -> None:
    out = run(tree, "matrix.py", "check")
    assert out.returncode == 0, out.stderr
    assert "8 targets, 72 cibuildwheel builds" in out.stdout


def test_python_version_change_without_consumers_fails(tree: Path) -> None:
    # Dropping one (adding a newer one than the pinned cibuildwheel knows
    # would also, rightly, fail its check).
    edit(tree / "ci" / "wheel-matrix.toml", 'python = ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]',
         'python = ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14"]')
    edit(tree / "ci" / "wheel-matrix.toml", 'free-threaded = ["3.14", "3.15"]', 'free-threaded = ["3.14"]')
    err = run(tree, "matrix.py", "check").stderr
    assert "docs/wheels.md: matrix table is stale" in err
    assert "Python classifiers" in err
    # The nix view follows the file by itself, cibuildwheel through cibw-env:
    # both still agree, which is the point of reading one file.
    assert "nix/matrix.nix" not in err and "cibuildwheel for" not in err


def test_cibuildwheel_config_selecting_builds_itself_fails(tree: Path) -> None:
    edit(tree / "ci" / "cibuildwheel.toml", "[tool.cibuildwheel]\n", '[tool.cibuildwheel]\nskip = "cp39-*"\n')
    err = run(tree, "matrix.py", "check").stderr
    assert "sets 'skip'" in err
    assert "cibuildwheel for manylinux2014-x86_64 would build ['cp310-manylinux_x86_64'" in err


def test_nix_view_diverging_fails(tree: Path) -> None:
    edit(tree / "nix" / "matrix.nix", 'name = "wheel-${t.name}";', 'name = "whl-${t.name}";')
    assert "nix/matrix.nix evaluates to" in run(tree, "matrix.py", "check").stderr


def test_workflow_with_its_own_list_fails(tree: Path) -> None:
    edit(tree / ".github" / "workflows" / "wheels.yml", "python ci/matrix.py github", "echo cp39-manylinux_x86_64")
    err = run(tree, "matrix.py", "check").stderr
    assert "does not use `ci/matrix.py github`" in err and "names build identifiers itself" in err


def test_versions_check(tree: Path) -> None:
    assert run(tree, "check_release.py").returncode == 0
    edit(tree / "crates" / "animica-env" / "pyproject.toml", 'dynamic = ["version"]', 'version = "0.2.0"')
    edit(tree / "docs" / "python-api.md", "'version': '0.1.0'", "'version': '0.0.9'")
    err = run(tree, "check_release.py").stderr
    assert "crates/animica-env/pyproject.toml: version 0.2.0 != 0.1.0" in err
    assert "docs/python-api.md: shows version 0.0.9" in err


def test_versions_check_reads_the_lock(tree: Path) -> None:
    edit(tree / "Cargo.lock", 'name = "animica-core"\nversion = "0.1.0"', 'name = "animica-core"\nversion = "0.1.1"')
    assert "Cargo.lock: animica-core 0.1.1 != 0.1.0" in run(tree, "check_release.py").stderr


def test_versions_check_reads_the_conda_recipe(tree: Path) -> None:
    edit(tree / "recipe" / "recipe.yaml", 'version: "0.1.0"', 'version: "0.1.2"')
    assert "recipe/recipe.yaml: context version 0.1.2 != 0.1.0" in run(tree, "check_release.py").stderr


def test_artifact_metadata_is_checked(tree: Path, tmp_path: Path) -> None:
    whl = tmp_path / "animica_native-0.1.0-cp39-cp39-manylinux_2_28_x86_64.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("animica_native-0.1.0.dist-info/METADATA",
                   "Metadata-Version: 2.4\nName: animica-native\nVersion: 0.1.0\n"
                   "License-File: LICENSE-MIT\n\nshort\n")
    err = run(tree, "check_release.py", str(whl)).stderr
    assert "License-Expression is None" in err
    assert "no License-File: THIRD_PARTY_LICENSES.txt" in err
    assert "License-File LICENSE-MIT is not in the archive" in err
    assert "Project-URLs incomplete" in err and "no Markdown long description" in err


def test_nix_check_passes_then_catches_a_broken_lock_and_syntax(tree: Path) -> None:
    subprocess.run(["git", "add", "-A"], cwd=tree, check=True)
    out = run(tree, "check_nix.py")
    assert out.returncode == 0, out.stderr
    edit(tree / "flake.lock", '"rev": "2c71e194474d13de031d729b729c968ddbe3507f"', '"rev": "main"')
    edit(tree / "flake.nix", 'inputs.nixpkgs.follows = "nixpkgs";', "")
    edit(tree / "nix" / "packages.nix", "in\n{\n  packages =", "in\n{{\n  packages =")
    err = run(tree, "check_nix.py").stderr
    assert "flake.lock crane: rev is not a commit id" in err
    assert "flake.lock rust-overlay: inputs {'nixpkgs': ['nixpkgs']} != flake.nix follows {}" in err
    assert "nix/packages.nix does not parse" in err


def test_conda_recipe_renders_then_catches_a_missing_toolchain_and_a_syntax_error(tree: Path) -> None:
    ok = run(tree, "conda.py", "check")
    assert ok.returncode == 0 and "animica-native (py3.13)" in ok.stdout, ok.stderr
    recipe = tree / "recipe" / "recipe.yaml"
    text = recipe.read_text()
    # animica-env's build requirements lose stdlib("c").
    at = text.index("name: animica-env")
    recipe.write_text(text[:at] + text[at:].replace('        - ${{ stdlib("c") }}\n', "", 1))
    assert "animica-env: build requirements" in run(tree, "conda.py", "check").stderr
    edit(recipe, "name: animica-env", "name: ${{ animica-env")
    assert "does not render" in run(tree, "conda.py", "check").stderr


def test_free_threaded_test_requirements_pin_what_the_others_pin() -> None:
    """requirements/wheel-test-ft.txt is wheel-test.txt without leopard for the
    free-threaded interpreters: every line of it must be a line of wheel-test.txt."""
    def lines(name: str) -> set[str]:
        text = (ROOT / "requirements" / name).read_text()
        return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}

    ft, full = lines("wheel-test-ft.txt"), lines("wheel-test.txt")
    assert ft <= full, ft - full
    assert not any(line.startswith("reed-solomon-leopard") for line in ft)
    assert {line.split("=")[0] for line in ft} == {"pytest", "hypothesis", "numpy"}
