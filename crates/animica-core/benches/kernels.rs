//! Every kernel we wrote, on every backend this CPU runs, next to the crate
//! it replaces (`make bench`; `cargo bench -p animica-core --bench kernels`):
//!
//! - SHA-256 of many messages (`sha256_many_on`): 4096 x 64 B and 1024 x
//!   542 B (an NMT leaf with a 29-byte namespace), on each backend and each
//!   multi-message kernel by itself (`sha256_many_with`), against the sha2
//!   crate one message at a time;
//! - one Merkle proof's climb (`sha256_chain_with`): a 542-byte leaf, then
//!   16 parents of 181 bytes (Celestia's 29-byte namespaces), on our SHA-NI
//!   chain and on the sha2 crate a message at a time;
//! - Keccak-256 (`keccak256_on`) of 64 B and 1 MiB, on each backend and each
//!   permutation by itself (`keccak256_with`), against the sha3 crate;
//! - Reed-Solomon encode and reconstruct (32 + 32 shards of 64 KiB, 16 data
//!   shards lost), one thread, on each engine this CPU runs
//!   (`encode_with`, `reconstruct_with`: ours on AVX-512 with and without
//!   GFNI, the crate's AVX2 and NoSimd ones in our codec), against
//!   reed-solomon-simd's own engine choice (`DefaultEngine`) used directly.
//!
//! A kernel that beats its crate on no machine we support is to be removed
//! (issue 14); the backends' names are the arguments in the output.

use animica_core::Threads;
use animica_core::hash::{
    keccak256_kernels, keccak256_on, keccak256_with, sha256_chain_kernels, sha256_chain_with, sha256_many_kernels,
    sha256_many_on, sha256_many_with,
};
use animica_core::kernels::Backend;
use animica_core::rs::{encode_with, engines, reconstruct_with};
use divan::{Bencher, black_box};
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};
use sha2::Digest as _;

fn main() {
    divan::main();
}

fn backends() -> Vec<Backend> {
    Backend::available()
}

fn messages(count: usize, len: usize) -> Vec<Vec<u8>> {
    (0..count).map(|i| (0..len).map(|j| (i * 31 + j * 7) as u8).collect()).collect()
}

const SHA_SHAPES: [(usize, usize); 2] = [(4096, 64), (1024, 542)];

#[divan::bench(args = backends(), consts = [0, 1])]
fn sha256_many<const SHAPE: usize>(bencher: Bencher, backend: Backend) {
    let (count, len) = SHA_SHAPES[SHAPE];
    let msgs = messages(count, len);
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    bencher.counter(divan::counter::BytesCount::new(count * len)).bench(|| sha256_many_on(backend, black_box(&refs)));
}

/// Each multi-message kernel by itself, where the dispatch picks one of
/// several (AVX-512 with SHA-NI: the faster when timed at first use).
#[divan::bench(args = sha256_many_kernels(), consts = [0, 1])]
fn sha256_many_kernel<const SHAPE: usize>(bencher: Bencher, kernel: &str) {
    let (count, len) = SHA_SHAPES[SHAPE];
    let msgs = messages(count, len);
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    bencher
        .counter(divan::counter::BytesCount::new(count * len))
        .bench(|| sha256_many_with(kernel, black_box(&refs)).unwrap());
}

#[divan::bench(consts = [0, 1])]
fn sha256_many_sha2_crate<const SHAPE: usize>(bencher: Bencher) {
    let (count, len) = SHA_SHAPES[SHAPE];
    let msgs = messages(count, len);
    bencher
        .counter(divan::counter::BytesCount::new(count * len))
        .bench(|| black_box(&msgs).iter().map(|m| <[u8; 32]>::from(sha2::Sha256::digest(m))).collect::<Vec<_>>());
}

const KECCAK_LENS: [usize; 2] = [64, 1 << 20];

/// A proof of one leaf among 65,536: the leaf, then a parent a level, the
/// climbing node's hash on the left or the right as leaf 0x5a5a's path goes.
#[divan::bench(args = sha256_chain_kernels())]
fn sha256_chain(bencher: Bencher, kernel: &str) {
    let first = messages(1, 542).remove(0);
    let links = messages(16, 181);
    let refs: Vec<&[u8]> = links.iter().map(Vec::as_slice).collect();
    let at: Vec<usize> = (0..16).map(|level| if (0x5a5a >> level) & 1 == 1 { 149 } else { 59 }).collect();
    bencher.bench(|| sha256_chain_with(kernel, black_box(&first), black_box(&refs), &at).unwrap());
}

