#!/bin/sh
# Install the Rust standard library's source into the pinned toolchain, as
# `rustup component add rust-src` would (lib/rustlib/src/rust/library, listed
# in rustup's components file): cross builds of the wheel matrix need it for
# `cargo -Zbuild-std`, because rustup can download no other target's std here.
#
# The source is Debian's `rust-src` package for exactly our rustc (1.95.0,
# trixie-backports), checked against the sha256 pinned below. It is fetched
# from the Debian archive once and kept in target/toolchain/; when the
# archive no longer serves it, set ANIMICA_RUST_SRC_DEB to a copy (the
# project's machines keep one in ../shared/toolchain/, used when present).
# Idempotent: does nothing when the installed source is this version.
set -eu

VERSION=1.95.0
DEB=rust-src_1.95.0+dfsg1-2~bpo13+1_all.deb
SHA256=7b76db5b880a77f9e52975d2baa6209d2f76d2c9c2789515c3088cb960e2c83b
URL="http://deb.debian.org/debian/pool/main/r/rustc/$DEB"

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"  # rust-toolchain.toml picks the toolchain
have=$(rustc --version | cut -d' ' -f2)
if [ "$have" != "$VERSION" ]; then
    echo "install-rust-src: rustc is $have; this source is for $VERSION (rust-toolchain.toml)" >&2
    exit 1
fi
sysroot=$(rustc --print sysroot)
dest="$sysroot/lib/rustlib/src/rust"
stamp="$dest/.animica-rust-src"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$DEB $SHA256" ]; then
    exit 0
fi

cache="$root/target/toolchain"
mkdir -p "$cache"
deb="$cache/$DEB"
verify() { echo "$SHA256  $1" | sha256sum -c --status; }
if ! { [ -f "$deb" ] && verify "$deb"; }; then
    rm -f "$deb"
    for copy in "${ANIMICA_RUST_SRC_DEB:-}" "$root/../shared/toolchain/$DEB"; do
        if [ -n "$copy" ] && [ -f "$copy" ]; then
            echo "install-rust-src: using $copy"
            cp "$copy" "$deb.part" && mv "$deb.part" "$deb"
            break
        fi
    done
    if [ ! -f "$deb" ]; then
        echo "install-rust-src: downloading $URL"
        if ! curl -fsSL --retry 3 -o "$deb.part" "$URL"; then
            echo "install-rust-src: cannot download $URL; set ANIMICA_RUST_SRC_DEB to a copy of $DEB (sha256 $SHA256)" >&2
            exit 1
        fi
        mv "$deb.part" "$deb"
    fi
    if ! verify "$deb"; then
        echo "install-rust-src: $deb does not have sha256 $SHA256; refusing it" >&2
        rm -f "$deb"
        exit 1
    fi
fi

work=$(mktemp -d "$cache/rust-src.XXXXXX")
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/x"
src="$work/x/usr/src/rustc-$VERSION"
# rustup's rust-src holds library/ and the workspace lock beside it.
mkdir -p "$work/rust"
mv "$src/library" "$work/rust/library"
cp "$src/Cargo.lock" "$work/rust/Cargo.lock"
printf '%s\n' "$DEB $SHA256" > "$work/rust/.animica-rust-src"
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$work/rust" "$dest"
# Record it as rustup records components, so `rustup component list` shows it
# and `rustup component remove rust-src` removes it.
rustlib="$sysroot/lib/rustlib"
printf 'dir:lib/rustlib/src/rust\n' > "$rustlib/manifest-rust-src"
grep -qx rust-src "$rustlib/components" 2>/dev/null || echo rust-src >> "$rustlib/components"
echo "install-rust-src: rust-src $VERSION installed in $dest"
