#!/usr/bin/env python3
"""The conda recipe (recipe/recipe.yaml, recipe/variants.yaml).

    ci/conda.py check      render the recipe with rattler-build for linux-64 and
                           check its outputs, variants and build requirements

The recipe is rendered with py-rattler-build (the library form of
rattler-build, pinned in requirements/release.txt), so a recipe that does
not parse, a Jinja error or a variant the recipe does not use fails here,
in make check-release, before anything is built.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rattler_build import PlatformConfig, RenderConfig, Stage0Recipe, VariantConfig

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipe" / "recipe.yaml"
VARIANTS = ROOT / "recipe" / "variants.yaml"
# What conda-forge's compiler() and stdlib() resolve to on linux-64.
TOOLCHAIN = {"gcc_linux-64", "rust_linux-64", "sysroot_linux-64"}


def rendered(platform: str = "linux-64") -> list[tuple[str, dict[str, str], list[str], list[str]]]:
    """(output name, variant, build requirements, host requirements) per
    rendered output, duplicates (an output rendered once per unused key) merged."""
    recipe = Stage0Recipe.from_file(str(RECIPE))
    config = RenderConfig(platform=PlatformConfig(target_platform=platform, build_platform=platform, host_platform=platform))
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, dict[str, str], list[str], list[str]]] = {}
    for v in recipe.render(VariantConfig.from_file(str(VARIANTS)), config):
        r = v.recipe
        used = {k: str(val) for k, val in v.variant.items()}
        key = (r.package.name, tuple(sorted(used.items())))
        seen[key] = (r.package.name, used, [str(x) for x in r.requirements.build], [str(x) for x in r.requirements.host])
    return list(seen.values())


def check() -> list[str]:
    errors: list[str] = []
    try:
        outputs = rendered()
    except Exception as e:  # rattler-build's parse, Jinja and variant errors
        return [f"recipe/recipe.yaml does not render: {e}"]
    pythons = VariantConfig.from_file(str(VARIANTS)).get_values("python") or []
    native = sorted(str(v.get("python")) for name, v, _, _ in outputs if name == "animica-native")
    if native != sorted(str(p) for p in pythons):
        errors.append(f"animica-native renders for Python {native}, variants.yaml lists {pythons}")
    if not any(name == "animica-env" for name, _, _, _ in outputs):
        errors.append("no animica-env output")
    for name, _, build, host in outputs:
        names = {req.split()[0] for req in build}
        if not TOOLCHAIN <= names:
            errors.append(f"{name}: build requirements {sorted(names)} lack {sorted(TOOLCHAIN - names)}")
        if not {"cargo-auditable", "cargo-bundle-licenses"} <= names:
            errors.append(f"{name}: cargo-auditable and cargo-bundle-licenses belong in build")
        if name == "animica-native" and not {"python", "pip"} <= {req.split()[0] for req in host}:
            errors.append(f"{name}: python and pip belong in host")
    if not errors:
        kinds = ", ".join(sorted({f"{n} (py{v['python']})" if "python" in v else n for n, v, _, _ in outputs}))
        print(f"conda recipe: {len(outputs)} outputs render for linux-64: {kinds}")
    return errors


def main(argv: list[str]) -> int:
    if argv != ["check"]:
        print(__doc__, file=sys.stderr)
        return 2
    errors = check()
    for e in errors:
        print(f"conda recipe: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
