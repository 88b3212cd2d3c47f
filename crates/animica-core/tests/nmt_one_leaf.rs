//! Proofs of one leaf are checked three ways, which answer exactly alike,
//! claim by claim, for valid proofs and for every way a claim can be wrong
//! (a flipped byte anywhere in the proof, the wrong leaf, namespace or
//! root, a truncated or extended proof, another leaf's proof, another
//! width): `verify_range` runs the program any range needs (`recompute`);
//! `verify` climbs the leaf's path alone, a chain of hashes; `verify_many`
//! climbs many paths together, each level of all of them in one batch, on
//! every thread setting. The batch kernel is the process's (make test runs
//! this file on each backend through ANIMICA_BACKEND and without the simd
//! feature); the test names the one it ran on.

mod common;

use animica_core::nmt::{self, Claim, NmtHasher, Tree};
use animica_core::selection::kernels;
use common::{all_threads, pseudo_random};

struct Case {
    proof: Vec<u8>,
    leaf: Vec<u8>,
    namespace: Vec<u8>,
    root: Vec<u8>,
}

/// A tree of `n` leaves with `ns`-byte namespaces (runs of equal ones, the
/// last leaf in the maximum namespace) and a valid claim for each leaf.
fn valid_claims(n: usize, ns: usize, seed: u64) -> Vec<Case> {
    let r = pseudo_random(n, seed);
    let leaves: Vec<Vec<u8>> = (0..n).map(|i| pseudo_random(1 + usize::from(r[i]) * 2, seed ^ i as u64)).collect();
    let mut nss: Vec<Vec<u8>> = Vec::new();
    let mut v = 0u64;
    for (i, x) in r.iter().enumerate() {
        v += u64::from(x.is_multiple_of(3));
        let mut id = vec![0u8; ns];
        if i + 1 == n && n > 1 {
            id.fill(0xFF);
        } else {
            let be = v.to_be_bytes();
            let k = ns.min(8);
            id[ns - k..].copy_from_slice(&be[8 - k..]);
        }
        nss.push(id);
    }
    let l: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
    let s: Vec<&[u8]> = nss.iter().map(Vec::as_slice).collect();
    let tree = Tree::new(NmtHasher::new(ns).unwrap(), &l, &s, animica_core::Threads::SERIAL).unwrap();
    let root = tree.root();
    (0..n)
        .map(|i| Case {
            proof: tree.prove_range(i, i + 1).unwrap().to_bytes(),
            leaf: leaves[i].clone(),
            namespace: nss[i].clone(),
            root: root.clone(),
        })
        .collect()
}

/// Every way of spoiling `c` (and `other`, a claim from elsewhere).
fn spoiled(c: &Case, other: &Case, seed: u64) -> Vec<Case> {
    let copy = |proof: &[u8], leaf: &[u8], namespace: &[u8], root: &[u8]| Case {
        proof: proof.to_vec(),
        leaf: leaf.to_vec(),
        namespace: namespace.to_vec(),
        root: root.to_vec(),
    };
    let mut out = Vec::new();
    // A flipped bit in a few bytes of every part of the proof: header,
    // namespaces of the nodes (order checks) and their hashes.
    let r = pseudo_random(8, seed);
    for (k, &at) in r.iter().enumerate() {
        let mut p = c.proof.clone();
        let i = if k < 3 { k * 5 } else { usize::from(at) * 7 % p.len() };
        p[i] ^= 1 << (k % 8);
        out.push(copy(&p, &c.leaf, &c.namespace, &c.root));
    }
    let mut leaf = c.leaf.clone();
    leaf.push(0);
    out.push(copy(&c.proof, &leaf, &c.namespace, &c.root));
    let mut ns = c.namespace.clone();
    ns[0] ^= 0x80;
    out.push(copy(&c.proof, &c.leaf, &ns, &c.root));
    out.push(copy(&c.proof, &c.leaf, &c.namespace[1..], &c.root));
    let mut root = c.root.clone();
    let last = root.len() - 1;
    root[last] ^= 1;
    out.push(copy(&c.proof, &c.leaf, &c.namespace, &root));
    out.push(copy(&c.proof[..c.proof.len() - 1], &c.leaf, &c.namespace, &c.root));
    let mut longer = c.proof.clone();
    longer.push(0);
    out.push(copy(&longer, &c.leaf, &c.namespace, &c.root));
    // One node fewer, with the count adjusted: a well-formed wrong proof.
    let node = c.root.len();
    let count = u32::from_be_bytes(c.proof[11..15].try_into().unwrap());
    if count > 0 {
        let mut fewer = c.proof[..c.proof.len() - node].to_vec();
        fewer[11..15].copy_from_slice(&(count - 1).to_be_bytes());
        out.push(copy(&fewer, &c.leaf, &c.namespace, &c.root));
    }
    // The same proof claimed as an absence proof (flag and a leaf hash).
    let mut absent = c.proof.clone();
    absent[1] |= 0b10;
    absent.extend_from_slice(&c.root);
    out.push(copy(&absent, &c.leaf, &c.namespace, &c.root));
    if other.proof != c.proof {
        out.push(copy(&other.proof, &c.leaf, &c.namespace, &c.root));
        out.push(copy(&c.proof, &other.leaf, &other.namespace, &other.root));
    }
    out.push(copy(&[], &c.leaf, &c.namespace, &c.root));
    out
}

