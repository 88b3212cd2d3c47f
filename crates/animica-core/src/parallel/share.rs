//! Units of work that the calling thread and the pool's workers take in
//! turn, the calling thread among them.
//!
//! A pool's workers sleep once idle, and on a virtual machine a sleeping
//! core takes tens of microseconds to wake: measured on a 2-vCPU AMD EPYC
//! after 0.5 ms of idling, a worker started 20-103 us after it was asked
//! (best to 90th percentile), and a caller sleeping until a worker's end
//! woke about 25 us after it. Handing a sub-millisecond job to the pool and
//! sleeping until it is done (`install`, or a scope's end) pays both. In a
//! [`Team`] the calling thread works on the units itself, helpers from the
//! pool join when they wake, and at the end the caller waits, spinning,
//! only for units a helper has already taken: a helper that wakes after
//! the last unit is taken finds nothing and leaves, and nobody waits for
//! it.
//!
//! Units may be made ready one at a time ([`Team::publish`]) while the
//! team works on those before, so the calling thread can prepare inputs
//! that only it can reach (Python objects) while helpers hash.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use rayon::ThreadPool;

/// What a team's threads share; helpers hold it past the team's end.
pub(super) struct Sharing {
    count: usize,
    /// The next unit to take (`count` or more once all are taken).
    next: AtomicUsize,
    /// Units `0..ready` may be worked on.
    ready: AtomicUsize,
    /// No unit becomes ready any more (`ready` is final).
    closed: AtomicBool,
    /// The team has ended: a helper that joins now must not start.
    ended: AtomicBool,
    /// Helpers that have joined and not yet left. A helper joins before it
    /// looks at `ended`, so once the caller has set `ended` and then seen
    /// `busy == 0`, no helper touches the team's work again.
    busy: AtomicUsize,
    /// The first panic of a unit, raised again on the calling thread.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Sharing {
    /// Shared state for `count` units, none ready yet.
    pub(super) fn new(count: usize) -> Arc<Sharing> {
        Arc::new(Sharing {
            count,
            next: AtomicUsize::new(0),
            ready: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            ended: AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            panic: Mutex::new(None),
        })
    }

    /// The next unit for this thread once it is ready; `None` when no unit
    /// is left or none will be ready.
    fn take(&self) -> Option<usize> {
        let i = self.next.fetch_add(1, SeqCst);
        if i >= self.count {
            return None;
        }
        let mut spins = 0u32;
        loop {
            // `closed` first: once it is seen set, `ready` is final.
            let closed = self.closed.load(SeqCst);
            if i < self.ready.load(SeqCst) {
                return Some(i);
            }
            if closed {
                return None;
            }
            backoff(&mut spins);
        }
    }

    /// Runs `work(state, i)` on units as this thread takes them; `state`
    /// is made with `init` on the first. A panic is kept for the caller
    /// and stops the taking of more units.
    pub(super) fn take_units<S>(&self, init: impl Fn() -> S, work: impl Fn(&mut S, usize)) {
        let run = || {
            let mut state = None;
            while let Some(i) = self.take() {
                work(state.get_or_insert_with(&init), i);
            }
        };
        if let Err(p) = panic::catch_unwind(AssertUnwindSafe(run)) {
            self.next.store(self.count, SeqCst);
            self.panic.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(p);
        }
    }
}

/// Spins a little, then yields the core.
fn backoff(spins: &mut u32) {
    if *spins < 1 << 10 {
        *spins += 1;
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// A helper's view of the team's take-units loop, its lifetime erased so
/// that a `'static` pool job can hold it; called only under the `busy`
/// protocol of [`Sharing`].
struct Job(*const (dyn Fn() + Sync + 'static));

// SAFETY: the pointee is `Sync` (shared by reference between threads), and
// it is only called while the team, which borrows it, has not ended.
unsafe impl Send for Job {}

/// The calling thread's handle on a team of helpers working through the
/// units of a [`Sharing`]. Dropping it (also while unwinding) closes the
/// units and waits until no helper is working, so the borrowed loop
/// outlives every use.
pub(super) struct Team<'a> {
    sharing: &'a Arc<Sharing>,
    /// Keeps the loop the helpers run borrowed for the team's life.
    _job: &'a (dyn Fn() + Sync),
}

impl<'a> Team<'a> {
    /// Starts up to `helpers` workers of `pool` running `job` (the
    /// sharing's take-units loop) as they wake.
    pub(super) fn start(
        pool: &ThreadPool,
        helpers: usize,
        sharing: &'a Arc<Sharing>,
        job: &'a (dyn Fn() + Sync),
    ) -> Team<'a> {
        let erased: *const (dyn Fn() + Sync + '_) = job;
        // SAFETY: only the lifetime changes (same pointer and vtable); the
        // pointer is used only while the team lives (see `Job`).
        let erased: *const (dyn Fn() + Sync + 'static) = unsafe { std::mem::transmute(erased) };
        for _ in 0..helpers.min(sharing.count.saturating_sub(1)) {
            let (sharing, job) = (Arc::clone(sharing), Job(erased));
            pool.spawn(move || {
                // The whole `Job` moves in (not only its pointer field).
                let job = job;
                sharing.busy.fetch_add(1, SeqCst);
                if !sharing.ended.load(SeqCst) {
                    // SAFETY: this helper joined (`busy`) before it saw the
                    // team not ended, so the team's drop, which sets
                    // `ended` and then waits for `busy == 0`, has not
                    // returned, and `job` (borrowed by the team) is alive.
                    unsafe { (*job.0)() };
                }
                sharing.busy.fetch_sub(1, SeqCst);
            });
        }
        Team { sharing, _job: job }
    }

    /// Units `0..ready` may now be worked on (`ready` only grows).
    pub(super) fn publish(&self, ready: usize) {
        self.sharing.ready.store(ready.min(self.sharing.count), SeqCst);
    }

    /// No more units become ready: those not published are never worked.
    pub(super) fn close(&self) {
        self.sharing.closed.store(true, SeqCst);
    }

    /// Closes the units, waits for the helpers still working, and raises a
    /// unit's panic here.
    pub(super) fn finish(self) {
        let sharing = self.sharing;
        drop(self);
        if let Some(p) = sharing.panic.lock().unwrap_or_else(|e| e.into_inner()).take() {
            panic::resume_unwind(p);
        }
    }
}

impl Drop for Team<'_> {
    fn drop(&mut self) {
        self.close();
        self.sharing.ended.store(true, SeqCst);
        let mut spins = 0u32;
        while self.sharing.busy.load(SeqCst) > 0 {
            backoff(&mut spins);
        }
    }
}

/// `*mut T` for threads that each reach their own, disjoint parts of one
/// slice.
pub(super) struct Parts<T>(pub(super) *mut T);

// SAFETY: each thread forms references to parts no other thread reaches at
// the same time (each unit is taken once, and made ready before it is
// taken), so sharing the base pointer is like sending those `&mut [T]` to
// their threads, which `T: Send` allows.
unsafe impl<T: Send> Sync for Parts<T> {}
