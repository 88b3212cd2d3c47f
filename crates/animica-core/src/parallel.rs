//! The seam between serial and parallel code: per-process rayon pools.
//!
//! Nothing in this crate uses rayon's global pool. A forked child inherits
//! the parent's memory but none of its threads, so a pool created before
//! `fork()` would wait forever for workers that do not exist. Pools here are
//! keyed by process id and built lazily on first use in each process; a
//! child simply builds its own. The parent's pool objects are leaked in the
//! child on purpose: dropping them would touch locks whose owners are gone.

use std::num::NonZeroUsize;
#[cfg(feature = "threads")]
use std::ptr;
#[cfg(feature = "threads")]
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Condvar, Mutex};

use rayon::ThreadPool;

use crate::error::{Error, Result};

/// How many threads an operation may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Threads {
    /// The process default: `RAYON_NUM_THREADS` if set, else one per logical core.
    #[default]
    Auto,
    /// At most this many (1 means serial on the calling thread).
    Max(NonZeroUsize),
}

impl Threads {
    /// The serial setting.
    pub const SERIAL: Threads = Threads::Max(NonZeroUsize::MIN);

    /// `None` -> [`Threads::Auto`]; `Some(0)` is an error.
    pub fn from_option(max_threads: Option<usize>) -> Result<Threads> {
        match max_threads {
            None => Ok(Threads::Auto),
            Some(n) => NonZeroUsize::new(n).map(Threads::Max).ok_or(Error::ZeroThreads),
        }
    }
}

#[cfg(feature = "threads")]
struct Pools {
    pid: u32,
    default: ThreadPool,
    /// Pools of other sizes, built on demand for `max_threads=n`.
    sized: Mutex<Vec<(usize, &'static ThreadPool)>>,
}

#[cfg(feature = "threads")]
static CURRENT: AtomicPtr<Pools> = AtomicPtr::new(ptr::null_mut());

#[cfg(feature = "threads")]
fn build_pool(threads: usize) -> Result<ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("animica-{i}"))
        .build()
        .map_err(|e| Error::ThreadPool { reason: e.to_string() })
}

#[cfg(feature = "threads")]
fn pools() -> Result<&'static Pools> {
    let pid = std::process::id();
    let seen = CURRENT.load(Ordering::Acquire);
    // SAFETY: a non-null pointer in CURRENT always comes from Box::into_raw
    // below and is never freed once published, so it is valid for 'static.
    if let Some(p) = unsafe { seen.as_ref() }.filter(|p| p.pid == pid) {
        return Ok(p);
    }
    // First use in this process (fresh start or after fork). `0` lets rayon
    // honour RAYON_NUM_THREADS, falling back to the number of logical cores.
    let fresh = Box::into_raw(Box::new(Pools { pid, default: build_pool(0)?, sized: Mutex::new(Vec::new()) }));
    match CURRENT.compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: `fresh` was just created by Box::into_raw and is now
        // published; it is never freed.
        Ok(_) => Ok(unsafe { &*fresh }),
        Err(winner) => {
            // Another thread of this process published first. Ours was
            // never shared, so it can be dropped normally.
            // SAFETY: `fresh` came from Box::into_raw and was not published.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: as above, published pointers are valid forever; the
            // winner was built by this process because it raced with us
            // after the fork, so its pid is ours.
            Ok(unsafe { &*winner })
        }
    }
}

/// The pool to run parallel work on, or `None` when the work should run
/// serially on the calling thread (one thread allowed or available).
/// Built without the `threads` feature, this is always `None`.
pub fn pool(threads: Threads) -> Result<Option<&'static ThreadPool>> {
    #[cfg(not(feature = "threads"))]
    {
        let _ = threads;
        Ok(None)
    }
    #[cfg(feature = "threads")]
    pool_for(threads)
}

#[cfg(feature = "threads")]
fn pool_for(threads: Threads) -> Result<Option<&'static ThreadPool>> {
    let pools = pools()?;
    let default_n = pools.default.current_num_threads();
    let want = match threads {
        Threads::Auto => default_n,
        Threads::Max(n) => n.get(),
    };
    if want <= 1 {
        return Ok(None);
    }
    if want >= default_n {
        return Ok(Some(&pools.default));
    }
    let mut sized = pools.sized.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = sized.iter().find(|(n, _)| *n == want) {
        return Ok(Some(p));
    }
    let p: &'static ThreadPool = Box::leak(Box::new(build_pool(want)?));
    sized.push((want, p));
    Ok(Some(p))
}

/// Number of threads `threads` resolves to in this process.
pub fn thread_count(threads: Threads) -> Result<usize> {
    Ok(pool(threads)?.map_or(1, ThreadPool::current_num_threads))
}

/// The work in hashing `items`: their bytes plus 64 per item (a block of
/// padding, and the per-item cost), counted only until it reaches `cap`:
/// enough to compare with a threshold without touching every item of a
/// large batch (a million small Python objects are a pass over memory).
pub fn work<T: AsRef<[u8]>>(items: &[T], cap: usize) -> usize {
    let mut total = 0usize;
    for item in items {
        total = total.saturating_add(item.as_ref().len() + 64);
        if total >= cap {
            break;
        }
    }
    total
}

/// Run `f` on the pool for `threads` with `f(true)`, or on the calling
/// thread with `f(false)` when only one thread is to be used. `f` must
/// compute the same result either way; with `false` it must not use rayon.
pub fn run<R: Send>(threads: Threads, f: impl FnOnce(bool) -> R + Send) -> Result<R> {
    Ok(match pool(threads)? {
        None => f(false),
        Some(p) => p.install(|| f(true)),
    })
}

