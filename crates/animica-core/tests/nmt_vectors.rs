mod common;

use animica_core::nmt::{self, NmtHasher, Proof, Tree};
use common::{all_threads, hex, pseudo_random, vectors};

fn tree(case: &serde_json::Value) -> (NmtHasher, Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let h = NmtHasher::new(case["namespace_size"].as_u64().unwrap() as usize).unwrap();
    let leaves = case["leaves"].as_array().unwrap().iter().map(hex).collect();
    let nss = case["namespaces"].as_array().unwrap().iter().map(hex).collect();
    (h, leaves, nss)
}

fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
    v.iter().map(Vec::as_slice).collect()
}

#[test]
fn celestia_published_example() {
    let v = vectors("nmt.json");
    let ex = &v["celestia_example"];
    let h = NmtHasher::new(1).unwrap();
    let leaves: Vec<Vec<u8>> =
        ex["leaves"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().as_bytes().to_vec()).collect();
    let nss: Vec<Vec<u8>> = ex["namespaces"].as_array().unwrap().iter().map(hex).collect();
    let ns = hex(&ex["namespace"]);
    let t = Tree::new(h, &refs(&leaves), &refs(&nss), Default::default()).unwrap();
    let p = t.prove_namespace(&ns).unwrap();
    assert_eq!((p.start(), p.end()), (2, 3));
    let nodes: Vec<String> = p.nodes().map(hex::encode).collect();
    let want: Vec<String> = ex["nodes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()).collect();
    assert_eq!(nodes, want);
    assert!(nmt::verify_namespace(&p.to_bytes(), &[&leaves[2]], &ns, &t.root(), None));
}

#[test]
fn reference_trees_every_path() {
    let v = vectors("nmt.json");
    for case in v["cases"].as_array().unwrap() {
        let (h, leaves, nss) = tree(case);
        let (l, n) = (refs(&leaves), refs(&nss));
        let want_root = hex(&case["root"]);
        for threads in all_threads() {
            assert_eq!(nmt::root(&h, &l, &n, threads).unwrap(), want_root);
            assert_eq!(Tree::new(h, &l, &n, threads).unwrap().root(), want_root);
        }
        let t = Tree::new(h, &l, &n, Default::default()).unwrap();
        for p in case["proofs"].as_array().unwrap() {
            let want = hex(&p["proof"]);
            let got = if p["kind"] == "range" {
                t.prove_range(p["start"].as_u64().unwrap() as usize, p["end"].as_u64().unwrap() as usize).unwrap()
            } else {
                t.prove_namespace(&hex(&p["namespace"])).unwrap()
            };
            assert_eq!(got.to_bytes(), want);
            assert_eq!(Proof::from_bytes(&want).unwrap(), got);
        }
    }
}

/// The vectors' verdicts, which testdata/check_nmt_go.py compares with
/// celestiaorg/nmt's VerifyNamespace: the parity namespace's inclusion
/// proof and nmt v0.16's empty proof both verify, at every width.
#[test]
fn verify_namespace_verdicts() {
    let v = vectors("nmt.json");
    let rows = v["verify_namespace"].as_array().unwrap();
    assert_eq!(rows.len(), 64 * 7);
    for row in rows {
        let leaves: Vec<Vec<u8>> = row["leaves"].as_array().unwrap().iter().map(hex).collect();
        let (proof, ns, root) = (hex(&row["proof"]), hex(&row["namespace"]), hex(&row["root"]));
        let got = nmt::verify_namespace(&proof, &refs(&leaves), &ns, &root, None);
        assert_eq!(got, row["valid"].as_bool().unwrap(), "{row}");
    }
}

#[test]
fn tampering_any_byte_fails_verification() {
    let h = NmtHasher::new(8).unwrap();
    let leaves: Vec<Vec<u8>> = (0..37).map(|i| pseudo_random(40, i)).collect();
    let nss: Vec<Vec<u8>> = (0..37u64).map(|i| (i / 5).to_be_bytes().to_vec()).collect();
    let (l, n) = (refs(&leaves), refs(&nss));
    let t = Tree::new(h, &l, &n, Default::default()).unwrap();
    let root = t.root();
    let ns = 3u64.to_be_bytes();
    let p = t.prove_namespace(&ns).unwrap();
    let members = &l[p.start()..p.end()];
    let good = p.to_bytes();
    assert!(nmt::verify_namespace(&good, members, &ns, &root, None));
    for i in 0..good.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = good.clone();
            bad[i] ^= bit;
            assert!(!nmt::verify_namespace(&bad, members, &ns, &root, None), "byte {i}");
            assert!(!nmt::verify_range(&bad, members, &ns, &root, None), "byte {i}");
        }
    }
}

#[test]
fn garbage_never_panics() {
    for seed in 0..2000u64 {
        let len = (seed % 200) as usize;
        let mut b = pseudo_random(len, seed);
        if len > 3 {
            b[0] = 1;
            b[1] = 1 + (seed % 2) as u8 * 2;
            b[2] = 1 + (seed % 9) as u8;
        }
        let root = pseudo_random(48, seed + 1);
        assert!(!nmt::verify(&b, b"leaf", &[0u8; 8], &root, None));
        let _ = nmt::verify_namespace(&b, &[], &[0u8; 8], &root, None);
    }
}
