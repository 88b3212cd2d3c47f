//! Tests of the pools, the teams and the schedulers built on them.

use super::*;

/// Bytes plus 64 per item, read only until the cap is reached.
#[test]
fn work_counts_until_the_cap() {
    let items = [&b"abc"[..], &[0u8; 100][..], &[][..]];
    assert_eq!(work(&items, usize::MAX), 3 + 100 + 3 * 64);
    assert_eq!(work(&items, 100), 3 + 64 + 100 + 64);
    assert_eq!(work(&[] as &[&[u8]], 1), 0);
    // Items past the cap are never read.
    enum Item {
        Big,
        Unread,
    }
    impl AsRef<[u8]> for Item {
        fn as_ref(&self) -> &[u8] {
            match self {
                Item::Big => &[1; 200],
                Item::Unread => unreachable!("read past the cap"),
            }
        }
    }
    assert_eq!(work(&[Item::Big, Item::Unread], 10), 264);
}

/// Every slot prepared once and worked once after being prepared, on
/// one thread and on two; an error stops the preparing.
#[test]
fn overlapped_prepares_then_works_every_chunk() {
    let items: Vec<u64> = (0..10_000).collect();
    for threads in [Threads::SERIAL, Threads::Max(NonZeroUsize::new(2).unwrap())] {
        let mut out = vec![(false, 0u64); items.len()];
        let r = overlapped(
            threads,
            &items,
            &mut out,
            777,
            |o: &mut [(bool, u64)]| {
                o.iter_mut().for_each(|s| s.0 = true);
                Ok::<(), ()>(())
            },
            |i, o| {
                for (x, s) in i.iter().zip(o) {
                    assert!(s.0, "worked before prepared");
                    s.1 = x * 3;
                }
            },
        );
        assert_eq!(r.unwrap(), Ok(()));
        assert!(out.iter().zip(&items).all(|(s, x)| s.0 && s.1 == x * 3));

        let mut out = vec![(false, 0u64); items.len()];
        let mut calls = 0;
        let r = overlapped(
            threads,
            &items,
            &mut out,
            1000,
            |o: &mut [(bool, u64)]| {
                calls += 1;
                if calls == 3 {
                    return Err("no memory");
                }
                o.iter_mut().for_each(|s| s.0 = true);
                Ok(())
            },
            |_, o| o.iter_mut().for_each(|s| s.1 = 1),
        );
        assert_eq!(r.unwrap(), Err("no memory"));
        assert_eq!(calls, 3);
        assert!(out[..2000].iter().all(|s| s.1 == 1) && out[2000..].iter().all(|s| s.1 == 0));
    }
    assert!(overlapped(Threads::SERIAL, &items, &mut [0u8; 3], 1, |_| Ok::<(), ()>(()), |_, _| ()).is_err());
}

/// `finish` sees every unit worked, inside `idle`, on the calling
/// thread (told whether it may use the pool); an `idle` that does not
/// call what it is given still gets the answer; an error skips `finish`.
#[test]
fn pipelined_finishes_after_every_unit() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    for threads in [Threads::SERIAL, Threads::Max(NonZeroUsize::new(2).unwrap())] {
        for calls_rest in [true, false] {
            let worked = AtomicUsize::new(0);
            let mut idled = 0;
            let r = pipelined(
                threads,
                0..100usize,
                |_| Ok::<(), ()>(()),
                |u| {
                    worked.fetch_add(u, Ordering::SeqCst);
                },
                |rest| {
                    idled += 1;
                    if calls_rest {
                        rest();
                    }
                },
                |par| (par, worked.load(Ordering::SeqCst), rayon::current_thread_index().is_some()),
            );
            let parallel = pool(threads).unwrap().is_some();
            assert_eq!(r.unwrap(), Ok((parallel, 4950, false)));
            assert_eq!(idled, 1);
        }
        let finished = AtomicUsize::new(0);
        let r = pipelined(
            threads,
            0..100usize,
            |u| if *u == 50 { Err(*u) } else { Ok(()) },
            |_| (),
            |rest| rest(),
            |_| finished.fetch_add(1, Ordering::SeqCst),
        );
        assert_eq!(r.unwrap(), Err(50));
        assert_eq!(finished.load(Ordering::SeqCst), 0);
    }
}

/// Called from the pool's own workers, every one of them at once, it
/// still finishes: no worker blocks while the units wait for one.
#[test]
fn pipelined_from_the_pools_own_workers_finishes() {
    let two = Threads::Max(NonZeroUsize::new(2).unwrap());
    let run = || pipelined(two, 0..1000u64, |_| Ok::<(), ()>(()), |_| (), |rest| rest(), |_| 7).unwrap();
    match pool(two).unwrap() {
        Some(p) => assert_eq!(p.install(|| rayon::join(run, run)), (Ok(7), Ok(7))),
        None => assert_eq!(run(), Ok(7)), // built without threads
    }
}

/// A private pool of `n` workers, apart from the process's pools.
fn own_pool(n: usize) -> ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap()
}