fn claims(cases: &[Case]) -> Vec<Claim<'_>> {
    cases.iter().map(|c| Claim { proof: &c.proof, leaf: &c.leaf, namespace: &c.namespace, root: &c.root }).collect()
}

/// Each claim's answer from `verify_range` (the program for any range),
/// checked to be `verify`'s (the climb alone) too.
fn answers(claims: &[Claim<'_>], namespace_size: Option<usize>) -> Vec<bool> {
    let range: Vec<bool> =
        claims.iter().map(|c| nmt::verify_range(c.proof, &[c.leaf], c.namespace, c.root, namespace_size)).collect();
    let alone: Vec<bool> =
        claims.iter().map(|c| nmt::verify(c.proof, c.leaf, c.namespace, c.root, namespace_size)).collect();
    for (i, (r, a)) in range.iter().zip(&alone).enumerate() {
        assert_eq!(r, a, "claim {i}: verify_range says {r}, verify {a}");
    }
    range
}

#[test]
fn the_three_ways_answer_alike() {
    let mut cases = Vec::new();
    for (n, ns, seed) in
        [(1, 8, 1), (2, 8, 2), (3, 29, 3), (7, 1, 4), (16, 29, 5), (33, 8, 6), (70, 29, 7), (129, 64, 8)]
    {
        let valid = valid_claims(n, ns, seed);
        for (i, c) in valid.iter().enumerate() {
            let other = &valid[(i + 1) % valid.len()];
            cases.extend(spoiled(c, other, seed ^ i as u64));
        }
        cases.extend(valid);
    }
    let claims = claims(&cases);
    let serial = answers(&claims, None);
    let holding: Vec<usize> = (0..cases.len()).filter(|&i| serial[i]).collect();
    // Every valid claim holds (261 leaves) and no spoiled one does.
    assert_eq!(holding.len(), 1 + 2 + 3 + 7 + 16 + 33 + 70 + 129, "claims that hold: {holding:?}");
    for threads in all_threads() {
        let many = nmt::verify_many(&claims, None, threads).unwrap();
        assert_eq!(many, serial, "{threads:?}");
    }
    // A namespace width given for the call applies to every claim.
    let eight = nmt::verify_many(&claims, Some(8), animica_core::Threads::Auto).unwrap();
    assert_eq!(eight, answers(&claims, Some(8)));
    for ((c, &got), &alone) in claims.iter().zip(&eight).zip(&serial) {
        assert_eq!(got, alone && c.proof.get(2) == Some(&8));
    }
    let info = format!("the_three_ways_answer_alike: verify_many ran on {}\n", kernels().sha256_batch);
    let _ = std::io::Write::write_all(&mut std::io::stderr(), info.as_bytes());
}

#[test]
fn verify_many_of_nothing_is_empty() {
    assert_eq!(nmt::verify_many(&[], None, animica_core::Threads::Auto).unwrap(), Vec::<bool>::new());
}

/// A sibling whose minimum is above its maximum, in a proof whose root was
/// recomputed with it (so the hashes all agree): refused all three ways,
/// whichever side the sibling is on. The same proofs with
/// a well-formed sibling hold, so the construction itself is right.
#[test]
fn a_malformed_sibling_is_refused_even_when_the_root_agrees() {
    use animica_core::hash::sha256;
    let h = NmtHasher::new(8).unwrap();
    let (a, b) = (1u64.to_be_bytes(), 2u64.to_be_bytes());
    let (leaf0, leaf1) = (b"left leaf".as_slice(), b"right leaf".as_slice());
    let tree = Tree::new(h, &[leaf0, leaf1], &[&a, &b], animica_core::Threads::SERIAL).unwrap();
    let node = |min: &[u8], max: &[u8], hash: &[u8]| [min, max, hash].concat();
    let leaf_node = |ns: &[u8], data: &[u8]| node(ns, ns, &sha256(&[&[0u8][..], ns, data].concat()));
    let parent = |left: &[u8], right: &[u8]| {
        // The maximum namespace (all 0xFF) never occurs here.
        node(&left[..8], &right[8..16], &sha256(&[&[1u8][..], left, right].concat()))
    };
    let (n0, n1) = (leaf_node(&a, leaf0), leaf_node(&b, leaf1));
    assert_eq!(parent(&n0, &n1), tree.root());
    let mut cases = Vec::new();
    for (sibling_min, sibling_max, holds) in [(&b, &a, false), (&b, &b, true)] {
        let sibling = node(sibling_min, sibling_max, &[7u8; 32]);
        // Leaf 0 with the sibling on its right...
        let mut proof = tree.prove_range(0, 1).unwrap().to_bytes();
        let at = proof.len() - sibling.len();
        proof[at..].copy_from_slice(&sibling);
        cases.push((Case { proof, leaf: leaf0.to_vec(), namespace: a.to_vec(), root: parent(&n0, &sibling) }, holds));
        // ... and leaf 1 with it on its left.
        let mut proof = tree.prove_range(1, 2).unwrap().to_bytes();
        proof[at..].copy_from_slice(&sibling);
        cases.push((Case { proof, leaf: leaf1.to_vec(), namespace: b.to_vec(), root: parent(&sibling, &n1) }, holds));
    }
    let want: Vec<bool> = cases.iter().map(|(_, holds)| *holds).collect();
    let cases: Vec<Case> = cases.into_iter().map(|(c, _)| c).collect();
    let claims = claims(&cases);
    assert_eq!(answers(&claims, None), want);
    assert_eq!(nmt::verify_many(&claims, None, animica_core::Threads::SERIAL).unwrap(), want);
}

/// Two siblings out of namespace order below the root (the left one's
/// maximum above the right one's minimum), in a proof whose root was
/// recomputed through them: the hashes agree and the root's range is well
/// formed, so only the order check can refuse it. Refused all three ways,
/// with the stray sibling on either side; the same proofs
/// with the sibling at the edge of the order (equal namespaces) hold.
#[test]
fn siblings_out_of_order_are_refused_even_when_the_root_agrees() {
    use animica_core::hash::sha256;
    let h = NmtHasher::new(8).unwrap();
    let ns = |v: u64| v.to_be_bytes().to_vec();
    let names: Vec<Vec<u8>> = (1..=4).map(ns).collect();
    let data: [&[u8]; 4] = [b"a", b"b", b"c", b"d"];
    let s: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
    let tree = Tree::new(h, &data, &s, animica_core::Threads::SERIAL).unwrap();
    let node = |min: &[u8], max: &[u8], hash: &[u8]| [min, max, hash].concat();
    // The maximum namespace (all 0xFF) never occurs here.
    let parent = |l: &[u8], r: &[u8]| node(&l[..8], &r[8..16], &sha256(&[&[1u8][..], l, r].concat()));
    let n: Vec<Vec<u8>> =
        (0..4).map(|i| node(&names[i], &names[i], &sha256(&[&[0u8][..], &names[i], data[i]].concat()))).collect();
    assert_eq!(parent(&parent(&n[0], &n[1]), &parent(&n[2], &n[3])), tree.root());
    const HEADER: usize = 15;
    let mut cases = Vec::new();
    let mut want = Vec::new();
    for (right, left, holds) in [(0, 5, false), (1, 4, true)] {
        // Leaf 0: its level-0 sibling (the proof's first node) on its right.
        let sibling = node(&ns(right), &ns(right), &[7u8; 32]);
        let mut proof = tree.prove_range(0, 1).unwrap().to_bytes();
        proof[HEADER..HEADER + sibling.len()].copy_from_slice(&sibling);
        let root = parent(&parent(&n[0], &sibling), &parent(&n[2], &n[3]));
        cases.push(Case { proof, leaf: data[0].to_vec(), namespace: names[0].clone(), root });
        // Leaf 3: its level-0 sibling (the proof's last node) on its left.
        let sibling = node(&ns(left), &ns(left), &[7u8; 32]);
        let mut proof = tree.prove_range(3, 4).unwrap().to_bytes();
        let at = proof.len() - sibling.len();
        proof[at..].copy_from_slice(&sibling);
        let root = parent(&parent(&n[0], &n[1]), &parent(&sibling, &n[3]));
        cases.push(Case { proof, leaf: data[3].to_vec(), namespace: names[3].clone(), root });
        want.extend([holds, holds]);
    }
    let claims = claims(&cases);
    assert_eq!(answers(&claims, None), want);
    assert_eq!(nmt::verify_many(&claims, None, animica_core::Threads::SERIAL).unwrap(), want);
}

/// `verify_many` hashes a parent once for adjacent climbs whose messages
/// are equal (climbs of one tree, from where their paths join). Two claims
/// that differ only in a namespace byte the parent's range ignores (the
/// minimum of a right sibling: the parent's minimum is the left child's)
/// have parents with the same child hashes and ranges, yet different
/// messages: the tampered one must not take the valid one's parent hash.
/// Each valid proof is claimed next to its tampered copy, in either order,
/// with another valid copy after them.
#[test]
fn a_claim_is_not_merged_with_one_that_differs_only_in_an_ignored_namespace() {
    const HEADER: usize = 15;
    let h = NmtHasher::new(8).unwrap();
    let names: Vec<Vec<u8>> = (0..16u64).map(|i| (4 * i + 4).to_be_bytes().to_vec()).collect();
    let data: Vec<Vec<u8>> = (0..16u8).map(|i| vec![i; 40]).collect();
    let (s, l): (Vec<&[u8]>, Vec<&[u8]>) = names.iter().zip(&data).map(|(n, d)| (&n[..], &d[..])).unzip();
    let tree = Tree::new(h, &l, &s, animica_core::Threads::SERIAL).unwrap();
    let valid = |leaf: usize| Case {
        proof: tree.prove_range(leaf, leaf + 1).unwrap().to_bytes(),
        leaf: data[leaf].clone(),
        namespace: names[leaf].clone(),
        root: tree.root(),
    };
    let mut cases = Vec::new();
    let mut want = Vec::new();
    for leaf in [0usize, 4, 8] {
        // An even leaf's level-0 sibling is on its right: the proof's node
        // after its left siblings (one per set bit of the index). Its
        // minimum's last byte, one less, stays above this leaf's namespace
        // and below the sibling's maximum: in order.
        let at = HEADER + (leaf as u64).count_ones() as usize * h.node_len() + 7;
        let mut tampered = valid(leaf);
        tampered.proof[at] -= 1;
        let tampered = || Case { proof: tampered.proof.clone(), ..valid(leaf) };
        cases.extend([valid(leaf), tampered(), valid(leaf), tampered(), valid(leaf)]);
        want.extend([true, false, true, false, true]);
    }
    let claims = claims(&cases);
    assert_eq!(answers(&claims, None), want);
    assert_eq!(nmt::verify_many(&claims, None, animica_core::Threads::SERIAL).unwrap(), want);
}
