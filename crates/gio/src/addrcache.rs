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

pub(crate) fn quark() -> glib::GQuark {
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use gio_sys as gio;
    use gsend_engine::plan::Scratch;

    /// What a sending thread keeps after a batch of 1024 messages to 1024
    /// address objects (the "Memory" section of docs/behaviour.md quotes
    /// it): the scratch space with its address cache, and the cell that
    /// holds it. Run with `--nocapture` to see the figure.
    #[test]
    fn memory_a_sending_thread_keeps() {
        let one = kept_after(1);
        let many = kept_after(1024);
        assert!(one <= many);
        assert!(many < 512 * 1024, "{many} bytes");
    }

    /// Bytes kept by a fresh thread after one batch of 1024 messages to
    /// `n_addrs` address objects.
    fn kept_after(n_addrs: usize) -> usize {
        let n = 1024usize;
        std::thread::spawn(move || {
            // SAFETY: sockets, addresses and messages of our own, alive for
            // the call.
            unsafe {
                let rx = gio::g_socket_new(
                    gio::G_SOCKET_FAMILY_IPV4,
                    gio::G_SOCKET_TYPE_DATAGRAM,
                    gio::G_SOCKET_PROTOCOL_UDP,
                    std::ptr::null_mut(),
                );
                let lo = gio::g_inet_address_new_loopback(gio::G_SOCKET_FAMILY_IPV4);
                let any = gio::g_inet_socket_address_new(lo, 0);
                assert_ne!(gio::g_socket_bind(rx, any, 1, std::ptr::null_mut()), 0);
                let bound = gio::g_socket_get_local_address(rx, std::ptr::null_mut());
                let port = gio::g_inet_socket_address_get_port(bound.cast());
                let tx = gio::g_socket_new(
                    gio::G_SOCKET_FAMILY_IPV4,
                    gio::G_SOCKET_TYPE_DATAGRAM,
                    gio::G_SOCKET_PROTOCOL_UDP,
                    std::ptr::null_mut(),
                );
                let payload = [7u8; 16];
                let mut vecs = vec![gio::GOutputVector { buffer: payload.as_ptr().cast(), size: 16 }; n];
                let addrs: Vec<*mut gio::GSocketAddress> =
                    (0..n_addrs).map(|_| gio::g_inet_socket_address_new(lo, port)).collect();
                let mut msgs: Vec<gio::GOutputMessage> = (0..n)
                    .map(|i| gio::GOutputMessage {
                        address: addrs[i % n_addrs],
                        vectors: &mut vecs[i],
                        num_vectors: 1,
                        bytes_sent: 0,
                        control_messages: std::ptr::null_mut(),
                        num_control_messages: 0,
                    })
                    .collect();
                let sent = crate::socket_send_messages_with_timeout::<crate::names::GSend>(
                    tx,
                    msgs.as_mut_ptr(),
                    n as u32,
                    0,
                    0,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                );
                assert!(sent > 0);
                let kept = gsend_engine::with_scratch(|s| s.heap_bytes()) + std::mem::size_of::<RefCell<Scratch>>();
                println!(
                    "FIGURE a sending thread keeps {kept} bytes ({} KiB) after {n} messages to {n_addrs} address objects",
                    kept / 1024
                );
                for a in addrs {
                    gobject_sys::g_object_unref(a.cast());
                }
                for o in [rx.cast(), tx.cast(), lo.cast(), any.cast(), bound.cast()] {
                    gobject_sys::g_object_unref(o);
                }
                kept
            }
        })
        .join()
        .unwrap()
    }
}
