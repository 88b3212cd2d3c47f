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
use std::sync::Mutex;
#[cfg(feature = "threads")]
use std::sync::atomic::{AtomicPtr, Ordering};

use rayon::ThreadPool;

use crate::error::{Error, Result};

mod share;

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

/// `work(i, part)` for each `part` of `out` cut in parts of `part_len`
/// items (the last may be shorter), `i` being the part's index. With more
/// than one thread, the calling thread and the pool's workers take parts
/// in turn, the calling thread first, so work that is done before a
/// sleeping worker wakes is not kept waiting for it (see `share.rs`).
/// `work` must not use rayon.
pub fn share_parts<T: Send>(
    threads: Threads,
    out: &mut [T],
    part_len: usize,
    work: impl Fn(usize, &mut [T]) + Sync,
) -> Result<()> {
    share_parts_with(threads, out, part_len, || (), |_, i, part| work(i, part))
}

/// [`share_parts`] where each thread that takes a part first makes its own
/// `state` with `init` (a scratch buffer), passed to `work` for every part
/// it takes.
pub fn share_parts_with<T: Send, S>(
    threads: Threads,
    out: &mut [T],
    part_len: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize, &mut [T]) + Sync,
) -> Result<()> {
    let count = out.len().div_ceil(part_len.max(1));
    let pool = if count > 1 { pool(threads)? } else { None };
    parts_on(pool, out, part_len, init, work);
    Ok(())
}

/// [`share_parts_with`] on `pool` (`None`: the calling thread alone).
fn parts_on<T: Send, S>(
    pool: Option<&ThreadPool>,
    out: &mut [T],
    part_len: usize,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize, &mut [T]) + Sync,
) {
    let part_len = part_len.max(1);
    let count = out.len().div_ceil(part_len);
    let Some(pool) = pool.filter(|_| count > 1) else {
        let mut state = init();
        for (i, part) in out.chunks_mut(part_len).enumerate() {
            work(&mut state, i, part);
        }
        return;
    };
    let (len, base) = (out.len(), share::Parts(out.as_mut_ptr()));
    let base = &base;
    let unit = |state: &mut S, i: usize| {
        let start = i * part_len;
        // SAFETY: a team takes each `i < count` once, so the parts formed
        // here are disjoint and inside `out`, which this call borrows
        // mutably until the team has finished.
        let part = unsafe { std::slice::from_raw_parts_mut(base.0.add(start), part_len.min(len - start)) };
        work(state, i, part);
    };
    let sharing = share::Sharing::new(count);
    let job = || sharing.take_units(&init, unit);
    let team = share::Team::start(pool, pool.current_num_threads() - 1, &sharing, &job);
    team.publish(count);
    job();
    team.finish();
}

/// Work on `items` whose output needs preparing on the calling thread
/// (in the Python binding: allocating the result objects, which needs the
/// interpreter). The calling thread runs `prepare` over `out` one chunk of
/// `chunk` slots at a time and hands each prepared chunk, with its items,
/// to `work` on the pool, so preparing the next chunk overlaps working on
/// the previous ones. At the first error from `prepare` nothing more is
/// handed out; the chunks already out finish, then the error is returned.
/// Once everything is prepared the calling thread works on the chunks
/// left (see [`pipelined`], which this is). `items` and `out` must have
/// the same length; `work` must not use rayon.
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

/// Work whose inputs only the calling thread can get ready (in the Python
/// binding: items of a list, pinned while the thread holds the
/// interpreter). The calling thread runs `prepare` on each of `units` in
/// turn, and each prepared unit is ready at once for the pool's workers to
/// `work` on, so preparing the next overlaps working on those before.
/// Once every unit is prepared, the calling thread calls `idle` with a
/// function that works on the units no worker has taken yet, waits for
/// the workers' last ones, then runs `finish(true)` on the calling thread;
/// `idle` calls it once, and may first let go of what the preparing
/// needed (the binding releases the interpreter there). `finish` sees
/// every unit's work done, and may use the pool (through this module).
/// Nothing waits for a worker that has not woken up yet (see
/// `share.rs`).
///
/// At the first error from `prepare` nothing more is made ready, the units
/// already ready are worked (inside `idle`), `finish` does not run, and
/// the error is returned. With one thread (no pool) every unit is
/// prepared, then, inside `idle`, worked in turn before `finish(false)`.
/// `work` must not use rayon; `finish(false)` must not use threads.
pub fn pipelined<W: Send, E, R: Send>(
    threads: Threads,
    units: impl IntoIterator<Item = W>,
    prepare: impl FnMut(&mut W) -> std::result::Result<(), E>,
    work: impl Fn(W) + Sync,
    idle: impl FnOnce(&mut (dyn FnMut() + Send)),
    finish: impl FnOnce(bool) -> R + Send,
) -> Result<std::result::Result<R, E>> {
    Ok(pipelined_on(pool(threads)?, units, prepare, work, idle, finish))
}

/// [`pipelined`] on `pool` (`None`: the calling thread alone).
fn pipelined_on<W: Send, E, R: Send>(
    pool: Option<&ThreadPool>,
    units: impl IntoIterator<Item = W>,
    mut prepare: impl FnMut(&mut W) -> std::result::Result<(), E>,
    work: impl Fn(W) + Sync,
    idle: impl FnOnce(&mut (dyn FnMut() + Send)),
    finish: impl FnOnce(bool) -> R + Send,
) -> std::result::Result<R, E> {
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
            let mut slots: Vec<Option<W>> = units.into_iter().map(Some).collect();
            let count = slots.len();
            let base = share::Parts(slots.as_mut_ptr());
            let base = &base;
            let unit = |_: &mut (), i: usize| {
                // SAFETY: a team takes unit `i < count` once, after it was
                // published, and the calling thread no longer reaches it
                // then; `slots` outlives the team.
                if let Some(w) = unsafe { (*base.0.add(i)).take() } {
                    work(w);
                }
            };
            let sharing = share::Sharing::new(count);
            let job = || sharing.take_units(|| (), unit);
            let team = share::Team::start(pool, pool.current_num_threads() - 1, &sharing, &job);
            for i in 0..count {
                // SAFETY: unit `i` is not published yet, so no other thread
                // reaches it.
                let slot = unsafe { &mut *base.0.add(i) };
                if let Some(Err(e)) = slot.as_mut().map(&mut prepare) {
                    failed = Some(e);
                    break;
                }
                team.publish(i + 1);
            }
            team.close();
            let ok = failed.is_none();
            let mut team = Some(team);
            let mut rest = || {
                if let Some(team) = team.take() {
                    job();
                    team.finish();
                    if let Some(f) = finish.take().filter(|_| ok) {
                        finished = Some(f(true));
                    }
                }
            };
            idle(&mut rest);
            // When `idle` did not run what it was given.
            rest();
        }
    }
    match (failed, finished) {
        (Some(e), _) => Err(e),
        (None, Some(r)) => Ok(r),
        (None, None) => unreachable!("`finish` runs when nothing failed"),
    }
}

#[cfg(test)]
mod tests;
