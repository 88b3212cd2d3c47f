#!/usr/bin/env python3
"""The conda recipe (recipe/recipe.yaml, recipe/variants.yaml).

    ci/conda.py check      render the recipe with rattler-build for linux-64 and
                           check its outputs, variants and build requirements
    ci/conda.py channel    make the offline channel the build needs
                           (target/conda-build-channel; see ci/conda_channel.py)
    ci/conda.py build [--out DIR] [--only NAME[=PYTHON]]...
                           build every output and variant against it into
                           target/conda-channel (or DIR), running the
                           recipe's tests; --only builds just those (make
                           test: the one package its end-to-end test installs)

A build is reproducible: the packages are stamped with SOURCE_DATE_EPOCH
(default: the last commit's time), the one timestamp rattler-build writes
(into info/index.json, info/recipe/rendered_recipe.yaml and every tar
entry). py-rattler-build takes that stamp from the clock with no way to pass
it, so the build runs with its wall clock pinned (ci/fixed_clock.c). And
rattler-build works in one fixed directory (BUILD_ROOT), whichever checkout
it builds, since the build prefix is recorded in the packages.

The recipe is rendered with py-rattler-build (the library form of
rattler-build, pinned in requirements/release.txt), so a recipe that does
not parse, a Jinja error or a variant the recipe does not use fails here,
in make check-release, before anything is built.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import shutil
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
TOOLS = ROOT / "target" / "conda-tools"
# Where rattler-build builds: the same absolute path for every checkout and
# machine, because a conda package records its build prefix (below this
# directory) in files such as .pyc and direct_url.json, as conda-forge's
# fixed build paths do. One build at a time uses it (a lock beside it).
BUILD_ROOT = Path(os.environ.get("ANIMICA_CONDA_BUILD_ROOT", "/tmp/animica-conda-build"))
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


def with_pinned_clock(argv: list[str]) -> None:
    """Run this script again with its wall clock pinned to SOURCE_DATE_EPOCH
    (see the module's doc); returns only when it already is."""
    from build_wheels import source_date_epoch

    epoch = source_date_epoch()
    if os.environ.get("ANIMICA_FIXED_CLOCK") == epoch and int(time.time()) == int(epoch):
        return
    source = ROOT / "ci" / "fixed_clock.c"
    library = TOOLS / "fixed_clock.so"
    if not library.exists() or library.stat().st_mtime < source.stat().st_mtime:
        TOOLS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(library), str(source), "-ldl"], check=True)
    env = {**os.environ, "LD_PRELOAD": str(library), "ANIMICA_FIXED_CLOCK": epoch, "SOURCE_DATE_EPOCH": epoch}
    os.execve(sys.executable, [sys.executable, __file__, *argv], env)


