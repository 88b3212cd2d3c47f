#!/usr/bin/env python3
"""Release hygiene: one version everywhere, and complete metadata in artifacts.

    ci/check_release.py [ARTIFACT...]

The version is [workspace.package] version in Cargo.toml. Checked against it:
each crate's Cargo.toml (must inherit it), the workspace's own path
dependencies, Cargo.lock, both pyproject.toml files (version must be dynamic,
i.e. taken from Cargo by maturin, or equal), the conda recipe's context
version (recipe/recipe.yaml), docs that show it, a vX.Y.Z git
tag on HEAD if there is one, and the names and METADATA of any wheels/sdists
given as arguments. Each artifact's metadata must also carry the license
expression, every declared license file (inside the archive), project URLs,
classifiers and the README as a Markdown long description.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
Json = dict[str, Any]  # a parsed TOML/JSON table
PYPROJECTS = [ROOT / "python" / "pyproject.toml", ROOT / "crates" / "animica-env" / "pyproject.toml"]
# Docs that print the version in an example.
DOCS = [ROOT / "docs" / "python-api.md"]
RECIPE = ROOT / "recipe" / "recipe.yaml"


def recipe_version(text: str) -> str | None:
    """`version` in the recipe's top-level `context:` block (rattler-build
    cannot read Cargo.toml, so the recipe keeps a copy)."""
    block = re.search(r"^context:\n((?:[ #].*\n|\n)*)", text, re.M)
    found = block and re.search(r'^  version: "([^"]+)"', block.group(1), re.M)
    return found.group(1) if found else None


def toml(path: Path) -> Json:
    with path.open("rb") as f:
        table: Json = tomllib.load(f)
    return table


def artifact_metadata(path: Path) -> tuple[str, list[str]]:
    """The METADATA/PKG-INFO text and the archive's member names."""
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
            return z.read(meta).decode(), names
    with tarfile.open(path) as t:
        members = t.getmembers()
        info = next(m for m in members if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
        f = t.extractfile(info)
        assert f is not None
        return f.read().decode(), [m.name for m in members]


def metadata_problems(path: Path, meta: str, names: list[str]) -> list[str]:
    headers, _, body = meta.partition("\n\n")
    fields: dict[str, list[str]] = {}
    for line in headers.splitlines():
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    problems = []
    if fields.get("License-Expression") != ["MIT OR Apache-2.0"]:
        problems.append(f"License-Expression is {fields.get('License-Expression')}")
    for lic in ("LICENSE-MIT", "LICENSE-APACHE", "THIRD_PARTY_LICENSES.txt"):
        if lic not in fields.get("License-File", []):
            problems.append(f"no License-File: {lic}")
    for lic in fields.get("License-File", []):
        inside = f".dist-info/licenses/{lic}" if path.suffix == ".whl" else f"/{lic}"
        if not any(n.endswith(inside) for n in names):
            problems.append(f"License-File {lic} is not in the archive")
    if not {"Homepage", "Documentation", "Issues"} <= {u.split(",")[0] for u in fields.get("Project-URL", [])}:
        problems.append(f"Project-URLs incomplete: {fields.get('Project-URL')}")
    if not any(c.startswith("Programming Language :: Python :: 3") for c in fields.get("Classifier", [])):
        problems.append("no Python classifiers")
    if not fields.get("Description-Content-Type", [""])[0].startswith("text/markdown") or len(body.strip()) < 200:
        problems.append("no Markdown long description (the README)")
    return [f"{path.name}: {p}" for p in problems]


def check(artifacts: list[Path]) -> list[str]:
    ws = toml(ROOT / "Cargo.toml")
    version = ws["workspace"]["package"]["version"]
    errors = []
    members = {}
    for member in ws["workspace"]["members"]:
        manifest = toml(ROOT / member / "Cargo.toml")["package"]
        members[manifest["name"]] = member
        if manifest.get("version") != {"workspace": True}:
            errors.append(f"{member}/Cargo.toml: version must be `version.workspace = true`")
    for name, dep in ws["workspace"].get("dependencies", {}).items():
        if isinstance(dep, dict) and "path" in dep and dep.get("version") not in (None, version, f"={version}"):
            errors.append(f"Cargo.toml: [workspace.dependencies] {name} version {dep['version']} != {version}")
    for pkg in toml(ROOT / "Cargo.lock")["package"]:
        if pkg["name"] in members and "source" not in pkg and pkg["version"] != version:
            errors.append(f"Cargo.lock: {pkg['name']} {pkg['version']} != {version} (run cargo update -w)")
    for path in PYPROJECTS:
        project = toml(path)["project"]
        if "version" in project and project["version"] != version:
            errors.append(f"{path.relative_to(ROOT)}: version {project['version']} != {version}")
        if "version" not in project and "version" not in project.get("dynamic", []):
            errors.append(f"{path.relative_to(ROOT)}: no version and not dynamic")
    shown = recipe_version(RECIPE.read_text(encoding="utf-8"))
    if shown != version:
        errors.append(f"recipe/recipe.yaml: context version {shown} != {version}")
    for path in DOCS:
        for shown in re.findall(r"'version': '([^']+)'", path.read_text(encoding="utf-8")):
            if shown != version:
                errors.append(f"{path.relative_to(ROOT)}: shows version {shown}, not {version}")
    tags = subprocess.run(["git", "tag", "--points-at", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    for tag in tags.split():
        if re.fullmatch(r"v\d+\.\d+\.\d+.*", tag) and tag[1:] != version:
            errors.append(f"git tag {tag} on HEAD != {version}")
    for a in artifacts:
        name_version = a.name.split("-")[1] if a.suffix == ".whl" else a.name[: -len(".tar.gz")].rsplit("-", 1)[1]
        meta, names = artifact_metadata(a)
        errors += metadata_problems(a, meta, names)
        meta_version = re.search(r"^Version: (.+)$", meta, re.M)
        if name_version != version or meta_version is None or meta_version.group(1) != version:
            errors.append(f"{a.name}: version {name_version} / METADATA {meta_version and meta_version.group(1)} != {version}")
    return errors


def main(argv: list[str]) -> int:
    errors = check([Path(a) for a in argv])
    for e in errors:
        print(f"versions: {e}", file=sys.stderr)
    if not errors:
        version = toml(ROOT / "Cargo.toml")["workspace"]["package"]["version"]
        print(f"versions: {version} everywhere" + (f" (and in {len(argv)} artifacts)" if argv else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
