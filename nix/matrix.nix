# The wheel matrix as the flake sees it: only Nix builtins, so it evaluates
# without nixpkgs. CI checks it with
#   nix-instantiate --eval --strict --json nix/matrix.nix
# and compares the result with ci/wheel-matrix.toml (ci/matrix.py check).
let
  matrix = builtins.fromTOML (builtins.readFile ../ci/wheel-matrix.toml);
  buildable = builtins.filter (t: t.nix != "no") matrix.target;
  # manylinux / musllinux / macos / windows, as ci/matrix.py's cibw_kind.
  kindOf =
    t:
    if t.cibw.platform != "linux" then
      t.cibw.platform
    else if builtins.substring 0 9 t.cibw.image == "musllinux" then
      "musllinux"
    else
      "manylinux";
  wheelOf = t: {
    name = "wheel-${t.name}";
    value = {
      inherit (t) tag arch;
      builder = t.nix;
      kind = kindOf t;
      compatibility = t.cibw.image or null;
      rustTargets = t."cross-rust-targets" or t."rust-targets";
    };
  };
in
{
  inherit (matrix) python features;
  # packages.wheel-<tag>-<arch>: one derivation per target, holding a wheel
  # for every Python version of the matrix.
  wheels = builtins.listToAttrs (map wheelOf buildable);
  # packages.env-wheel-<tag>-<arch>: the animica-env binary wheel.
  envWheels = map (t: "env-wheel-${t.name}") (builtins.filter (t: t."env-wheel") buildable);
}
