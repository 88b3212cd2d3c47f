//! NMT proofs: decoding, and every verify, on real proofs of a small tree
//! damaged at chosen bytes, or on bytes alone.

use animica_core::Threads;
use animica_core::nmt::{self, Claim, NmtHasher, Proof, Tree};
use arbitrary::{Result, Unstructured};

/// A hasher, leaves, and their namespaces.
type Leaves = (NmtHasher, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// A tree of up to 40 short leaves with sorted namespaces (repeats, gaps
/// and the all-0xFF parity namespace included).
fn tree(u: &mut Unstructured<'_>) -> Result<Leaves> {
    let ns = u.int_in_range(1..=32)?;
    let n = u.int_in_range(1..=40)?;
    let mut ids: Vec<u8> = (0..n).map(|_| u.int_in_range(0..=8)).collect::<Result<_>>()?;
    ids.sort_unstable();
    let namespaces = ids.iter().map(|&v| if v == 8 { vec![0xFF; ns] } else { vec![v; ns] }).collect();
    let leaves = (0..n)
        .map(|_| {
            let len = u.int_in_range(0..=24)?;
            Ok(u.bytes(len)?.to_vec())
        })
        .collect::<Result<_>>()?;
    Ok((NmtHasher::new(ns).expect("1..=32 is a valid width"), leaves, namespaces))
}

/// Flips, truncates or extends `proof` as `u` says (or leaves it alone).
fn damage(u: &mut Unstructured<'_>, proof: &mut Vec<u8>) -> Result<bool> {
    let mut damaged = false;
    for _ in 0..u.int_in_range(0..=3)? {
        match u.int_in_range(0..=2)? {
            0 if !proof.is_empty() => {
                let at = u.choose_index(proof.len())?;
                let bit = 1u8 << u.int_in_range(0..=7)?;
                proof[at] ^= bit;
            }
            1 if !proof.is_empty() => {
                let at = u.choose_index(proof.len())?;
                proof.truncate(at);
            }
            _ => proof.push(u.arbitrary()?),
        }
        damaged = true;
    }
    Ok(damaged)
}

/// Proofs of ranges and namespaces of an arbitrary tree, intact or
/// damaged, and arbitrary bytes as proofs: verification never panics, an
/// intact proof verifies, a decoded proof encodes back to the same bytes,
/// and for each claim of one leaf `verify`, `verify_range` and
/// `verify_many` answer alike.
pub fn nmt_proofs(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let (h, leaves, namespaces) = tree(u)?;
    let l: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
    let s: Vec<&[u8]> = namespaces.iter().map(Vec::as_slice).collect();
    let t = Tree::new(h, &l, &s, Threads::SERIAL).expect("sorted namespaces of the right width");
    let root = t.root();
    assert_eq!(nmt::root(&h, &l, &s, Threads::SERIAL).expect("same inputs"), root, "Tree and root() disagree");

    let start = u.choose_index(l.len())?;
    let end = u.int_in_range(start + 1..=l.len())?;
    let mut proof = t.prove_range(start, end).expect("a range of the tree").to_bytes();
    if u.arbitrary()? {
        proof = u.arbitrary()?;
    }
    let damaged = damage(u, &mut proof)?;
    let ns = s[start];
    let uniform = s[start..end].iter().all(|x| *x == ns);
    let ok = nmt::verify_range(&proof, &l[start..end], ns, &root, None);
    if !damaged && proof == t.prove_range(start, end).expect("as above").to_bytes() {
        assert_eq!(ok, uniform, "an intact range proof of [{start}, {end})");
    }
    if let Ok(p) = Proof::from_bytes(&proof) {
        assert_eq!(p.to_bytes(), proof, "decoding then encoding changed the bytes");
    }

    // Namespace proofs, present or absent, intact or damaged.
    let query: Vec<u8> = match u.int_in_range(0..=2)? {
        0 => ns.to_vec(),
        1 => vec![u.int_in_range(0..=9)?; h.namespace_size()],
        _ => u.bytes(h.namespace_size())?.to_vec(),
    };
    let mut np = t.prove_namespace(&query).expect("a namespace of the right width").to_bytes();
    let members: Vec<&[u8]> = l.iter().zip(&s).filter(|(_, n)| **n == query.as_slice()).map(|(x, _)| *x).collect();
    let damaged = damage(u, &mut np)?;
    let holds = nmt::verify_namespace(&np, &members, &query, &root, Some(h.namespace_size()));
    if !damaged {
        assert!(holds, "an intact namespace proof of {query:?}");
    }

    // Single-leaf claims, intact and damaged, all at once and one by one.
    let mut proofs = Vec::new();
    for _ in 0..u.int_in_range(0..=12)? {
        let i = u.choose_index(l.len())?;
        let mut p = t.prove_range(i, i + 1).expect("a leaf of the tree").to_bytes();
        damage(u, &mut p)?;
        let leaf = if u.ratio(1, 8)? { l[u.choose_index(l.len())?] } else { l[i] };
        proofs.push((p, leaf, s[i]));
    }
    let claims: Vec<Claim<'_>> =
        proofs.iter().map(|(proof, leaf, ns)| Claim { proof, leaf, namespace: ns, root: &root }).collect();
    let alone: Vec<bool> = claims.iter().map(|c| nmt::verify(c.proof, c.leaf, c.namespace, c.root, None)).collect();
    let range: Vec<bool> =
        claims.iter().map(|c| nmt::verify_range(c.proof, &[c.leaf], c.namespace, c.root, None)).collect();
    assert_eq!(alone, range, "verify (one leaf's climb) and verify_range (any range's program) disagree");
    let many = nmt::verify_many(&claims, None, Threads::SERIAL).expect("no pool is needed");
    assert_eq!(many, alone, "verify_many and verify disagree");
    Ok(())
}
