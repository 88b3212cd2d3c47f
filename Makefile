# animica: `make help` lists the targets.
# bash, timing each recipe line into ANIMICA_TIMES (one file per make run):
# `make test` ends with its slowest steps.
SHELL := $(CURDIR)/ci/timed-shell
.SHELLFLAGS := -eu -o pipefail -c
MAKE_START := $(shell date +%s)
ifndef ANIMICA_TIMES
ANIMICA_TIMES := $(CURDIR)/target/times/make-$(MAKE_START)-$(shell echo $$PPID).tsv
endif
export ANIMICA_TIMES
$(shell mkdir -p $(dir $(ANIMICA_TIMES)))
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CARGO  ?= cargo
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PYTHONDONTWRITEBYTECODE := 1

# $(call need,COMMAND,PACKAGES): install Debian PACKAGES when COMMAND is
# missing, so every target sets up what it uses on a fresh machine.
define need
	@command -v $(1) >/dev/null || { echo "installing $(2) (for $(1))"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(2); }
endef

.PHONY: help demo test test-start test-rust test-python test-seed-shell lint fmt bench membench develop clean vectors corpus channel workqueue-deps static \
	rust-src cross-tools cctools-chroot wheels wheels-test check-reproducible check-reproducible-conda check-release release-deps licenses conda conda-test \
	fuzz fuzz-tools leakcheck

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.dev-stamp: requirements/dev.txt
	$(call need,cc,gcc)
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "installing python3-venv"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements/dev.txt
	@touch $@

$(VENV)/.release-stamp: requirements/release.txt $(VENV)/.dev-stamp
	$(PY) -m pip install -q -r requirements/release.txt
	@touch $@

$(VENV)/.bench-stamp: requirements/bench.txt $(VENV)/.dev-stamp
	$(PY) -m pip install -q -r requirements/bench.txt
	@touch $@

develop: $(VENV)/.dev-stamp ## Build animica_native (release) into .venv
	cd python && ../$(VENV)/bin/maturin develop --release --quiet 2>&1 | { grep -v '^📦\|^✏️\|^🛠' || true; }
	$(PY) -c "import animica_native as an; print('animica_native', an.__version__, 'from', an.__file__)"

demo: develop channel workqueue-deps ## Run every animica_native example, then analyze -> create -> run on Work Queue (offline)
	$(PY) examples/run_all.py
	examples/workqueue/demo.sh

# The summary's awk reads to the end: `head -15` would exit early, and pipefail
# would then fail the recipe on sort's SIGPIPE whenever sort writes its output in
# more than one piece (it did once the times file passed 4 KiB).
test: test-start check-release test-rust test-python test-seed-shell leakcheck fuzz ## Lint, release checks, the conda package the tests install (make conda-test), every Rust and Python test (serial and parallel), the leak gate, 60 s of each fuzz target
	@echo "make test passed in $$(( $$(date +%s) - $(MAKE_START) )) s; its slowest steps (all: $(ANIMICA_TIMES)):"
	@sort -t$$'\t' -k1,1 -rn "$(ANIMICA_TIMES)" | awk -F'\t' 'NR <= 15 { printf "  %7.1f s  %s\n", $$1, substr($$3, 1, 100) }'

# make test's first step: lint compiles on both cores while the downloads
# test-rust needs later (the analyze corpus from PyPI, the cctools chroot
# from Debian: 100 s on a fresh machine, mostly waiting) run beside it. What
# they share, and every apt install, comes first, one at a time.
test-start: release-deps develop
	$(call need,shellcheck,shellcheck)
	@$(MAKE) --no-print-directory -j2 --output-sync=line lint corpus cctools-chroot

corpus: $(VENV)/.dev-stamp ## Fetch the analyze corpus (real projects' sdists from PyPI) into target/corpus
	$(PY) crates/animica-env/tests/corpus/fetch.py