/// Work on `items` whose output needs preparing on the calling thread
/// (in the Python binding: allocating the result objects, which needs the
/// interpreter). The calling thread runs `prepare` over `out` one chunk of
/// `chunk` slots at a time and hands each prepared chunk, with its items,
/// to `work` on the pool, so preparing the next chunk overlaps working on
/// the previous ones. At the first error from `prepare` nothing more is
/// handed out; the chunks already out finish, then the error is returned.
/// The calling thread waits for the pool where it prepared (see
/// [`pipelined`], which this is). `items` and `out` must have the same
/// length; `work` must not use rayon.
pub fn overlapped<T: Sync, S: Send, E>(
    threads: Threads,
    items: &[T],
    out: &mut [S],
    chunk: usize,
    mut prepare: impl FnMut(&mut [S]) -> std::result::Result<(), E>,
    work: impl Fn(&[T], &mut [S]) + Sync,
) -> Result<std::result::Result<(), E>> {
    if items.len() != out.len() {
        return Err(Error::CountMismatch {
            left_name: "items",
            left: items.len(),
            right_name: "outputs",
            right: out.len(),
        });
    }
    let chunk = chunk.max(1);
    pipelined(
        threads,
        items.chunks(chunk).zip(out.chunks_mut(chunk)),
        |(_, o)| prepare(o),
        |(i, o)| work(i, o),
        |wait| wait(),
        |_| (),
    )
}

/// Units handed to the pool and not yet done; the calling thread of
/// [`pipelined`] waits on it.
#[derive(Default)]
struct Latch {
    left: Mutex<usize>,
    done: Condvar,
}

impl Latch {
    fn count(&self) -> std::sync::MutexGuard<'_, usize> {
        self.left.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait(&self) {
        let mut left = self.count();
        while *left > 0 {
            left = self.done.wait(left).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Counts one unit of a [`Latch`] down when dropped, so a unit whose work
/// panics is counted too (the scope then raises the panic).
struct Done<'a>(&'a Latch);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        let mut left = self.0.count();
        *left -= 1;
        if *left == 0 {
            self.0.done.notify_all();
        }
    }
}

/// Work whose inputs only the calling thread can get ready (in the Python
/// binding: items of a list, pinned while the thread holds the
/// interpreter). The calling thread runs `prepare` on each of `units` in
/// turn and hands each prepared unit to `work` on the pool at once, so
/// preparing the next overlaps working on those before. Once every unit
/// is out, it calls `idle` with a function that waits for them and then
/// runs `finish(true)` on the pool; `idle` calls it once, and may first
/// let go of what the preparing needed (the binding releases the
/// interpreter there). `finish` sees every unit's work done.
///
/// At the first error from `prepare` nothing more is handed out, the units
/// already out finish (inside `idle`), `finish` does not run, and the
/// error is returned. With one thread (no pool) every unit is prepared,
/// then, inside `idle`, worked in turn before `finish(false)`. `work` and
/// `finish(false)` must not use rayon.
pub fn pipelined<W: Send, E, R: Send>(
    threads: Threads,
    units: impl IntoIterator<Item = W>,
    mut prepare: impl FnMut(&mut W) -> std::result::Result<(), E>,
    work: impl Fn(W) + Sync,
    idle: impl FnOnce(&mut (dyn FnMut() + Send)),
    finish: impl FnOnce(bool) -> R + Send,
) -> Result<std::result::Result<R, E>> {
    let pool = pool(threads)?;
    let mut failed = None;
    let mut finish = Some(finish);
    let mut finished = None;
    match pool {
        None => {
            let mut ready = Vec::new();
            for mut unit in units {
                if let Err(e) = prepare(&mut unit) {
                    failed = Some(e);
                    break;
                }
                ready.push(unit);
            }
            let ok = failed.is_none();
            let mut rest = || {
                ready.drain(..).for_each(&work);
                if let Some(f) = finish.take().filter(|_| ok) {
                    finished = Some(f(false));
                }
            };
            idle(&mut rest);
            rest();
        }
        Some(pool) => {
            let latch = Latch::default();
            // A worker of this pool must not block on the latch (with every
            // worker waiting, nothing would run the units): there the
            // scope's own end waits, working meanwhile, and `finish` after.
            let on_worker = pool.current_thread_index().is_some();
            pool.in_place_scope(|scope| {
                let (work, latch) = (&work, &latch);
                for mut unit in units {
                    if let Err(e) = prepare(&mut unit) {
                        failed = Some(e);
                        break;
                    }
                    *latch.count() += 1;
                    scope.spawn(move |_| {
                        let _done = Done(latch);
                        work(unit);
                    });
                }
                let ok = failed.is_none();
                idle(&mut || {
                    if !on_worker {
                        latch.wait();
                        if let Some(f) = finish.take().filter(|_| ok) {
                            finished = Some(pool.install(|| f(true)));
                        }
                    }
                });
            });
            // On a worker, or when `idle` did not run what it was given.
            if let Some(f) = finish.take().filter(|_| failed.is_none()) {
                finished = Some(pool.install(|| f(true)));
            }
        }
    }
    Ok(match (failed, finished) {
        (Some(e), _) => Err(e),
        (None, Some(r)) => Ok(r),
        (None, None) => unreachable!("`finish` runs when nothing failed"),
    })
}

#[cfg(test)]
mod tests {
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

    /// `finish` sees every unit worked, inside `idle`, on the pool when
    /// there is one; an `idle` that does not call what it is given still
    /// gets the answer; an error skips `finish`.
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
                assert_eq!(r.unwrap(), Ok((parallel, 4950, parallel)));
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
}