/// Holds every worker of `pool` until the returned function is called.
fn hold_workers(pool: &ThreadPool) -> impl FnOnce() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let (held, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    for _ in 0..pool.current_num_threads() {
        let (held, release) = (Arc::clone(&held), Arc::clone(&release));
        pool.spawn(move || {
            held.fetch_add(1, Ordering::SeqCst);
            while !release.load(Ordering::SeqCst) {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
    }
    while held.load(Ordering::SeqCst) < pool.current_num_threads() {
        std::thread::yield_now();
    }
    move || release.store(true, Ordering::SeqCst)
}

/// Every part worked once, with its own index and items, whether the
/// pool has one worker or several, and each thread's state made once.
#[test]
fn every_part_is_worked_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    for workers in [1, 2, 3] {
        let pool = own_pool(workers);
        for (len, part_len) in [(0, 4), (1, 4), (4, 4), (5, 4), (1000, 7), (1000, 1), (64, 100)] {
            let mut out: Vec<(usize, usize)> = (0..len).map(|i| (i, usize::MAX)).collect();
            let inits = AtomicUsize::new(0);
            let init = || inits.fetch_add(1, Ordering::SeqCst);
            for pool in [Some(&pool), None] {
                inits.store(0, Ordering::SeqCst);
                parts_on(pool, &mut out, part_len, init, |_, i, part| {
                    assert_eq!(part.len(), part_len.min(len - i * part_len));
                    for (k, slot) in part.iter_mut().enumerate() {
                        assert_eq!(slot.0, i * part_len + k);
                        slot.1 = i;
                    }
                });
                assert!(out.iter().all(|&(at, part)| part == at / part_len), "{workers} {len} {part_len}");
                assert!(inits.load(Ordering::SeqCst) <= workers.max(1), "a thread made its state twice");
            }
        }
    }
}

/// With every worker busy elsewhere, the calling thread does all the
/// work and returns without waiting for them; a helper that starts
/// afterwards does nothing.
#[test]
fn the_caller_does_not_wait_for_busy_workers() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pool = own_pool(2);
    let release = hold_workers(&pool);
    let worked = Arc::new(AtomicUsize::new(0));
    let mut out = vec![0u8; 100];
    parts_on(
        Some(&pool),
        &mut out,
        10,
        || (),
        |_, _, part| {
            worked.fetch_add(1, Ordering::SeqCst);
            part.fill(1);
        },
    );
    assert_eq!(worked.load(Ordering::SeqCst), 10);
    assert!(out.iter().all(|&b| b == 1));
    release();
    // The helpers now start, find the team ended, and leave: nothing
    // more is worked, and the pool is free again.
    pool.install(|| ());
    std::thread::sleep(std::time::Duration::from_millis(20));
    pool.install(|| ());
    assert_eq!(worked.load(Ordering::SeqCst), 10);
}

/// A unit's panic reaches the caller once no thread works any more,
/// wherever the unit ran; the pool keeps working afterwards.
#[test]
fn a_panicking_part_is_raised_on_the_caller() {
    let pool = own_pool(2);
    for bad in [0, 5, 9] {
        let mut out = vec![0u8; 100];
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            parts_on(
                Some(&pool),
                &mut out,
                10,
                || (),
                |_, i, _| {
                    assert_ne!(i, bad, "unit {bad} fails");
                    std::thread::sleep(std::time::Duration::from_micros(200));
                },
            );
        }));
        let msg = r.expect_err("the panic is raised").downcast::<String>().unwrap();
        assert!(msg.contains(&format!("unit {bad} fails")), "{msg}");
    }
    let mut out = vec![0u8; 100];
    parts_on(Some(&pool), &mut out, 10, || (), |_, _, p| p.fill(2));
    assert!(out.iter().all(|&b| b == 2));
}

/// Called from the pool's own workers, every one of them at once, it
/// still finishes (no worker waits for a unit nobody will take).
#[test]
fn parts_from_the_pools_own_workers_finish() {
    let pool = own_pool(2);
    let run = || {
        let mut out = vec![0u32; 10_000];
        parts_on(Some(&pool), &mut out, 100, || (), |_, i, p| p.fill(i as u32));
        out.iter().enumerate().all(|(k, &v)| v as usize == k / 100)
    };
    assert_eq!(pool.install(|| rayon::join(run, run)), (true, true));
}

/// With every worker busy elsewhere, the calling thread prepares and
/// works every unit itself and finishes, instead of waiting for them.
#[test]
fn pipelined_does_not_wait_for_busy_workers() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pool = own_pool(2);
    let release = hold_workers(&pool);
    let worked = AtomicUsize::new(0);
    let r = pipelined_on(
        Some(&pool),
        0..50usize,
        |_| Ok::<(), ()>(()),
        |u| {
            worked.fetch_add(u, Ordering::SeqCst);
        },
        |rest| rest(),
        |par| (par, worked.load(Ordering::SeqCst)),
    );
    assert_eq!(r, Ok((true, 1225)));
    release();
}
