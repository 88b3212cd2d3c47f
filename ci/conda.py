#!/usr/bin/env python3
"""The conda recipe (recipe/recipe.yaml, recipe/variants.yaml).

    ci/conda.py check      render the recipe with rattler-build for linux-64 and
                           check its outputs, variants and build requirements
    ci/conda.py channel    make the offline channel the build needs
                           (target/conda-build-channel; see ci/conda_channel.py)
    ci/conda.py build      build every output and variant against it into
                           target/conda-channel, running the recipe's tests

The recipe is rendered with py-rattler-build (the library form of
rattler-build, pinned in requirements/release.txt), so a recipe that does
not parse, a Jinja error or a variant the recipe does not use fails here,
in make check-release, before anything is built.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from rattler_build import PlatformConfig, RenderConfig, Stage0Recipe, ToolConfiguration, VariantConfig
from rattler_build.progress import (
    BuildStepEvent,
    DownloadCompleteEvent,
    DownloadProgressEvent,
    DownloadStartEvent,
    LogEvent,
    ProgressCallback,
)

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipe" / "recipe.yaml"
VARIANTS = ROOT / "recipe" / "variants.yaml"
# What conda-forge's compiler() and stdlib() resolve to on linux-64.
TOOLCHAIN = {"gcc_linux-64", "rust_linux-64", "sysroot_linux-64"}


OUT = ROOT / "target" / "conda-channel"
ANIMICA_ENV = os.environ.get("ANIMICA_ENV", str(ROOT / "target" / "debug" / "animica-env"))


def python_variants() -> list[str]:
    return [str(p) for p in VariantConfig.from_file(str(VARIANTS)).get_values("python") or []]


LOG = ROOT / "target" / "conda-build.log"


class Log(ProgressCallback):
    """rattler-build's messages: all into target/conda-build.log, build
    steps on the terminal (a build takes minutes)."""

    def __init__(self) -> None:
        LOG.parent.mkdir(parents=True, exist_ok=True)
        self.file = LOG.open("a")

    def on_download_start(self, event: DownloadStartEvent) -> None:
        return None

    def on_download_progress(self, event: DownloadProgressEvent) -> None:
        return None

    def on_download_complete(self, event: DownloadCompleteEvent) -> None:
        return None

    def on_build_step(self, event: BuildStepEvent) -> None:
        print(f"conda:   {event.step_name}: {event.message}", flush=True)
        self.file.write(f"== {event.step_name}: {event.message}\n")

    def on_log(self, event: LogEvent) -> None:
        self.file.write(f"{event.message}\n")
        self.file.flush()

    def tail(self, n: int = 60) -> str:
        self.file.flush()
        return "\n".join(LOG.read_text(errors="replace").splitlines()[-n:])


def build() -> int:
    """Every output against the offline channel; the recipe's tests run
    after each build (rattler-build's native test strategy)."""
    from conda_channel import CHANNEL

    overrides = json.loads((CHANNEL / "overrides.json").read_text())
    variants = VariantConfig.from_file(str(VARIANTS)).to_dict()
    variants.update({k: [v] for k, v in overrides.items()})
    platform = PlatformConfig(target_platform="linux-64", build_platform="linux-64", host_platform="linux-64")
    recipe = Stage0Recipe.from_file(str(RECIPE))
    done: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for v in recipe.render(VariantConfig(variants), RenderConfig(platform=platform)):
        key = (v.recipe.package.name, tuple(sorted((k, str(x)) for k, x in v.variant.items())))
        if key in done:
            continue
        done.add(key)
        started = time.time()
        label = v.recipe.package.name + (f" (python {v.variant['python']})" if "python" in v.variant else "")
        print(f"conda: building {label}", flush=True)
        log = Log()
        try:
            result = v.run_build(output_dir=str(OUT), channels=[CHANNEL.as_uri()], no_build_id=True,
                                 package_format="conda", tool_config=ToolConfiguration(test_strategy="native"),
                                 progress_callback=log)
        except Exception as e:
            print(f"{log.tail()}\nconda: {label} failed: {e} (whole log: {LOG.relative_to(ROOT)})", file=sys.stderr)
            return 1
        for pkg in result.packages:
            print(f"conda: built and tested {Path(pkg).name} in {time.time() - started:.0f} s", flush=True)
    subprocess.run([ANIMICA_ENV, "index-channel", str(OUT)], check=True)
    return 0


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
    if argv == ["channel"]:
        from conda_channel import build as build_channel

        build_channel(python_variants(), ANIMICA_ENV)
        return 0
    if argv == ["build"]:
        return build()
    if argv != ["check"]:
        print(__doc__, file=sys.stderr)
        return 2
    errors = check()
    for e in errors:
        print(f"conda recipe: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
