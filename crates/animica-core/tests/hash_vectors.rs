mod common;

use animica_core::hash::{self, Algorithm, Blake3Mode, StreamHasher};
use common::{all_threads, hex, pseudo_random, vectors};

/// The vectors' comment names this context and asks runners to hardcode it.
const BLAKE3_CONTEXT: &str = "BLAKE3 2019-12-27 16:29:52 test vectors context";

#[test]
fn blake3_official_vectors_every_mode_and_path() {
    let v = vectors("blake3.json");
    let key: [u8; 32] = v["key"].as_str().unwrap().as_bytes().try_into().unwrap();
    for case in v["cases"].as_array().unwrap() {
        let n = case["input_len"].as_u64().unwrap() as usize;
        let input: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        for (field, mode) in [
            ("hash", Blake3Mode::Hash),
            ("keyed_hash", Blake3Mode::Keyed(&key)),
            ("derive_key", Blake3Mode::DeriveKey(BLAKE3_CONTEXT)),
        ] {
            let want = hex(&case[field]);
            for threads in all_threads() {
                let mut out = vec![0u8; want.len()];
                hash::blake3_xof(&input, mode, threads, &mut out).unwrap();
                assert_eq!(out, want, "{field} len {n} {threads:?}");
            }
            let mut s = StreamHasher::blake3(mode);
            for chunk in input.chunks(1000) {
                s.update(chunk, Default::default()).unwrap();
            }
            assert_eq!(s.finalize()[..], want[..32], "{field} streaming len {n}");
        }
    }
}

fn check_kat(file: &str, alg: Algorithm) {
    let v = vectors(file);
    let cases = v["cases"].as_array().unwrap();
    let msgs: Vec<Vec<u8>> = cases.iter().map(|c| hex(&c["msg"])).collect();
    let want: Vec<Vec<u8>> = cases.iter().map(|c| hex(&c["digest"])).collect();
    for (m, w) in msgs.iter().zip(&want) {
        assert_eq!(alg.digest(m, Default::default()).unwrap().to_vec(), *w, "{file}");
        let mut s = StreamHasher::new(alg);
        let (a, b) = m.split_at(m.len() / 3);
        s.update(a, Default::default()).unwrap();
        s.update(b, Default::default()).unwrap();
        assert_eq!(s.finalize().to_vec(), *w);
    }
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    for threads in all_threads() {
        let got = hash::many(alg, &refs, threads).unwrap();
        assert_eq!(got.iter().map(|d| d.to_vec()).collect::<Vec<_>>(), want);
    }
}

#[test]
fn sha256_nist_vectors() {
    check_kat("sha256.json", Algorithm::Sha256);
}

#[test]
fn keccak256_kat_vectors() {
    check_kat("keccak256.json", Algorithm::Keccak256);
}

#[test]
fn large_inputs_same_on_every_path() {
    let data = pseudo_random(5 << 20, 7);
    let want = hash::blake3(&data, animica_core::Threads::SERIAL).unwrap();
    for threads in all_threads() {
        assert_eq!(hash::blake3(&data, threads).unwrap(), want);
    }
    let items: Vec<&[u8]> = data.chunks(61).collect();
    let serial = hash::many(Algorithm::Keccak256, &items, animica_core::Threads::SERIAL).unwrap();
    for threads in all_threads() {
        assert_eq!(hash::many(Algorithm::Keccak256, &items, threads).unwrap(), serial);
    }
}

#[test]
fn blake3_mode_validation() {
    assert!(Blake3Mode::new(Some(&[0u8; 31]), None).is_err());
    assert!(Blake3Mode::new(Some(&[0u8; 32]), Some("c")).is_err());
    assert!("md5".parse::<Algorithm>().is_err());
    assert_eq!("SHA-256".parse::<Algorithm>().unwrap(), Algorithm::Sha256);
}
