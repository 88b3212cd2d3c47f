#!/usr/bin/env python3
"""Fail unless every place that holds animica's version holds the same one.

    ci/check_versions.py [ARTIFACT...]

The version is [workspace.package] version in Cargo.toml. Checked against it:
each crate's Cargo.toml (must inherit it), the workspace's own path
dependencies, Cargo.lock, both pyproject.toml files (version must be dynamic,
i.e. taken from Cargo by maturin, or equal), docs that show it, a vX.Y.Z git
tag on HEAD if there is one, and the names and METADATA of any wheels/sdists
given as arguments.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECTS = [ROOT / "python" / "pyproject.toml", ROOT / "crates" / "animica-env" / "pyproject.toml"]
# Docs that print the version in an example.
DOCS = [ROOT / "docs" / "python-api.md"]


def toml(path: Path) -> dict:
    with path.open("rb") as f:
        return tomllib.load(f)


def artifact_metadata(path: Path) -> str:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            return z.read(name).decode()
    with tarfile.open(path) as t:
        member = next(m for m in t.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
        f = t.extractfile(member)
        assert f is not None
        return f.read().decode()


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
        meta = artifact_metadata(a)
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
