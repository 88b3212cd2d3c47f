pip install maturin
# Build with optimized defaults:
maturin develop --features "python,simd,rayon,c_keccak"
# Optionally enable ISA-L where supported:
maturin develop --features "python,simd,rayon,c_keccak,isal"
