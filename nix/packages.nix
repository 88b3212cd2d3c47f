# Everything the flake builds for one system. Shaped after crane's examples:
#   quick-start-workspace  buildDepsOnly shared by builds and checks; clippy,
#                          fmt, nextest, audit and deny checks
#   cross-musl             animica-env as one static musl binary
#   cross-rust-overlay,    C toolchains from pkgsCross next to the rust-overlay
#   cross-windows          toolchain (musl, aarch64, mingw-w64)
{
  system,
  nixpkgs,
  crane,
  rust-overlay,
  advisory-db,
  matrix,
}:
let
  pkgs = import nixpkgs {
    inherit system;
    overlays = [ (import rust-overlay) ];
  };
  inherit (pkgs) lib stdenv;

  arch = stdenv.hostPlatform.parsed.cpu.name; # x86_64 | aarch64
  version = (lib.importTOML ../Cargo.toml).workspace.package.version;

  # --- the toolchain -------------------------------------------------------

  # Wheels this system can build: Linux builders cross-build every Linux
  # and Windows target; universal2 needs a Darwin builder (Apple's SDK).
  builder = if stdenv.isDarwin then "darwin" else "linux";
  wheelTargets = lib.filterAttrs (_: w: w.builder == builder) matrix.wheels;
  muslTarget = "${arch}-unknown-linux-musl";
  extraTargets = lib.unique (
    lib.concatMap (w: w.rustTargets) (lib.attrValues wheelTargets) ++ lib.optional stdenv.isLinux muslTarget
  );

  # The one pinned toolchain (rust-toolchain.toml) plus the matrix's targets.
  toolchain =
    p: (p.rust-bin.fromRustupToolchainFile ../rust-toolchain.toml).override { targets = extraTargets; };
  craneLib = (crane.mkLib pkgs).overrideToolchain toolchain;

  # C compilers and linkers for the targets zig does not handle (manylinux
  # wheels, x86_64 and aarch64, are linked by zig against old glibc symbols).
  crossCC = {
    "x86_64-unknown-linux-musl" = pkgs.pkgsCross.musl64.stdenv.cc;
    "aarch64-unknown-linux-musl" = pkgs.pkgsCross.aarch64-multiplatform-musl.stdenv.cc;
    "x86_64-pc-windows-gnu" = pkgs.pkgsCross.mingwW64.stdenv.cc;
  };
  crossEnv =
    target:
    let
      cc = crossCC.${target};
      bin = "${cc}/bin/${cc.targetPrefix}";
      var = lib.replaceStrings [ "-" ] [ "_" ] target;
    in
    lib.optionalAttrs (crossCC ? ${target} && target != stdenv.hostPlatform.rust.rustcTarget) {
      "CARGO_TARGET_${lib.toUpper var}_LINKER" = "${bin}cc";
      "CC_${var}" = "${bin}cc";
      "AR_${var}" = "${bin}ar";
    };

  # --- sources ---------------------------------------------------------------

  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      (craneLib.fileset.commonCargoSources ../.)
      ../testdata # vectors read by the core's tests and pytest
      ../examples # run by python/tests/test_examples.py
      # include_str!'d tables and scripts, the binary wheel's pyproject and
      # license files (LICENSE-* are symlinks to the root's, included below)
      ../crates/animica-env
      ../python
      ../LICENSE-MIT
      ../LICENSE-APACHE
      ../deny.toml
    ];
  };

  commonArgs = {
    inherit src version;
    pname = "animica";
    strictDeps = true;
    buildInputs = lib.optionals stdenv.isDarwin [ pkgs.libiconv ];
  };

  # The workspace's dependencies, built once for clippy, nextest and the host build.
  cargoArtifacts = craneLib.buildDepsOnly commonArgs;

  # --- animica-env: one static musl binary (crane's cross-musl) --------------

  envArgs =
    commonArgs
    // crossEnv muslTarget
    // {
      pname = "animica-env";
      cargoExtraArgs = "--locked -p animica-env";
      CARGO_BUILD_TARGET = muslTarget;
      CARGO_BUILD_RUSTFLAGS = "-C target-feature=+crt-static";
      # aws-lc-sys (rustls' crypto, through rattler's HTTP client) builds C.
      nativeBuildInputs = [
        pkgs.cmake
        pkgs.perl
      ];
      # Its integration tests need a CPython to build a conda channel from and
      # PyPI downloads (the analyze corpus): `make test` runs them.
      doCheck = false;
    };
  animica-env = craneLib.buildPackage (
    envArgs
    // {
      cargoArtifacts = craneLib.buildDepsOnly envArgs;
      meta.mainProgram = "animica-env";
    }
  );

  # --- wheels ----------------------------------------------------------------

  features = lib.concatStringsSep "," matrix.features;
  pyAttr = v: "python" + lib.replaceStrings [ "." ] [ "" ] v;
  # Linux and Windows wheels use maturin's bundled sysconfig for every CPython
  # of the matrix (no interpreter needed); macOS needs the interpreters, so it
  # gets the ones nixpkgs still has.
  # (Removed versions are aliases that throw, hence tryEval.)
  hasPython =
    v:
    let
      found = builtins.tryEval (pkgs.${pyAttr v}.version or null);
    in
    found.success && found.value != null;
  darwinPythons = lib.filter hasPython matrix.python;
  interpreterArgs =
    kind:
    if kind == "macos" then
      lib.concatMapStringsSep " " (v: "-i ${pkgs.${pyAttr v}}/bin/python${v}") darwinPythons
    else
      lib.concatMapStringsSep " " (v: "-i python${v}") matrix.python;

  # One derivation per matrix target: a wheel for every CPython of the matrix.
  mkWheels =
    {
      name,
      package, # "python" (animica-native) or "crates/animica-env" (the binary wheel)
      w,
    }:
    let
      rustTarget = builtins.head w.rustTargets;
      target = if w.kind == "macos" then "universal2-apple-darwin" else rustTarget;
      native = package == "python";
      args =
        commonArgs
        // lib.optionalAttrs (w.kind != "manylinux") (crossEnv rustTarget)
        // {
          pname = name;
          cargoExtraArgs =
            "--locked --target ${rustTarget} "
            + (if native then "-p animica-py --features ${features}" else "-p animica-env");
          # musl: a cdylib loaded by a dynamically linked Python must not carry
          # its own C runtime; the binary wheel is one static executable.
          CARGO_BUILD_RUSTFLAGS = lib.optionalString (w.kind == "musllinux") (
            if native then "-C target-feature=-crt-static" else "-C target-feature=+crt-static"
          );
          # aws-lc-sys (rustls' crypto, in animica-env) builds C.
          nativeBuildInputs = lib.optionals (!native) [
            pkgs.cmake
            pkgs.perl
          ];
          doCheck = false;
        };
    in
    craneLib.mkCargoDerivation (
      args
      // {
        cargoArtifacts = craneLib.buildDepsOnly args;
        doInstallCargoArtifacts = false;
        nativeBuildInputs =
          args.nativeBuildInputs
          ++ [ pkgs.maturin ]
          ++ lib.optional (w.kind == "manylinux") pkgs.zig
          ++ lib.optional (w.kind == "windows") crossCC.${rustTarget}.bintools;
        buildPhaseCargoCommand = ''
          # maturin would take the platform tag from a cross Python's setting.
          unset _PYTHON_HOST_PLATFORM
          export HOME="$TMPDIR" ZIG_GLOBAL_CACHE_DIR="$TMPDIR/zig-cache"
          (cd ${package} && maturin build --release --locked --offline \
            --target ${target} \
            ${lib.optionalString (w.kind == "manylinux") "--zig"} \
            ${lib.optionalString (w.compatibility != null) "--compatibility ${w.compatibility}"} \
            ${lib.optionalString native (interpreterArgs w.kind)} \
            --out "$NIX_BUILD_TOP/dist")
        '';
        installPhaseCommand = ''
          mkdir -p "$out"
          cp "$NIX_BUILD_TOP"/dist/*.whl "$out"/
        '';
      }
    );

  wheels = lib.mapAttrs (name: w: mkWheels { inherit name w; package = "python"; }) wheelTargets;
  envWheels = lib.listToAttrs (
    map (
      name:
      let
        wheelName = lib.removePrefix "env-" name;
      in
      {
        inherit name;
        value = mkWheels {
          inherit name;
          w = wheelTargets.${wheelName};
          package = "crates/animica-env";
        };
      }
    ) (lib.filter (n: wheelTargets ? ${lib.removePrefix "env-" n}) matrix.envWheels)
  );

  allWheels = pkgs.symlinkJoin {
    name = "animica-wheels-${version}";
    paths = lib.attrValues wheels ++ lib.attrValues envWheels;
  };

  # --- the Python suite against a built wheel ----------------------------------

  # The suite's parity oracle, from PyPI's manylinux2014 cp312 wheels.
  leopardWheels = {
    x86_64 = pkgs.fetchurl {
      url = "https://files.pythonhosted.org/packages/1c/3c/512157b2f18fb531f8d94cb0ed5c71a745adfb66432ab783b31f13f02ea3/reed_solomon_leopard-0.2.1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl";
      hash = "sha256-c2zil9Q6rSjwppOCQ7pNP6UWVIJpxT3QRKni04avoKQ=";
    };
    aarch64 = pkgs.fetchurl {
      url = "https://files.pythonhosted.org/packages/27/f9/5b1d5b940a519b7d0059dd9414100e4977e5d23170687800d84b8597fc81/reed_solomon_leopard-0.2.1-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl";
      hash = "sha256-ygLNg9ODLxVn3BzlOleeGDxKrWfHAyJvulNQqd0NMRg=";
    };
  };
  wheelPackage =
    ps: pname: wheel:
    ps.buildPythonPackage {
      inherit pname version;
      format = "wheel";
      src = wheel;
      nativeBuildInputs = [ pkgs.autoPatchelfHook ];
      buildInputs = [ stdenv.cc.cc.lib ];
      dependencies = [ ps.typing-extensions ];
    };
  hostWheels = wheels."wheel-manylinux2014-${arch}";
  testPython = pkgs.python312.withPackages (ps: [
    ps.pytest
    ps.hypothesis
    ps.numpy
    (wheelPackage ps "reed-solomon-leopard" leopardWheels.${arch})
    (wheelPackage ps "animica-native" "${hostWheels}/animica_native-${version}-cp312-cp312-manylinux2014_${arch}.manylinux_2_17_${arch}.whl")
  ]);
  pytest = pkgs.runCommand "animica-pytest-${version}" { nativeBuildInputs = [ testPython ]; } ''
    mkdir -p work/python
    cp -r ${src}/python/tests ${src}/python/pyproject.toml work/python/
    cp -r ${src}/testdata ${src}/examples work/
    cd "$TMPDIR"
    python -m pytest "$NIX_BUILD_TOP/work/python/tests" -q -p no:cacheprovider
    touch "$out"
  '';

  # --- checks -----------------------------------------------------------------

  checks = {
    clippy = craneLib.cargoClippy (
      commonArgs
      // {
        inherit cargoArtifacts;
        cargoClippyExtraArgs = "--workspace --all-targets -- --deny warnings";
      }
    );
    fmt = craneLib.cargoFmt { inherit src; };
    # The core's tests (shared vectors, every SIMD path); animica-env's need
    # a CPython and PyPI and run in `make test`.
    nextest = craneLib.cargoNextest (
      commonArgs
      // {
        inherit cargoArtifacts;
        cargoNextestExtraArgs = "-p animica-core";
      }
    );
    audit = craneLib.cargoAudit { inherit src advisory-db; };
    deny = craneLib.cargoDeny { inherit src; };
  }
  // lib.optionalAttrs stdenv.isLinux { inherit animica-env pytest; };
in
{
  packages =
    wheels
    // envWheels
    // lib.optionalAttrs (wheelTargets != { }) { wheels = allWheels; }
    // lib.optionalAttrs stdenv.isLinux {
      inherit animica-env;
      default = animica-env;
    }
    // lib.optionalAttrs stdenv.isDarwin { default = allWheels; };

  inherit checks;

  # The toolchain and the checks' inputs, plus the release and test tools.
  devShell = craneLib.devShell {
    inherit checks;
    packages = [
      pkgs.maturin
      pkgs.zig
      pkgs.python312
      pkgs.python312.pkgs.pytest
      pkgs.python312.pkgs.hypothesis
      pkgs.python312.pkgs.numpy
      pkgs.cargo-nextest
      pkgs.cargo-deny
      pkgs.cargo-audit
      pkgs.gnumake
    ];
  };

  formatter = pkgs.nixfmt;
}
