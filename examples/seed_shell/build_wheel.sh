# Build a wheel for your current platform:
maturin build --release --features "python,simd,rayon,c_keccak"
