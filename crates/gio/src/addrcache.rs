//! Which address objects may be remembered across calls, and the reference
//! that keeps them alive while they are.
//!
//! The native form of an address object is cached in the engine's
//! per-thread scratch space under the object's pointer. That is sound
//! because of two facts, both ensured here: the cache holds a strong
//! reference to every object it keys on, so the object (and thus its
//! pointer) cannot be freed and reused while cached; and only the exact
//! types `GInetSocketAddress` and `GUnixSocketAddress` are cached, whose
//! properties are all construct-only, so a cached object never changes.
//! Subclasses are converted every time.
//!
//! Up to 256 address objects per thread are kept alive by the cache until
//! they are evicted or the thread exits.

use std::sync::OnceLock;

use gio_sys as gio;
use glib_sys as glib;
use gobject_sys as gobject;
use gsend_engine::plan::{Scratch, SockAddr};

use crate::glue;

fn immutable_types() -> (glib::GType, glib::GType) {
    static T: OnceLock<(glib::GType, glib::GType)> = OnceLock::new();
    // SAFETY: type getters.
    *T.get_or_init(|| unsafe { (gio::g_inet_socket_address_get_type(), gio::g_unix_socket_address_get_type()) })
}

/// Releases the reference the cache took.
///
/// # Safety
/// `key` is a pointer to a GObject the cache holds a reference to.
unsafe fn release(key: usize) {
    // SAFETY: per the contract.
    unsafe { gobject::g_object_unref(key as *mut gobject::GObject) };
}

/// Remembers the native form of `address` if its type allows.
///
/// # Safety
/// `address` is a live GSocketAddress.
pub unsafe fn remember(s: &mut Scratch, address: *mut gio::GSocketAddress, native: &SockAddr) {
    let (inet, unix) = immutable_types();
    // SAFETY: per the contract.
    let t = unsafe { glue::type_of(address.cast()) };
    if t == inet || t == unix {
        // SAFETY: address is live; the reference taken for the cache is
        // released by `release` when the entry is evicted or the cache
        // dropped (nothing is released before the insert returns).
        unsafe {
            if s.cache.insert(address as usize, native, release) {
                gobject::g_object_ref(address.cast());
            }
        }
    }
}