#[divan::bench(args = backends(), consts = [0, 1])]
fn keccak256<const LEN: usize>(bencher: Bencher, backend: Backend) {
    let data = messages(1, KECCAK_LENS[LEN]).remove(0);
    bencher.counter(divan::counter::BytesCount::new(data.len())).bench(|| keccak256_on(backend, black_box(&data)));
}

/// Each Keccak-f[1600] implementation by itself (the avx512 backend runs
/// AVX-512's only where it was timed faster).
#[divan::bench(args = keccak256_kernels(), consts = [0, 1])]
fn keccak256_kernel<const LEN: usize>(bencher: Bencher, kernel: &str) {
    let data = messages(1, KECCAK_LENS[LEN]).remove(0);
    bencher
        .counter(divan::counter::BytesCount::new(data.len()))
        .bench(|| keccak256_with(kernel, black_box(&data)).unwrap());
}

#[divan::bench(consts = [0, 1])]
fn keccak256_sha3_crate<const LEN: usize>(bencher: Bencher) {
    let data = messages(1, KECCAK_LENS[LEN]).remove(0);
    bencher.counter(divan::counter::BytesCount::new(data.len())).bench(|| sha3::Keccak256::digest(black_box(&data)));
}

const K: usize = 32;
const SHARD: usize = 64 * 1024;

fn shards() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let data = messages(K, SHARD);
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let parity = encode_with("reed-solomon-simd NoSimd engine", &refs, K, Threads::SERIAL).unwrap();
    (data, parity)
}

#[divan::bench(args = engines())]
fn rs_encode(bencher: Bencher, engine: &str) {
    let (data, _) = shards();
    let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    bencher
        .counter(divan::counter::BytesCount::new(K * SHARD))
        .bench(|| encode_with(engine, black_box(&refs), K, Threads::SERIAL).unwrap());
}

#[divan::bench]
fn rs_encode_reed_solomon_simd(bencher: Bencher) {
    let (data, _) = shards();
    bencher.counter(divan::counter::BytesCount::new(K * SHARD)).bench(|| {
        let mut enc = ReedSolomonEncoder::new(K, K, SHARD).unwrap();
        for d in black_box(&data) {
            enc.add_original_shard(d).unwrap();
        }
        enc.encode().unwrap().recovery_iter().map(<[u8]>::to_vec).collect::<Vec<_>>()
    });
}

/// Calls alternate between losing the odd and the even data shards: the
/// decoder remembers its last loss pattern's error locator per thread, and
/// repeating one pattern would time only that.
#[divan::bench(args = engines())]
fn rs_reconstruct(bencher: Bencher, engine: &str) {
    let (data, parity) = shards();
    let pattern = |lost: usize| -> Vec<Option<&[u8]>> {
        (0..2 * K)
            .map(|i| if i < K { (i % 2 != lost).then_some(&data[i][..]) } else { Some(&parity[i - K][..]) })
            .collect()
    };
    let patterns = [pattern(0), pattern(1)];
    let call = std::cell::Cell::new(0usize);
    bencher.counter(divan::counter::BytesCount::new(K * SHARD)).bench_local(|| {
        call.set(call.get() + 1);
        reconstruct_with(engine, K, black_box(&patterns[call.get() % 2]), Threads::SERIAL).unwrap()
    });
}

#[divan::bench]
fn rs_reconstruct_reed_solomon_simd(bencher: Bencher) {
    let (data, parity) = shards();
    bencher.counter(divan::counter::BytesCount::new(K * SHARD)).bench(|| {
        let mut dec = ReedSolomonDecoder::new(K, K, SHARD).unwrap();
        for i in (1..K).step_by(2) {
            dec.add_original_shard(i, &black_box(&data)[i]).unwrap();
        }
        for (i, p) in parity.iter().enumerate() {
            dec.add_recovery_shard(i, p).unwrap();
        }
        dec.decode().unwrap().restored_original_iter().map(|(i, s)| (i, s.to_vec())).collect::<Vec<_>>()
    });
}
