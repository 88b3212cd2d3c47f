//! Our NMT against nmt-rs 0.2.5 (Sovereign Labs' Rust NMT, which
//! celestia-types builds on), with Celestia's 29-byte namespaces and the
//! maximum namespace ignored as Celestia does: the same roots, and range
//! and namespace proofs with the same nodes, over trees of every size up to
//! 70 leaves and a few larger ones, with repeated namespaces, gaps, and
//! trailing leaves in the maximum (parity) namespace.
//!
//! One known difference, where we follow celestiaorg/nmt (nmt.go), the
//! reference: for a namespace above every real one but below the maximum
//! namespace of trailing parity leaves, nmt.go (whose range check uses the
//! leaves' own namespaces) proves absence with the next leaf, while nmt-rs
//! (which checks against the root's range, the maximum namespace ignored)
//! returns an empty proof; likewise for the maximum namespace itself, which
//! nmt.go proves present. The test checks those cases against nmt.go's rule.

mod common;

use animica_core::nmt::{NmtHasher, Tree, root, root_streamed, verify_namespace};
use common::{all_threads, pseudo_random};
use nmt_rs::NamespaceMerkleHasher;
use nmt_rs::simple_merkle::db::MemDb;
use nmt_rs::{NamespaceId, NamespaceMerkleTree, NamespaceProof, NamespacedHash, NamespacedSha2Hasher};

const NS: usize = 29;
type Peer = NamespaceMerkleTree<MemDb<NamespacedHash<NS>>, NamespacedSha2Hasher<NS>, NS>;

fn bytes(h: &NamespacedHash<NS>) -> Vec<u8> {
    h.iter().collect()
}

/// `n` leaves of varying length in sorted namespaces (runs of equal ones,
/// even-numbered namespaces only so odd ones are absent inside the range),
/// the last `parity` of them in the maximum namespace.
fn tree_data(n: usize, parity: usize, seed: u64) -> (Vec<Vec<u8>>, Vec<[u8; NS]>) {
    let r = pseudo_random(n * 2 + 1, seed);
    let mut ns = 0u64;
    let mut leaves = Vec::new();
    let mut nss = Vec::new();
    for i in 0..n {
        ns += 2 * u64::from(r[i].is_multiple_of(3));
        let mut id = [0u8; NS];
        if i >= n - parity.min(n) {
            id = [0xFF; NS];
        } else {
            id[NS - 8..].copy_from_slice(&(ns + 2).to_be_bytes());
        }
        nss.push(id);
        leaves.push(pseudo_random(1 + usize::from(r[n + i]) * 3, seed ^ i as u64));
    }
    (leaves, nss)
}

fn peer(leaves: &[Vec<u8>], nss: &[[u8; NS]]) -> Peer {
    // Celestia's rule: the maximum (parity) namespace is ignored.
    let mut t = Peer::with_hasher(NamespacedSha2Hasher::with_ignore_max_ns(true));
    for (l, n) in leaves.iter().zip(nss) {
        t.push_leaf(l, NamespaceId(*n)).unwrap();
    }
    t
}

fn sizes() -> impl Iterator<Item = usize> {
    (1..=70).chain([127, 128, 129, 300, 512])
}

/// `root_streamed`, its leaves pinned from `l` and `s`.
fn streamed(h: &NmtHasher, l: &[&[u8]], s: &[&[u8]], threads: animica_core::Threads) -> Vec<u8> {
    let pinned = root_streamed(
        h,
        l.len(),
        threads,
        |range, leaves, nss| {
            leaves.copy_from_slice(&l[range.clone()]);
            nss.copy_from_slice(&s[range]);
            Ok::<(), ()>(())
        },
        |rest| rest(),
    );
    pinned.unwrap().unwrap()
}

/// Also sizes that end partway through `root`'s chunks of 256 leaves (and
/// `root_streamed`'s units of 1,024), and trees large enough to be built
/// in parallel.
#[test]
fn roots_match_nmt_rs() {
    let h = NmtHasher::new(NS).unwrap();
    for n in sizes().chain([255, 256, 257, 1023, 1024, 1025, 2047, 4097, 8191]) {
        for parity in [0, 1, n / 2] {
            let (leaves, nss) = tree_data(n, parity, n as u64 * 31 + parity as u64);
            let want = bytes(&peer(&leaves, &nss).root());
            let l: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
            let s: Vec<&[u8]> = nss.iter().map(|n| &n[..]).collect();
            for threads in all_threads() {
                assert_eq!(Tree::new(h, &l, &s, threads).unwrap().root(), want, "{n} leaves, {parity} parity");
                assert_eq!(root(&h, &l, &s, threads).unwrap(), want, "{n} leaves, {parity} parity");
                assert_eq!(streamed(&h, &l, &s, threads), want, "{n} leaves, {parity} parity");
            }
        }
    }
}