def build_key() -> str:
    """What the packages are built from: the files of the source the recipe
    takes (the checkout without what .gitignore excludes), the build
    channel, this script, rattler-build's version and the stamp."""
    from conda_channel import CHANNEL
    from importlib.metadata import version

    h = hashlib.sha256()
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.split(b"\0")
    for rel in sorted(name.decode() for name in listed if name):
        path = ROOT / rel
        if path.is_file():
            h.update(rel.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    if not (CHANNEL / "key").is_file():
        raise SystemExit(f"conda: no build channel at {CHANNEL}: make it first (ci/conda.py channel, or make conda)")
    h.update((CHANNEL / "key").read_bytes())
    h.update(version("py-rattler-build").encode())
    h.update(os.environ["SOURCE_DATE_EPOCH"].encode())
    return h.hexdigest()


def selected(only: list[str], name: str, python: str | None) -> bool:
    """Whether output `name` (for `python`) is among `only` (NAME or
    NAME=PYTHON); everything when `only` is empty."""
    return not only or any(o in (name, f"{name}={python}") for o in only)


def build(out: Path, only: list[str]) -> int:
    """Every output (or those `only` names) against the offline channel; the
    recipe's tests run after each build (rattler-build's native test
    strategy). Skipped when `out` holds packages built from the same inputs
    (build_key), the same selection or all of them."""
    every = build_key()
    inputs = every + "".join(f" only={o}" for o in sorted(only))
    stamp = out / "build-key"
    if stamp.is_file() and stamp.read_text().strip() in (inputs, every):
        print(f"conda: the packages in {out} are up to date (same sources, channel and stamp)")
        return 0
    stamp.unlink(missing_ok=True)
    BUILD_ROOT.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{BUILD_ROOT}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"conda: waiting for another build using {BUILD_ROOT}", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(BUILD_ROOT, ignore_errors=True)
        packages = build_in(BUILD_ROOT, only)
        if packages is None:
            return 1
        for subdir in ["linux-64", "noarch"]:
            shutil.rmtree(out / subdir, ignore_errors=True)
            (out / subdir).mkdir(parents=True)
        for pkg in packages:
            # rattler-build writes through a private temporary file (0600);
            # a channel is read by everyone.
            shutil.copyfile(pkg, out / pkg.parent.name / pkg.name)
            (out / pkg.parent.name / pkg.name).chmod(0o644)
    subprocess.run([ANIMICA_ENV, "index-channel", str(out)], check=True)
    stamp.write_text(inputs + "\n")
    print(f"conda: {len(packages)} packages in {out}")
    return 0


def build_in(root: Path, only: list[str]) -> list[Path] | None:
    """Builds and tests every output and variant (see `selected`) with
    rattler-build in `root`; the packages it wrote, or None (with the log's
    tail) on failure."""
    from conda_channel import CHANNEL

    print(f"conda: building in {root}, packages stamped with SOURCE_DATE_EPOCH={os.environ['SOURCE_DATE_EPOCH']}",
          flush=True)
    overrides = json.loads((CHANNEL / "overrides.json").read_text())
    variants = VariantConfig.from_file(str(VARIANTS)).to_dict()
    variants.update({k: [v] for k, v in overrides.items()})
    platform = PlatformConfig(target_platform="linux-64", build_platform="linux-64", host_platform="linux-64")
    recipe = Stage0Recipe.from_file(str(RECIPE))
    done: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    packages: list[Path] = []
    for v in recipe.render(VariantConfig(variants), RenderConfig(platform=platform)):
        key = (v.recipe.package.name, tuple(sorted((k, str(x)) for k, x in v.variant.items())))
        python = str(v.variant["python"]) if "python" in v.variant else None
        if key in done or not selected(only, v.recipe.package.name, python):
            continue
        done.add(key)
        started = time.monotonic()
        label = v.recipe.package.name + (f" (python {v.variant['python']})" if "python" in v.variant else "")
        print(f"conda: building {label}", flush=True)
        log = Log()
        try:
            result = v.run_build(output_dir=str(root), channels=[CHANNEL.as_uri()], no_build_id=True,
                                 package_format="conda", tool_config=ToolConfiguration(test_strategy="native"),
                                 progress_callback=log)
        except Exception as e:
            print(f"{log.tail()}\nconda: {label} failed: {e} (whole log: {LOG})", file=sys.stderr)
            return None
        for pkg in result.packages:
            packages.append(Path(pkg))
            print(f"conda: built and tested {Path(pkg).name} in {time.monotonic() - started:.0f} s", flush=True)
    if not packages:
        print(f"conda: no output of the recipe matches --only {' '.join(only)}", file=sys.stderr)
        return None
    return packages


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
        from conda_channel import CHANNEL, up_to_date
        from conda_channel import build as build_channel

        if up_to_date(python_variants()):
            print(f"conda: the build channel {CHANNEL} is up to date")
        else:
            build_channel(python_variants(), ANIMICA_ENV)
        return 0
    if argv[:1] == ["build"]:
        ap = argparse.ArgumentParser(prog="ci/conda.py build")
        ap.add_argument("--out", type=Path, default=OUT)
        ap.add_argument("--only", action="append", default=[], metavar="NAME[=PYTHON]")
        args = ap.parse_args(argv[1:])
        with_pinned_clock(argv)
        return build(args.out.resolve(), args.only)
    if argv != ["check"]:
        print(__doc__, file=sys.stderr)
        return 2
    errors = check()
    for e in errors:
        print(f"conda recipe: {e}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
