//! Stack room for decoding. reed-solomon-simd's decoder keeps a table of
//! 65,536 field elements (128 KiB) on the stack (`[GfElement; GF_ORDER]`
//! in its `rate_high` and `rate_low` decode). Threads with less exist:
//! musl's default thread stack is 128 KiB, and that is what CPython's
//! `threading` threads get on Alpine (`rs.reconstruct` from one crashed
//! with SIGSEGV in the musllinux wheels' test). A decode on a thread with
//! less than [`DECODE_STACK`] left runs on a helper thread that has it.

use crate::error::{Error, Result};

/// Stack a decode is given: the table, the frames around it, and room.
pub(super) const DECODE_STACK: usize = 512 * 1024;

/// `f()` on this thread when it has [`DECODE_STACK`] bytes of stack left
/// (or when that cannot be known), else on a helper thread with that much.
pub(super) fn with_room<R: Send>(f: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    if remaining().is_none_or(|left| left >= DECODE_STACK) {
        return f();
    }
    on_helper(f)
}

#[cfg(feature = "threads")]
fn on_helper<R: Send>(f: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("animica-decode".into())
            .stack_size(2 * DECODE_STACK)
            .spawn_scoped(scope, f)
            .map_err(|e| Error::ThreadPool { reason: format!("cannot start a thread to decode on: {e}") })?;
        helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Without the `threads` feature no thread is ever started: say what the
/// caller must do instead of overflowing the stack.
#[cfg(not(feature = "threads"))]
fn on_helper<R: Send>(_: impl FnOnce() -> Result<R> + Send) -> Result<R> {
    Err(Error::Codec {
        reason: format!(
            "decoding needs {} KiB of stack and this thread has less left (built without the `threads` \
             feature, so no helper thread is started): call it from a thread with a larger stack",
            DECODE_STACK / 1024
        ),
    })
}

/// Bytes of stack left below this frame, for threads other than the main
/// one on Linux. `None` (enough) elsewhere: the main thread's stack grows to
/// RLIMIT_STACK (8 MiB by default; musl reports only what is mapped so far),
/// and the default secondary stacks of macOS (512 KiB) and Windows (1 MiB)
/// hold a decode.
#[cfg(target_os = "linux")]
fn remaining() -> Option<usize> {
    use std::cell::Cell;
    thread_local! {
        /// This thread's lowest stack address, once asked (`Some(None)`:
        /// not known, or the main thread).
        static LOWEST: Cell<Option<Option<usize>>> = const { Cell::new(None) };
    }
    let lowest = LOWEST.with(|cell| {
        let known = cell.get().unwrap_or_else(lowest_address);
        cell.set(Some(known));
        known
    })?;
    let here = 0u8;
    Some((std::ptr::addr_of!(here) as usize).saturating_sub(lowest))
}

#[cfg(not(target_os = "linux"))]
fn remaining() -> Option<usize> {
    None
}

/// The lowest address of the calling thread's stack (pthread_getattr_np,
/// which glibc and musl both have), or `None` on the main thread or when it
/// cannot be read.
#[cfg(target_os = "linux")]
fn lowest_address() -> Option<usize> {
    // SAFETY: getpid and gettid (a raw syscall: older C libraries lack the
    // wrapper) only read the caller's ids.
    if unsafe { libc::syscall(libc::SYS_gettid) } == libc::c_long::from(unsafe { libc::getpid() }) {
        return None;
    }
    let mut attr = std::mem::MaybeUninit::<libc::pthread_attr_t>::uninit();
    // SAFETY: pthread_getattr_np initialises `attr` when it returns 0; only
    // then is `attr` read, and it is destroyed exactly once.
    unsafe {
        if libc::pthread_getattr_np(libc::pthread_self(), attr.as_mut_ptr()) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(attr.as_ptr(), &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(attr.as_mut_ptr());
        ok.then_some(addr as usize)
    }
}

#[cfg(test)]
mod tests {
    use crate::parallel::Threads;

    /// musl's default thread stack: reed-solomon-simd's decoder alone wants
    /// all of it (without the helper this overflows the stack and aborts).
    #[test]
    fn reconstructs_on_a_thread_with_a_small_stack() {
        let data: Vec<Vec<u8>> = (0..32u8).map(|i| vec![i.wrapping_mul(37); 64 * 1024]).collect();
        let refs: Vec<&[u8]> = data.iter().map(Vec::as_slice).collect();
        let parity = crate::rs::encode(&refs, 32, Threads::SERIAL).unwrap();
        let shards: Vec<Option<&[u8]>> = (0..64)
            .map(|i| if i < 32 { (i % 2 == 1).then(|| refs[i]) } else { Some(parity[i - 32].as_slice()) })
            .collect();
        for threads in [Threads::SERIAL, Threads::Auto] {
            let got = std::thread::scope(|scope| {
                std::thread::Builder::new()
                    .stack_size(128 * 1024)
                    .spawn_scoped(scope, || crate::rs::reconstruct(32, &shards, threads))
                    .unwrap()
                    .join()
                    .unwrap()
            });
            #[cfg(feature = "threads")]
            for (i, shard) in got.unwrap() {
                assert_eq!(shard, data[i], "shard {i} with {threads:?}");
            }
            #[cfg(not(feature = "threads"))]
            assert!(got.unwrap_err().to_string().contains("KiB of stack"), "{threads:?}");
        }
    }
}