#[test]
fn range_proofs_match_nmt_rs() {
    let h = NmtHasher::new(NS).unwrap();
    for n in sizes().filter(|&n| n <= 70 || n == 128) {
        let (leaves, nss) = tree_data(n, 1, n as u64);
        let mut p = peer(&leaves, &nss);
        let l: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
        let s: Vec<&[u8]> = nss.iter().map(|n| &n[..]).collect();
        let t = Tree::new(h, &l, &s, Default::default()).unwrap();
        let step = (n / 9).max(1);
        for start in (0..n).step_by(step) {
            for end in (start + 1..=n).step_by(step) {
                let want: Vec<Vec<u8>> = p.build_range_proof(start..end).siblings.iter().map(bytes).collect();
                let got: Vec<Vec<u8>> = t.prove_range(start, end).unwrap().nodes().map(<[u8]>::to_vec).collect();
                assert_eq!(got, want, "{n} leaves, range {start}..{end}");
            }
        }
    }
}

#[test]
fn namespace_proofs_match_nmt_rs() {
    let h = NmtHasher::new(NS).unwrap();
    let mut nmt_go_rule = 0;
    for n in sizes().filter(|&n| n <= 70 || n == 128) {
        let (leaves, nss) = tree_data(n, 2, n as u64 + 7);
        let mut p = peer(&leaves, &nss);
        let l: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
        let s: Vec<&[u8]> = nss.iter().map(|n| &n[..]).collect();
        let t = Tree::new(h, &l, &s, Default::default()).unwrap();
        let real_max = nss.iter().copied().filter(|x| *x != [0xFF; NS]).max().unwrap_or([0; NS]);
        // Every namespace present, the absent odd ones between them, one
        // below and several above the data (namespaces are at most 2n + 2),
        // and the maximum one.
        let ids = (0..=2 * n as u64 + 6)
            .map(|v| {
                let mut id = [0u8; NS];
                id[NS - 8..].copy_from_slice(&v.to_be_bytes());
                id
            })
            .chain([[0xFF; NS]]);
        for id in ids {
            let v = hex::encode(&id[NS - 8..]);
            let ours = t.prove_namespace(&id).unwrap();
            let got: Vec<Vec<u8>> = ours.nodes().map(<[u8]>::to_vec).collect();
            match p.get_namespace_proof(NamespaceId(id)) {
                NamespaceProof::PresenceProof { proof, .. } => {
                    assert!(!ours.is_absence(), "{n} leaves, namespace {v}: we prove absence");
                    assert_eq!(got, proof.siblings.iter().map(bytes).collect::<Vec<_>>(), "{n} leaves, ns {v}");
                    assert_eq!((ours.start(), ours.end()), (proof.range.start as usize, proof.range.end as usize));
                }
                NamespaceProof::AbsenceProof { proof, leaf: None, .. }
                    if proof.siblings.is_empty() && id > real_max && id > nss[0] && id <= nss[n - 1] =>
                {
                    // nmt.go's rule: the maximum namespace's own leaves are
                    // proven present, a namespace below it absent by the
                    // first leaf above.
                    let start = nss.iter().position(|x| *x >= id).unwrap();
                    let end =
                        if nss[start] == id { nss.iter().rposition(|x| *x == id).unwrap() + 1 } else { start + 1 };
                    assert_eq!(ours.is_absence(), nss[start] != id, "{n} leaves, namespace {v}");
                    assert_eq!((ours.start(), ours.end()), (start, end), "{n} leaves, namespace {v}");
                    let found: Vec<&[u8]> = if ours.is_absence() { vec![] } else { l[start..end].to_vec() };
                    assert!(verify_namespace(&ours.to_bytes(), &found, &id, &t.root(), None), "{n}, {v}");
                    nmt_go_rule += 1;
                }
                NamespaceProof::AbsenceProof { proof, leaf, .. } => {
                    let want: Vec<Vec<u8>> = proof.siblings.iter().map(bytes).collect();
                    assert_eq!(got, want, "{n} leaves, absent namespace {v}");
                    if let Some(leaf) = leaf {
                        assert!(ours.is_absence(), "{n} leaves, namespace {v}");
                        assert_eq!(ours.leaf_hash(), Some(&bytes(&leaf)[..]), "{n} leaves, namespace {v}");
                    }
                }
            }
        }
    }
    // The difference above did occur (trees ending in parity leaves).
    assert!(nmt_go_rule > 0);
}
