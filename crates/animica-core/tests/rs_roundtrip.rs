mod common;

use animica_core::rs;
use animica_core::{Error, Threads};
use common::{all_threads, pseudo_random};

fn data(k: usize, len: usize, seed: u64) -> Vec<Vec<u8>> {
    (0..k).map(|i| pseudo_random(len, seed * 1000 + i as u64)).collect()
}

#[test]
fn every_erasure_pattern_odd_and_even() {
    let (k, m) = (5, 3);
    for len in [1, 2, 3, 64, 65, 127, 128, 1001] {
        let d = data(k, len, len as u64);
        let refs: Vec<&[u8]> = d.iter().map(Vec::as_slice).collect();
        let parity = rs::encode(&refs, m, Threads::SERIAL).unwrap();
        let full: Vec<&[u8]> = refs.iter().copied().chain(parity.iter().map(Vec::as_slice)).collect();
        for mask in 0u32..(1 << (k + m)) {
            if mask.count_ones() as usize > m {
                continue;
            }
            let given: Vec<Option<&[u8]>> =
                full.iter().enumerate().map(|(i, s)| (mask >> i & 1 == 0).then_some(*s)).collect();
            let restored = rs::reconstruct(k, &given, Threads::SERIAL).unwrap();
            for (i, s) in restored {
                assert_eq!(s, full[i], "len {len} mask {mask:08b} shard {i}");
            }
        }
        assert!(rs::verify(k, &full, Threads::SERIAL).unwrap());
    }
}

#[test]
fn parallel_stripes_equal_serial() {
    for (k, m, len) in [(32, 32, 65536), (16, 4, 200_001), (8, 8, 1 << 20)] {
        let d = data(k, len, 3);
        let refs: Vec<&[u8]> = d.iter().map(Vec::as_slice).collect();
        let serial = rs::encode(&refs, m, Threads::SERIAL).unwrap();
        for threads in all_threads() {
            assert_eq!(rs::encode(&refs, m, threads).unwrap(), serial, "{k}+{m}x{len} {threads:?}");
        }
        let full: Vec<&[u8]> = refs.iter().copied().chain(serial.iter().map(Vec::as_slice)).collect();
        let given: Vec<Option<&[u8]>> =
            full.iter().enumerate().map(|(i, s)| (i % 2 == 0 || i >= 2 * m).then_some(*s)).collect();
        let want = rs::reconstruct(k, &given, Threads::SERIAL).unwrap();
        for threads in all_threads() {
            assert_eq!(rs::reconstruct(k, &given, threads).unwrap(), want);
        }
        for (i, s) in want {
            assert_eq!(s, full[i]);
        }
    }
}

#[test]
fn shape_errors() {
    let d = data(3, 10, 1);
    let refs: Vec<&[u8]> = d.iter().map(Vec::as_slice).collect();
    assert!(matches!(rs::encode(&refs, 0, Threads::SERIAL), Err(Error::ShardCount { .. })));
    assert!(matches!(rs::encode(&[b"ab", b"abc"], 1, Threads::SERIAL), Err(Error::ShardLength { index: 1, .. })));
    assert!(matches!(rs::encode(&[b"", b""], 1, Threads::SERIAL), Err(Error::EmptyShard { index: 0 })));
    let given = [None, None, Some(&b"abcdefghij"[..]), None];
    assert!(matches!(
        rs::reconstruct(3, &given, Threads::SERIAL),
        Err(Error::TooManyErasures { missing: 3, parity: 1 })
    ));
}
