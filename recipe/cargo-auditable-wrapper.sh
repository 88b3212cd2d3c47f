#!/bin/sh
# `cargo` for maturin: every build goes through cargo-auditable, which
# embeds the dependency tree in the binary (for cargo-audit and scanners).
exec cargo auditable "$@"
