{
  description = "animica: animica-native (a fast native Python library) and animica-env (Python work on clusters)";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-unstable";

    crane.url = "github:ipetkov/crane";

    # The toolchain comes from rust-toolchain.toml (fromRustupToolchainFile),
    # with the cross targets the wheel matrix needs added in nix/packages.nix.
    rust-overlay = {
      url = "github:oxalica/rust-overlay";
      inputs.nixpkgs.follows = "nixpkgs";
    };

    # RustSec's advisories for checks.<system>.audit (cargo-audit runs offline).
    advisory-db = {
      url = "github:rustsec/advisory-db";
      flake = false;
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      crane,
      rust-overlay,
      advisory-db,
      ...
    }:
    let
      # The wheel matrix, read from ci/wheel-matrix.toml (Nix builtins only).
      matrix = import ./nix/matrix.nix;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forEachSystem = f: nixpkgs.lib.genAttrs systems (system: f (perSystem system));

      perSystem =
        system:
        import ./nix/packages.nix {
          inherit
            system
            nixpkgs
            crane
            rust-overlay
            advisory-db
            matrix
            ;
        };
    in
    {
      packages = forEachSystem (s: s.packages);
      checks = forEachSystem (s: s.checks);
      devShells = forEachSystem (s: {
        default = s.devShell;
      });
      formatter = forEachSystem (s: s.formatter);
    };
}