# The binary is built with the whole workspace's features (`--workspace --bins`,
# not `-p animica-env`): animica-core turns on features of crates rattler shares
# (sha2's compress, fixedbitset's std), so building animica-env alone made
# `cargo test --workspace` rebuild rattler's crates above them, minutes on two cores.
channel: $(VENV)/.dev-stamp ## Build the offline conda channel (python, pip, tabulate; six's and dill's wheels) into target/channel
	$(call need,patchelf,patchelf)
	$(CARGO) build --locked --workspace --bins
	ANIMICA_ENV=target/debug/animica-env $(PY) crates/animica-env/tests/channel/build_channel.py

static: ## animica-env as one statically linked binary (glibc static-pie) -> target/static/.../release/animica-env
	RUSTFLAGS="-C target-feature=+crt-static" CARGO_TARGET_DIR=target/static \
		$(CARGO) build --release --locked -p animica-env --target x86_64-unknown-linux-gnu
	@file target/static/x86_64-unknown-linux-gnu/release/animica-env

release-deps: $(VENV)/.release-stamp ## Release tools: maturin, zig, auditwheel, cibuildwheel (.venv); nix-bin and debootstrap (apt) when missing
	@missing=""; command -v nix-instantiate >/dev/null || missing="$$missing nix-bin"; \
	command -v debootstrap >/dev/null || missing="$$missing debootstrap"; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; fi

check-release: release-deps ## The wheel matrix agrees everywhere (cibuildwheel, nix, docs); Nix files parse, flake.lock is valid; versions agree; the conda recipe renders; licenses are current
	$(PY) -m pytest ci/tests -q -p no:cacheprovider
	$(PY) ci/matrix.py check
	$(PY) ci/check_nix.py
	$(PY) ci/check_release.py
	$(PY) ci/conda.py check
	$(PY) ci/third_party_licenses.py --check

licenses: ## Regenerate the bundled third-party license files from Cargo.lock
	$(PY) ci/third_party_licenses.py

rust-src: ## The standard library's source in the pinned toolchain (Debian's rust-src 1.95.0, sha256-pinned), for cross builds
	$(call need,dpkg-deb,dpkg)
	ci/install-rust-src.sh

cross-tools: release-deps rust-src ## What cross builds of the wheel matrix need: the std source, mingw-w64 (Windows), patchelf (musl)
	$(call need,x86_64-w64-mingw32-gcc,gcc-mingw-w64-x86-64)
	$(call need,patchelf,patchelf)

