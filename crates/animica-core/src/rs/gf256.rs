//! A small systematic MDS code over GF(2^8) for one byte column.
//!
//! `reed-solomon-simd` works on 16-bit symbols, so a shard of odd length
//! has one byte it cannot carry: padding it would make the parity one byte
//! longer than the data, and dropping that byte would lose information. The
//! last byte of every shard is coded here instead, with a Cauchy matrix
//! (every square submatrix invertible, so any `k` of `k + m` bytes recover
//! the column). That needs `k + m <= 256` distinct field elements.

/// Largest `k + m` this code supports.
pub(crate) const MAX_SHARDS: usize = 256;

struct Tables {
    exp: [u8; 512],
    log: [u8; 256],
}

const fn tables() -> Tables {
    // Generator 2 over the polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D).
    let mut exp = [0u8; 512];
    let mut log = [0u8; 256];
    let mut x: u16 = 1;
    let mut i = 0;
    while i < 255 {
        exp[i] = x as u8;
        exp[i + 255] = x as u8;
        log[x as usize] = i as u8;
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= 0x11D;
        }
        i += 1;
    }
    Tables { exp, log }
}

static T: Tables = tables();

fn mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 { 0 } else { T.exp[T.log[a as usize] as usize + T.log[b as usize] as usize] }
}

fn inv(a: u8) -> u8 {
    debug_assert!(a != 0);
    T.exp[255 - T.log[a as usize] as usize]
}

/// Coefficient of data byte `j` in parity byte `i` (`x_i = i`, `y_j = m + j`).
fn coef(m: usize, i: usize, j: usize) -> u8 {
    inv((i ^ (m + j)) as u8)
}

/// Parity bytes `out[i]` (`i < m`) for the data bytes `data` (`k` of them).
pub(crate) fn encode(data: &[u8], out: &mut [u8]) {
    let m = out.len();
    for (i, o) in out.iter_mut().enumerate() {
        *o = data.iter().enumerate().fold(0, |acc, (j, &d)| acc ^ mul(coef(m, i, j), d));
    }
}

/// Fill the `None` entries of a column of `k` data then `m` parity bytes.
/// The caller guarantees at most `m` entries are missing.
pub(crate) fn reconstruct(k: usize, column: &mut [Option<u8>]) {
    let m = column.len() - k;
    let erased: Vec<usize> = (0..k).filter(|&j| column[j].is_none()).collect();
    if !erased.is_empty() {
        let rows: Vec<usize> = (0..m).filter(|&i| column[k + i].is_some()).take(erased.len()).collect();
        // Solve C[rows][erased] · x = parity[rows] - C[rows][known] · known.
        let e = erased.len();
        let mut a: Vec<Vec<u8>> = rows
            .iter()
            .map(|&i| {
                let mut rhs = column[k + i].unwrap_or(0);
                for (j, d) in column[..k].iter().enumerate() {
                    if let Some(d) = d {
                        rhs ^= mul(coef(m, i, j), *d);
                    }
                }
                let mut row: Vec<u8> = erased.iter().map(|&j| coef(m, i, j)).collect();
                row.push(rhs);
                row
            })
            .collect();
        // Gauss-Jordan; every pivot is non-zero because Cauchy submatrices
        // are invertible, so only row swaps for zero entries are needed.
        for c in 0..e {
            let p = (c..e).find(|&r| a[r][c] != 0).unwrap_or(c);
            a.swap(c, p);
            let pinv = inv(a[c][c].max(1));
            for v in a[c].iter_mut() {
                *v = mul(*v, pinv);
            }
            for r in 0..e {
                if r != c && a[r][c] != 0 {
                    let f = a[r][c];
                    let pivot = a[c].clone();
                    for (v, pv) in a[r].iter_mut().zip(pivot) {
                        *v ^= mul(f, pv);
                    }
                }
            }
        }
        for (row, &j) in a.iter().zip(&erased) {
            column[j] = Some(row[e]);
        }
    }
    if column[k..].iter().any(Option::is_none) {
        let data: Vec<u8> = column[..k].iter().map(|d| d.unwrap_or(0)).collect();
        let mut parity = vec![0u8; m];
        encode(&data, &mut parity);
        for (slot, p) in column[k..].iter_mut().zip(parity) {
            slot.get_or_insert(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_inverse() {
        for a in 1..=255u8 {
            assert_eq!(mul(a, inv(a)), 1, "a = {a}");
        }
    }

    #[test]
    fn every_erasure_pattern_small() {
        let (k, m) = (4, 3);
        let data = [11u8, 0, 250, 77];
        let mut parity = [0u8; 3];
        encode(&data, &mut parity);
        let full: Vec<u8> = data.iter().chain(&parity).copied().collect();
        for mask in 0u32..(1 << (k + m)) {
            if mask.count_ones() as usize > m {
                continue;
            }
            let mut col: Vec<Option<u8>> =
                full.iter().enumerate().map(|(i, &b)| (mask & (1 << i) == 0).then_some(b)).collect();
            reconstruct(k, &mut col);
            let got: Vec<u8> = col.into_iter().map(|b| b.unwrap()).collect();
            assert_eq!(got, full, "mask {mask:07b}");
        }
    }
}
