//! Reed-Solomon: reconstruct and verify on real codes with shards lost,
//! damaged or resized, and on arbitrary shard lists.

use animica_core::{Threads, rs};
use arbitrary::{Result, Unstructured};

/// Shard lists from the bytes. A code of `k + m` shards (odd lengths
/// included) is encoded, then shards are erased (restored exactly when at
/// most `m` are), a byte is flipped (`verify` says false), or a shard is
/// resized (an error, never a panic); or the list is arbitrary altogether.
pub fn rs_shards(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    if u.ratio(1, 4)? {
        // Any list: k and the shards (None for lost) as they come.
        let k = u.int_in_range(0..=40)?;
        let shards: Vec<Option<Vec<u8>>> = u.arbitrary()?;
        let refs: Vec<Option<&[u8]>> = shards.iter().map(Option::as_deref).collect();
        let _ = rs::reconstruct(k, &refs, Threads::SERIAL);
        let full: Vec<&[u8]> = shards.iter().flatten().map(Vec::as_slice).collect();
        let _ = rs::verify(k, &full, Threads::SERIAL);
        return Ok(());
    }
    let k = u.int_in_range(1..=24)?;
    let m = u.int_in_range(1..=24)?;
    let len = u.int_in_range(1..=300)?;
    let data: Vec<Vec<u8>> = (0..k).map(|_| u.bytes(len).map_or_else(|_| vec![7; len], <[u8]>::to_vec)).collect();
    let d: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
    let parity = rs::encode(&d, m, Threads::SERIAL).expect("1..=24 shards of each kind, any length");
    let all: Vec<Vec<u8>> = data.iter().chain(&parity).cloned().collect();
    let whole: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    assert!(rs::verify(k, &whole, Threads::SERIAL).expect("a whole code"), "a fresh code does not verify");

    // Erase some shards.
    let mut shards: Vec<Option<&[u8]>> = whole.iter().map(|s| Some(*s)).collect();
    let mut erased = 0;
    for shard in &mut shards {
        if u.ratio(1, 3)? {
            *shard = None;
            erased += 1;
        }
    }
    match rs::reconstruct(k, &shards, Threads::SERIAL) {
        Ok(restored) => {
            assert!(erased <= m, "{erased} erasures of {m} parity were 'restored'");
            for (i, shard) in restored {
                assert_eq!(shard, all[i], "shard {i} restored wrong ({k}+{m}, {len} bytes)");
            }
        }
        Err(_) => assert!(erased > m, "{erased} erasures of {m} parity could not be restored ({k}+{m}, {len} bytes)"),
    }

    // One flipped byte anywhere: the parity no longer matches.
    let mut bad = all.clone();
    let (i, at) = (u.choose_index(k + m)?, u.choose_index(len)?);
    bad[i][at] ^= 1 << u.int_in_range(0..=7)?;
    let bad_refs: Vec<&[u8]> = bad.iter().map(Vec::as_slice).collect();
    assert!(
        !rs::verify(k, &bad_refs, Threads::SERIAL).expect("same shape"),
        "shard {i} byte {at} flipped, still verifies"
    );

    // One shard of another length: refused, whichever shards are lost.
    let mut resized = all.clone();
    let grow = u.arbitrary::<bool>()?;
    if grow || resized[i].len() > 1 {
        if grow {
            resized[i].push(0)
        } else {
            resized[i].pop();
        }
        let refs: Vec<Option<&[u8]>> =
            resized.iter().zip(&shards).map(|(s, keep)| keep.map(|_| s.as_slice())).collect();
        // Refused when another shard present has the old length (a lone
        // shard has nothing to disagree with).
        let others = refs.iter().enumerate().any(|(j, r)| j != i && r.is_some());
        if refs[i].is_some() && others && erased <= m {
            assert!(rs::reconstruct(k, &refs, Threads::SERIAL).is_err(), "a shard of another length was accepted");
        }
    }
    Ok(())
}