wheels: cross-tools ## The whole wheel matrix (ci/wheel-matrix.toml: 8 targets x CPython 3.9-3.15), the sdist and the animica-env wheels -> target/dist
	$(PY) ci/build_wheels.py
	$(PY) ci/check_release.py target/dist/*

wheels-test: release-deps rust-src ## Test target/dist: venvs of CPython 3.9-3.13, Debian chroots (bullseye, forky, sid; arm64 ones under qemu-user), musl CPythons built from source, the sdist, the env wheels; the core's Rust tests on aarch64 under qemu-user
	$(call need,qemu-aarch64-static,qemu-user-static binfmt-support)
	$(call need,update-binfmts,binfmt-support)
	$(PY) ci/test_wheels.py

check-reproducible: cross-tools ## Build every artifact twice from clean clones in different directories; compare sha256
	$(PY) ci/check-reproducible

# What `make test` builds of the recipe: the package its end-to-end test
# installs (crates/animica-env/tests/conda_package.rs); `make conda` builds
# and tests every output and variant (the animica-env package alone is a
# 6-minute fat-LTO build of rattler's tree).
conda-test: ## The conda package make test installs (animica-native for Python 3.11; make conda builds them all)
	$(MAKE) --no-print-directory conda CONDA_ONLY="--only animica-native=3.11"

check-reproducible-conda: conda ## Build the conda packages twice from clean clones in different directories; compare sha256
	$(PY) ci/check-reproducible --conda

conda: release-deps channel ## The conda packages: recipe/ built with rattler-build against an offline channel of shims -> target/conda-channel (docs/conda.md); skipped while its inputs are unchanged
	$(PY) ci/conda.py check
	$(PY) ci/conda.py channel
	$(PY) ci/conda.py build $(CONDA_ONLY)

cctools-chroot: release-deps ## Current cctools (TaskVine, poncho) in a Debian trixie chroot (debootstrap, cached in target/chroots/trixie-cctools)
	$(call need,debootstrap,debootstrap)
	$(PY) ci/cctools_chroot.py make

workqueue-deps: ## Install Work Queue (Debian's coop-computing-tools, python3-workqueue, python3-dill for PythonTask) when missing
	@if ! command -v work_queue_worker >/dev/null || ! /usr/bin/python3 -c 'import work_queue, dill' 2>/dev/null; then \
		echo "installing coop-computing-tools python3-workqueue python3-dill"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq coop-computing-tools python3-workqueue python3-dill; \
	fi

# The fast kernels this CPU runs are tested as they come; the fallbacks are
# tested too, by turning the fast ones off (tests of a kernel that cannot run
# print "NOT RUN in this process: ..." instead of passing silently).
KERNELS_OFF := ANIMICA_BACKEND=avx2
SHOW_KERNELS = $(PY) -c 'import animica_native as an; i = an.build_info(); \
	print("kernels:", ", ".join(f"{k}={i[k]}" for k in ("backend", "sha256_batch", "keccak", "reed_solomon")))'

# The core's tests again (one thread; fast kernels off), selected by target
# from the workspace build: `-p animica-core` resolves the dependencies'
# features for the core alone, which rebuilt 28 of them and the core (a
# minute on two cores) for a run of seconds.
CORE_TESTS := --workspace --exclude animica-py --lib \
	$(patsubst crates/animica-core/tests/%.rs,--test %,$(wildcard crates/animica-core/tests/*.rs))

test-rust: corpus channel conda-test workqueue-deps cctools-chroot develop ## cargo tests: default pool, RAYON_NUM_THREADS=1, fast kernels off, and the portable build (no default features)
	$(call need,java,openjdk-17-jre-headless)
	$(call need,faketime,faketime)
	$(CARGO) test --workspace --locked
	RAYON_NUM_THREADS=1 $(CARGO) test --locked $(CORE_TESTS)
	$(KERNELS_OFF) $(CARGO) test --locked $(CORE_TESTS)
	$(CARGO) test -p animica-core --locked --no-default-features

# The module built with Rust's debug assertions and overflow checks (its own
# target dir, no LTO): unsafe code's preconditions are checked at run time.
# This found a slice made from an empty list's NULL item pointer.
CHECKED_BUILD := CARGO_TARGET_DIR=$(CURDIR)/target/checked CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true \
	CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16

test-python: develop ## pytest (examples included): default pool and kernels, then one thread with the fast kernels off, then once more on a build with debug assertions
	@$(SHOW_KERNELS)
	$(PY) -m pytest python/tests -q
	@RAYON_NUM_THREADS=1 $(KERNELS_OFF) $(SHOW_KERNELS)
	RAYON_NUM_THREADS=1 $(KERNELS_OFF) $(PY) -m pytest python/tests -q -p no:cacheprovider
	cd python && $(CHECKED_BUILD) ../$(VENV)/bin/maturin develop --release --quiet 2>&1 | { grep -v '^📦\|^✏️\|^🛠' || true; }
	@echo "pytest on the module built with debug assertions (the release build is restored after)"
	$(PY) -m pytest python/tests -q -p no:cacheprovider && s=0 || s=$$?; $(MAKE) --no-print-directory develop >/dev/null; exit $$s

test-seed-shell: develop ## The seed document's shell blocks, verbatim, in fresh virtualenvs
	$(PY) examples/run_seed_shell.py

lint: develop release-deps ## rustfmt, clippy (deny warnings; the binding also as a free-threaded 3.14t build configures it), mypy --strict (package and ci/, which imports the release tools), stubtest, shellcheck (the archives' launchers)
	$(call need,shellcheck,shellcheck)
	shellcheck -s sh crates/animica-env/src/env/*.sh
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) clippy -p animica-core --all-targets --locked --no-default-features -- -D warnings
	PYO3_CONFIG_FILE=$(CURDIR)/ci/pyo3-free-threaded.cfg $(CARGO) clippy -p animica-py --locked --target-dir target/free-threaded -- -D warnings
	cd python && ../$(PY) -m mypy
	cd python && ../$(PY) -m mypy.stubtest animica_native --allowlist stubtest-allowlist.txt
	$(PY) -m mypy --strict ci/*.py ci/tests/*.py
	$(PY) -m mypy --strict ci/check-reproducible

leakcheck: develop fuzz-tools ## Leak gate: every binding under valgrind (definitely/indirectly lost fails; ci/leakcheck.py), animica-core's tests under LeakSanitizer (animica-env's parsers run under ASan+LSan in make fuzz)
	$(call need,valgrind,valgrind)
	$(PY) ci/leakcheck.py
	RUSTFLAGS="-Zsanitizer=leak" CARGO_TARGET_DIR=target/lsan $(CARGO) +nightly test --locked \
		--target x86_64-unknown-linux-gnu -p animica-core

# Seconds each fuzz target runs in `make fuzz` (and in `make test`).
FUZZ_SECONDS ?= 60
CARGO_FUZZ_VERSION := 0.13.2

fuzz-tools: ## The nightly toolchain and cargo-fuzz (pinned), when missing
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@cargo fuzz --version 2>/dev/null | grep -q ' $(CARGO_FUZZ_VERSION)$$' || \
		cargo +nightly install cargo-fuzz --locked --version $(CARGO_FUZZ_VERSION)

fuzz: $(VENV)/.dev-stamp fuzz-tools ## Every fuzz target for FUZZ_SECONDS (default 60) each: cargo fuzz, nightly, AddressSanitizer; executions and coverage per target (fuzz/README.md)
	$(PY) ci/fuzz.py --seconds $(FUZZ_SECONDS)

fmt: ## Format the Rust code
	$(CARGO) fmt --all

membench: develop $(VENV)/.bench-stamp ## Memory of 100,000 live hashers against hashlib, pycryptodome, blake3 (RSS, separate processes) -> bench/membench.md
	$(PY) bench/membench.py --out bench/membench.md

# The BLAKE3 team's command-line tool, the peer of an.hash.file (pinned).
B3SUM := target/tools/bin/b3sum
$(B3SUM):
	$(CARGO) install --quiet --locked --root target/tools b3sum --version 1.8.2

bench: develop corpus channel $(VENV)/.bench-stamp $(B3SUM) ## Speed against peers in one run -> bench/results.md (and results-avx2.md: the AVX2 + SHA-NI kernels), bench/kernels.txt (each kernel on each backend), bench/env-results.md
	B3SUM=$(B3SUM) $(PY) bench/report.py --out bench/results.md
	@if [ "$$($(PY) -c 'import animica_native as an; print(an.build_info()["backend"])')" = avx512 ]; then \
		echo "again with ANIMICA_BACKEND=avx2: the kernels of an AVX2 + SHA-NI CPU"; \
		ANIMICA_BACKEND=avx2 B3SUM=$(B3SUM) $(PY) bench/report.py --out bench/results-avx2.md; fi
	$(CARGO) bench -q --locked -p animica-core --bench kernels | tee bench/kernels.txt
	$(CARGO) build --release --locked -p animica-env
	$(PY) bench/env_report.py --out bench/env-results.md

vectors: $(VENV)/.dev-stamp ## Regenerate testdata/vectors from their published sources
	$(PY) testdata/import_vectors.py
	$(PY) testdata/gen_nmt_vectors.py

clean: ## Remove build outputs and the virtualenv
	@if grep -q ' $(CURDIR)/target/' /proc/self/mounts; then echo 'something is mounted under target/ (the wheels-test chroot): umount it first' >&2; exit 1; fi
	$(CARGO) clean
	rm -rf $(VENV) python/.mypy_cache python/.pytest_cache .hypothesis
