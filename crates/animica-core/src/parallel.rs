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

/// Run `f` on the pool for `threads` with `f(true)`, or on the calling
/// thread with `f(false)` when only one thread is to be used. `f` must
/// compute the same result either way; with `false` it must not use rayon.
pub fn run<R: Send>(threads: Threads, f: impl FnOnce(bool) -> R + Send) -> Result<R> {
    Ok(match pool(threads)? {
        None => f(false),
        Some(p) => p.install(|| f(true)),
    })
}
