//! Which address objects may be remembered across calls, and how the
//! cache learns that one is gone.
//!
//! The native form of an address object is cached in the engine's
//! per-thread scratch space under the object's pointer. That is sound
//! because of two facts, both ensured here. Only the exact types
//! `GInetSocketAddress` and `GUnixSocketAddress` are cached, whose
//! properties are all construct-only, so a cached object never changes
//! (subclasses are converted every time). And a pointer is never taken for
//! another object: every cached object carries a mark (qdata) whose destroy
//! notification, run when the object is finalized and before its memory is
//! freed, bumps a process-wide generation; every thread compares the
//! generation with its cache's before it looks anything up in a call, and
//! forgets everything when it moved. An object passed to a call is alive
//! for the whole call (the caller holds it), so an object created at a
//! freed one's address was created after that bump, before the call.
//!
//! The cache holds no reference: an address object is freed when its
//! owner lets it go, as with GIO.

use std::ffi::CStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use gio_sys as gio;
use glib_sys as glib;
use gobject_sys as gobject;
use gsend_engine::plan::{Scratch, SockAddr};

use crate::glue;

/// Bumped whenever a cached address object is finalized.
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Whether `t` is exactly `GInetSocketAddress` or `GUnixSocketAddress`.
///
/// The types are learnt from the objects, by name, and kept without a lock
/// (see `glue::Cached`): calling `g_unix_socket_address_get_type()` would
/// register that type, GLib's own one-time set-up, in a program that never
/// made such an address, and a fork during it would leave the child
/// waiting for it. A type of which an object exists is registered already.
#[inline]
fn immutable(t: glib::GType) -> bool {
    let (inet, unix) = (INET.load(Ordering::Relaxed), UNIX.load(Ordering::Relaxed));
    t == inet || t == unix || (inet == 0 || unix == 0) && learn(t, inet, unix)
}

/// The exact types, once seen (0: not yet).
static INET: AtomicUsize = AtomicUsize::new(0);
static UNIX: AtomicUsize = AtomicUsize::new(0);

#[cold]
fn learn(t: glib::GType, inet: glib::GType, unix: glib::GType) -> bool {
    // SAFETY: t is a registered type (an object of it exists); its name is
    // a static string.
    let name = unsafe { CStr::from_ptr(gobject::g_type_name(t)) };
    let cell = if inet == 0 && name == c"GInetSocketAddress" {
        &INET
    } else if unix == 0 && name == c"GUnixSocketAddress" {
        &UNIX
    } else {
        return false;
    };
    cell.store(t, Ordering::Relaxed);
    true
}

fn quark() -> glib::GQuark {
    static Q: glue::Cached = glue::Cached::new();
    // SAFETY: a static NUL-terminated string.
    Q.get(|| unsafe { glib::g_quark_from_static_string(c"gsend-cached-address".as_ptr()) } as usize) as glib::GQuark
}

/// The destroy notification of the mark: the object is being finalized.
unsafe extern "C" fn finalized(_data: glib::gpointer) {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// Brings this thread's cache up to date with the finalizations so far.
/// Call before any lookup of a call.
#[inline]
pub fn sync(s: &mut Scratch) {
    s.cache.sync(GENERATION.load(Ordering::SeqCst));
}

/// Remembers the native form of `address` if its type allows.
///
/// # Safety
/// `address` is a live GSocketAddress.
pub unsafe fn remember(s: &mut Scratch, address: *mut gio::GSocketAddress, native: &SockAddr) {
    // SAFETY: per the contract.
    let t = unsafe { glue::type_of(address.cast()) };
    if !immutable(t) {
        return;
    }
    let q = quark();
    // SAFETY: address is a live GObject. The mark is set before the entry
    // is made, so the entry can never outlive an unmarked object. Two
    // threads marking at once only cost a spurious bump (the replaced
    // mark's notification runs).
    unsafe {
        let obj = address.cast::<gobject::GObject>();
        if gobject::g_object_get_qdata(obj, q).is_null() {
            gobject::g_object_set_qdata_full(obj, q, 1usize as glib::gpointer, Some(finalized));
        }
        s.cache.insert(address as usize, native);
    }
}
