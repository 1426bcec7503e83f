//! Whether a socket's batches may use UDP segmentation offload: the
//! process-wide `GSEND_GSO=0` switch, a per-socket switch, and what the
//! kernel has refused before. The per-socket state is GObject qdata on the
//! GSocket, so it lives and dies with the socket.

use std::sync::OnceLock;

use gio_sys as gio;
use glib_sys as glib;
use gobject_sys as gobject;

use crate::glue;

/// qdata values. Absent (NULL) means "on".
const OFF_BY_USER: usize = 1;
const REFUSED: usize = 2;

fn quark() -> glib::GQuark {
    static Q: OnceLock<glib::GQuark> = OnceLock::new();
    // SAFETY: a static NUL-terminated string.
    *Q.get_or_init(|| unsafe { glib::g_quark_from_static_string(c"gsend-gso".as_ptr()) })
}

/// False when the environment says `GSEND_GSO=0` (read once).
pub fn enabled_by_env() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("GSEND_GSO").is_none_or(|v| v != "0"))
}

unsafe fn state(socket: *mut gio::GSocket) -> usize {
    // An object without any qdata (the usual socket) has a NULL data list
    // but for GLib's lock and flag bits in the pointer's low three bits:
    // no need for the locked lookup (about a hundred instructions).
    // SAFETY: socket is a live GObject, whose public struct holds the list
    // pointer; GLib changes it only atomically, so an atomic load is sound.
    let list = unsafe {
        &*(std::ptr::addr_of!((*socket.cast::<gobject::GObject>()).qdata) as *const std::sync::atomic::AtomicUsize)
    };
    if list.load(std::sync::atomic::Ordering::Acquire) & !7 == 0 {
        return 0;
    }
    // SAFETY: socket is a GObject.
    unsafe { gobject::g_object_get_qdata(socket.cast(), quark()) as usize }
}

unsafe fn set_state(socket: *mut gio::GSocket, v: usize) {
    // SAFETY: socket is a GObject; the value is a plain integer, no destroy.
    unsafe { gobject::g_object_set_qdata(socket.cast(), quark(), v as glib::gpointer) }
}

/// Whether batches on a UDP `socket` may be coalesced: GSO not turned
/// off, not refused by the kernel before.
///
/// # Safety
/// `socket` is a GSocket.
pub unsafe fn wanted(socket: *mut gio::GSocket) -> bool {
    // SAFETY: socket is a GSocket.
    enabled_by_env() && unsafe { state(socket) } == 0
}

/// Remembers that the kernel refused GSO on `socket`.
///
/// # Safety
/// `socket` is a GSocket.
pub unsafe fn refused(socket: *mut gio::GSocket) {
    // SAFETY: socket is a GSocket.
    unsafe {
        if state(socket) == 0 {
            set_state(socket, REFUSED);
        }
    }
}

/// See `gsend_socket_set_gso`.
///
/// # Safety
/// `socket` is NULL or a GObject instance.
pub unsafe extern "C" fn socket_set_gso(socket: *mut gio::GSocket, enabled: glib::gboolean) {
    // SAFETY: socket is type-checked before use.
    unsafe {
        glue::guard(std::ptr::null_mut(), (), || {
            if !glue::is_a(socket.cast(), crate::socket::socket_type()) {
                glue::critical(glue::DOMAIN, c"gsend_socket_set_gso", c"G_IS_SOCKET (socket)");
                return;
            }
            set_state(socket, if enabled != 0 { 0 } else { OFF_BY_USER });
        })
    }
}

/// See `gsend_socket_get_gso`.
///
/// # Safety
/// `socket` is NULL or a GObject instance.
pub unsafe extern "C" fn socket_get_gso(socket: *mut gio::GSocket) -> glib::gboolean {
    // SAFETY: socket is type-checked before use.
    unsafe {
        glue::guard(std::ptr::null_mut(), 0, || {
            if !glue::is_a(socket.cast(), crate::socket::socket_type()) {
                glue::critical(glue::DOMAIN, c"gsend_socket_get_gso", c"G_IS_SOCKET (socket)");
                return 0;
            }
            glib::gboolean::from(crate::socket::state(socket).udp && wanted(socket))
        })
    }
}
