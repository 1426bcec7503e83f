//! A per-thread cache of native socket addresses, so that an address object
//! used call after call is converted once, not once per call.
//!
//! It is only sound because of two facts, both checked here: the cache
//! holds a strong reference to every address object it keys on, so the
//! object (and thus its pointer) cannot be freed and reused while cached;
//! and it only caches the exact types `GInetSocketAddress` and
//! `GUnixSocketAddress`, whose properties are all construct-only, so a
//! cached object never changes. Subclasses are converted every time.
//!
//! Up to `SETS * WAYS` address objects per thread are kept alive by the
//! cache until they are evicted or the thread exits.

use std::cell::RefCell;
use std::sync::OnceLock;

use gio_sys as gio;
use glib_sys as glib;
use gobject_sys as gobject;
use gsend_engine::plan::{Dest, Scratch, SockAddr};

use crate::glue;

const WAYS: usize = 4;
const SETS: usize = 64;

struct Cache {
    keys: Vec<*mut gio::GSocketAddress>,
    vals: Vec<SockAddr>,
    next: Vec<u8>,
}

impl Cache {
    fn new() -> Self {
        Cache {
            keys: vec![std::ptr::null_mut(); SETS * WAYS],
            vals: vec![SockAddr::default(); SETS * WAYS],
            next: vec![0; SETS],
        }
    }

    fn set_of(p: *mut gio::GSocketAddress) -> usize {
        ((p as usize >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - 6)) % SETS
    }
}

impl Drop for Cache {
    fn drop(&mut self) {
        for &k in &self.keys {
            if !k.is_null() {
                // SAFETY: the cache owns one reference to every key.
                unsafe { gobject::g_object_unref(k.cast()) };
            }
        }
    }
}

thread_local! {
    static CACHE: RefCell<Option<Cache>> = const { RefCell::new(None) };
}

fn immutable_types() -> (glib::GType, glib::GType) {
    static T: OnceLock<(glib::GType, glib::GType)> = OnceLock::new();
    // SAFETY: type getters.
    *T.get_or_init(|| unsafe { (gio::g_inet_socket_address_get_type(), gio::g_unix_socket_address_get_type()) })
}

/// Whether `address` may be cached.
///
/// # Safety
/// `address` is a live GSocketAddress.
pub unsafe fn cacheable(address: *mut gio::GSocketAddress) -> bool {
    let (inet, unix) = immutable_types();
    // SAFETY: per the contract.
    let t = unsafe { glue::type_of(address.cast()) };
    t == inet || t == unix
}

/// Copies the cached native form of `address`, if any, into a new
/// address slot of `s`.
pub fn lookup_into(address: *mut gio::GSocketAddress, s: &mut Scratch) -> Option<Dest> {
    CACHE
        .try_with(|c| {
            let c = c.try_borrow().ok()?;
            let c = c.as_ref()?;
            let base = Cache::set_of(address) * WAYS;
            let i = (base..base + WAYS).find(|&i| c.keys[i] == address)?;
            Some(s.push_addr_bytes(&c.vals[i]))
        })
        .ok()
        .flatten()
}

/// Caches the native form of `address`, taking a reference to it.
///
/// # Safety
/// `address` is a live GSocketAddress for which `cacheable` is true.
pub unsafe fn insert(address: *mut gio::GSocketAddress, native: &SockAddr) {
    let _ = CACHE.try_with(|c| {
        let Ok(mut c) = c.try_borrow_mut() else { return };
        let c = c.get_or_insert_with(Cache::new);
        let set = Cache::set_of(address);
        let i = set * WAYS + c.next[set] as usize;
        c.next[set] = ((c.next[set] as usize + 1) % WAYS) as u8;
        // SAFETY: address is live; the reference is released on eviction or
        // when the thread's cache is dropped.
        unsafe { gobject::g_object_ref(address.cast()) };
        let old = std::mem::replace(&mut c.keys[i], address);
        c.vals[i] = *native;
        if !old.is_null() {
            // SAFETY: the cache owned this reference.
            unsafe { gobject::g_object_unref(old.cast()) };
        }
    });
}
