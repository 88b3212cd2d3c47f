#!/bin/sh
# Install rustup in a cibuildwheel container (manylinux: CentOS/AlmaLinux;
# musllinux: Alpine). The toolchain itself comes from rust-toolchain.toml the
# first time cargo runs in the project, so the pinned version is used
# everywhere. Idempotent.
set -eu
if command -v rustup >/dev/null 2>&1 || [ -x "$HOME/.cargo/bin/rustup" ]; then
    exit 0
fi
if command -v curl >/dev/null 2>&1; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs -o /tmp/rustup-init.sh
elif command -v apk >/dev/null 2>&1; then
    apk add --no-cache curl && curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs -o /tmp/rustup-init.sh
else
    echo "install-rust.sh: neither curl nor apk is available" >&2
    exit 1
fi
sh /tmp/rustup-init.sh -y --profile minimal --default-toolchain none
"$HOME/.cargo/bin/rustup" show active-toolchain || "$HOME/.cargo/bin/rustup" toolchain install
