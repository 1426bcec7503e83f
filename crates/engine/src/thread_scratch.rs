//! The per-thread scratch space: one `Scratch` per sending thread, made
//! on its first send with a fallible allocation and freed when the thread
//! ends (a POSIX thread-specific key, whose destructor does not need the
//! allocation `thread_local!` registration may make).

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::plan::Scratch;

/// The POSIX key of the per-thread scratch space, plus one (0: not made
/// yet). Made without a lock (a fork could leave one held): two threads
/// that race both make a key, one keeps its own, the other deletes its
/// own and takes the winner's.
static SCRATCH_KEY: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's scratch cell, once made (the fast way to it; the
    /// POSIX slot only frees it). A constant-initialised thread-local
    /// without a destructor: reading it never allocates.
    static SCRATCH: std::cell::Cell<*mut RefCell<Scratch>> = const { std::cell::Cell::new(std::ptr::null_mut()) };
}

/// Frees a thread's scratch space when the thread ends.
unsafe extern "C" fn drop_scratch(p: *mut libc::c_void) {
    SCRATCH.with(|c| c.set(std::ptr::null_mut()));
    // SAFETY: `p` is a pointer `new_thread_scratch` stored under the key,
    // made from a `Box<RefCell<Scratch>>`'s allocation; glibc clears the
    // slot before calling this, once per value.
    drop(unsafe { Box::from_raw(p.cast::<RefCell<Scratch>>()) });
}

fn scratch_key() -> Option<libc::pthread_key_t> {
    match SCRATCH_KEY.load(Ordering::Acquire) {
        0 => {}
        k => return Some((k - 1) as libc::pthread_key_t),
    }
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: a valid out location and destructor.
    if unsafe { libc::pthread_key_create(&mut key, Some(drop_scratch)) } != 0 {
        return None;
    }
    match SCRATCH_KEY.compare_exchange(0, key as usize + 1, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => Some(key),
        Err(k) => {
            // SAFETY: our own key, never used.
            unsafe { libc::pthread_key_delete(key) };
            Some((k - 1) as libc::pthread_key_t)
        }
    }
}

/// Runs `f` with the calling thread's scratch cell, made on the thread's
/// first call and freed when it ends; `f(None)` if it cannot be had (no
/// key, or no memory: the allocation is fallible, where `Box::new` and a
/// `thread_local!`'s destructor registration abort the process).
#[inline]
pub fn with_thread_scratch<R>(f: impl FnOnce(Option<&RefCell<Scratch>>) -> R) -> R {
    let mut p = SCRATCH.with(std::cell::Cell::get);
    if p.is_null() {
        p = new_thread_scratch();
        if p.is_null() {
            return f(None);
        }
    }
    // SAFETY: `p` is this thread's live cell: only this thread knows it,
    // and it is freed only by the destructor, after the thread's last
    // code (which forgets it first).
    f(Some(unsafe { &*p }))
}

#[cold]
fn new_thread_scratch() -> *mut RefCell<Scratch> {
    let Some(key) = scratch_key() else { return std::ptr::null_mut() };
    let layout = std::alloc::Layout::new::<RefCell<Scratch>>();
    // SAFETY: the layout is not zero-sized (a Scratch holds vectors).
    let p = unsafe { std::alloc::alloc(layout) }.cast::<RefCell<Scratch>>();
    if p.is_null() {
        return p;
    }
    // SAFETY: `p` is fresh memory of the right layout; after `write` it is
    // a valid value that `Box::from_raw` may own (same allocator, layout).
    unsafe { p.write(RefCell::new(Scratch::default())) };
    // SAFETY: `key` is a live key; the value is ours to store.
    if unsafe { libc::pthread_setspecific(key, p.cast()) } != 0 {
        // SAFETY: as above: `p` is a valid value `Box` may own, and nobody
        // else knows it.
        drop(unsafe { Box::from_raw(p) });
        return std::ptr::null_mut();
    }
    SCRATCH.with(|c| c.set(p));
    p
}
