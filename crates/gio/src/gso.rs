//! Whether a socket's batches may use UDP segmentation offload, and how
//! large a segmented send may be: the process-wide `GSEND_GSO=0` switch and
//! `GSEND_GSO_MAX_BYTES` cap, a per-socket switch and cap, what the kernel
//! has refused before, and whether the kernel calls the socket UDP. The
//! per-socket state is one word of GObject qdata on the GSocket, so it
//! lives and dies with the socket.

use std::cell::Cell;
use std::ffi::c_uint;
use std::sync::atomic::{AtomicUsize, Ordering};

use gio_sys as gio;
use glib_sys as glib;
use gobject_sys as gobject;

use gsend_engine::plan::GsoPolicy;

use crate::glue;

/// The qdata word. Absent (NULL, 0) means "on, protocol not checked yet,
/// the process-wide cap". The low two bits are the switch.
const SWITCH: usize = 3;
const OFF_BY_USER: usize = 1;
const REFUSED: usize = 2;
/// `SO_PROTOCOL` was read (once per socket)...
const PROTOCOL_CHECKED: usize = 1 << 2;
/// ...and it was not `IPPROTO_UDP` (an ICMP "ping" socket, which GIO calls
/// UDP).
const NOT_UDP: usize = 1 << 3;
/// The per-socket byte cap is kept from this bit on (0: the process-wide
/// one).
const CAP_SHIFT: u32 = 8;

/// The built-in cap on the payload bytes of one segmented send (see
/// `gsend_socket_set_gso_max_bytes` and bench/README.md for the figures
/// behind it).
pub const DEFAULT_MAX_BYTES: usize = 65507;

pub(crate) fn quark() -> glib::GQuark {
    static Q: glue::Cached = glue::Cached::new();
    // SAFETY: a static NUL-terminated string.
    Q.get(|| unsafe { glib::g_quark_from_static_string(c"gsend-gso".as_ptr()) } as usize) as glib::GQuark
}

/// False when the environment says `GSEND_GSO=0` (read once). Read with
/// libc's `getenv`, not `std::env`, whose lock a fork could leave held.
pub fn enabled_by_env() -> bool {
    static ON: glue::Cached = glue::Cached::new();
    ON.get(|| {
        // SAFETY: a NUL-terminated name; the result is NULL or a C string.
        let v = unsafe { libc::getenv(c"GSEND_GSO".as_ptr()) };
        // SAFETY: as above.
        let off = !v.is_null() && unsafe { std::ffi::CStr::from_ptr(v) } == c"0";
        if off {
            2
        } else {
            1
        }
    }) == 1
}

/// The process-wide cap: `GSEND_GSO_MAX_BYTES` (read once) if it is a
/// positive number of bytes, else [`DEFAULT_MAX_BYTES`]; at most the
/// kernel's limit.
pub fn max_bytes_by_env() -> usize {
    // No lock (a child forked while another thread reads it must not
    // inherit one held): threads that race both read the same value.
    static CAP: AtomicUsize = AtomicUsize::new(0);
    match CAP.load(Ordering::Relaxed) {
        0 => {
            // libc's getenv, not std::env, whose lock a fork could leave
            // held.
            // SAFETY: a NUL-terminated name; the result is NULL or a C string.
            let v = unsafe { libc::getenv(c"GSEND_GSO_MAX_BYTES".as_ptr()) };
            // SAFETY: as above.
            let cap = (!v.is_null())
                .then(|| unsafe { std::ffi::CStr::from_ptr(v) })
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|&v| v > 0)
                .map_or(DEFAULT_MAX_BYTES, |v| v.min(GsoPolicy::UDP.max_bytes as u64) as usize);
            CAP.store(cap, Ordering::Relaxed);
            cap
        }
        cap => cap,
    }
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

/// Changes the state word with `f`, atomically against other changes (a
/// send recording what it learnt must not undo a user's setting made
/// meanwhile, nor the other way round).
///
/// # Safety
/// `socket` is a GSocket.
unsafe fn update(socket: *mut gio::GSocket, f: impl Fn(usize) -> usize) {
    loop {
        // SAFETY: socket is a GObject; the values are plain integers. The
        // notifier only runs when the socket is finalized (a replaced old
        // value's notifier is handed back to us, and dropped: the value
        // owns nothing).
        unsafe {
            let old = gobject::g_object_get_qdata(socket.cast(), quark()) as usize;
            let new = f(old);
            let mut old_destroy: glib::GDestroyNotify = None;
            if new == old {
                return;
            }
            if gobject::g_object_replace_qdata(
                socket.cast(),
                quark(),
                old as glib::gpointer,
                new as glib::gpointer,
                Some(forget),
                &mut old_destroy,
            ) != 0
            {
                GENERATION.fetch_add(1, Ordering::AcqRel);
                return;
            }
        }
    }
}

/// Bumped whenever a socket's state word changes or a socket with one is
/// finalized: a thread's memo of the last socket it sent on is good only
/// for the generation it was read in (a new socket may reuse the address).
static GENERATION: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// This thread's last (socket address, generation, state word).
    static MEMO: Cell<(usize, usize, usize)> = const { Cell::new((0, 0, 0)) };
}

/// The qdata notifier: the socket is going away.
unsafe extern "C" fn forget(_: glib::gpointer) {
    GENERATION.fetch_add(1, Ordering::AcqRel);
}

/// The state word, from this thread's memo when nothing changed since it
/// was read (a batch on a socket with state would otherwise pay GLib's
/// locked qdata lookup every time).
///
/// # Safety
/// `socket` is a GSocket.
#[inline]
unsafe fn cached_state(socket: *mut gio::GSocket) -> usize {
    let generation = GENERATION.load(Ordering::Acquire);
    let key = socket as usize;
    if let Ok((s, g, v)) = MEMO.try_with(Cell::get) {
        if s == key && g == generation {
            return v;
        }
    }
    // SAFETY: socket is a GSocket.
    let v = unsafe { state(socket) };
    let _ = MEMO.try_with(|m| m.set((key, generation, v)));
    v
}

/// The coalescing rules for a batch on `socket` (whose descriptor is `fd`),
/// a UDP socket by GIO's account: off if GSO is turned off for the process
/// or the socket, refused by the kernel before, or the kernel does not
/// call the socket UDP (asked once per socket); else the kernel's limits
/// with the socket's or the process's byte cap.
///
/// # Safety
/// `socket` is a GSocket.
#[inline]
pub unsafe fn policy(socket: *mut gio::GSocket, fd: i32) -> GsoPolicy {
    if !enabled_by_env() {
        return GsoPolicy::OFF;
    }
    // SAFETY: socket is a GSocket.
    let mut v = unsafe { cached_state(socket) };
    if v & PROTOCOL_CHECKED == 0 {
        // SAFETY: socket is a GSocket.
        v = unsafe { check_protocol(socket, fd) };
    }
    if v & (SWITCH | NOT_UDP) != 0 {
        return GsoPolicy::OFF;
    }
    let cap = v >> CAP_SHIFT;
    GsoPolicy { max_bytes: if cap == 0 { max_bytes_by_env() } else { cap }, ..GsoPolicy::UDP }
}

/// Asks the kernel whether `fd` is UDP and records the answer on `socket`;
/// returns the new state word.
///
/// # Safety
/// `socket` is a GSocket.
#[cold]
unsafe fn check_protocol(socket: *mut gio::GSocket, fd: i32) -> usize {
    let found = PROTOCOL_CHECKED | if gsend_engine::sockopt::is_udp_socket(fd) { 0 } else { NOT_UDP };
    // SAFETY: socket is a GSocket.
    unsafe {
        update(socket, |v| v | found);
        state(socket)
    }
}

/// Remembers that the kernel refused GSO on `socket`.
///
/// # Safety
/// `socket` is a GSocket.
pub unsafe fn refused(socket: *mut gio::GSocket) {
    // SAFETY: socket is a GSocket.
    unsafe { update(socket, |v| if v & SWITCH == 0 { v | REFUSED } else { v }) }
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
            update(socket, |v| (v & !SWITCH) | if enabled != 0 { 0 } else { OFF_BY_USER });
            if enabled == 0 && crate::debug::enabled() {
                crate::debug::turned_off_by_user(socket);
            }
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
            let st = crate::socket::state(socket);
            // A closed socket's protocol can no longer be asked: what is
            // known stands.
            let on = if st.closed {
                enabled_by_env() && state(socket) & (SWITCH | NOT_UDP) == 0
            } else {
                policy(socket, st.fd).enabled
            };
            glib::gboolean::from(st.udp && on)
        })
    }
}

/// See `gsend_socket_set_gso_max_bytes`.
///
/// # Safety
/// `socket` is NULL or a GObject instance.
pub unsafe extern "C" fn socket_set_gso_max_bytes(socket: *mut gio::GSocket, max_bytes: c_uint) {
    // SAFETY: socket is type-checked before use.
    unsafe {
        glue::guard(std::ptr::null_mut(), (), || {
            if !glue::is_a(socket.cast(), crate::socket::socket_type()) {
                glue::critical(glue::DOMAIN, c"gsend_socket_set_gso_max_bytes", c"G_IS_SOCKET (socket)");
                return;
            }
            let cap = (max_bytes as usize).min(GsoPolicy::UDP.max_bytes);
            update(socket, |v| (v & ((1 << CAP_SHIFT) - 1)) | cap << CAP_SHIFT);
        })
    }
}

/// See `gsend_socket_get_gso_max_bytes`.
///
/// # Safety
/// `socket` is NULL or a GObject instance.
pub unsafe extern "C" fn socket_get_gso_max_bytes(socket: *mut gio::GSocket) -> c_uint {
    // SAFETY: socket is type-checked before use.
    unsafe {
        glue::guard(std::ptr::null_mut(), 0, || {
            if !glue::is_a(socket.cast(), crate::socket::socket_type()) {
                glue::critical(glue::DOMAIN, c"gsend_socket_get_gso_max_bytes", c"G_IS_SOCKET (socket)");
                return 0;
            }
            let cap = state(socket) >> CAP_SHIFT;
            (if cap == 0 { max_bytes_by_env() } else { cap }) as c_uint
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_cap_and_refusal_are_kept_apart() {
        // SAFETY: a socket of our own.
        unsafe {
            let s = gio::g_socket_new(
                gio::G_SOCKET_FAMILY_IPV4,
                gio::G_SOCKET_TYPE_DATAGRAM,
                gio::G_SOCKET_PROTOCOL_UDP,
                std::ptr::null_mut(),
            );
            assert!(!s.is_null());
            let fd = gio::g_socket_get_fd(s);
            let on = enabled_by_env();
            assert_eq!(policy(s, fd).enabled, on);
            assert_eq!(socket_get_gso_max_bytes(s) as usize, max_bytes_by_env());
            socket_set_gso_max_bytes(s, 3000);
            socket_set_gso(s, 0);
            assert!(!policy(s, fd).enabled);
            assert_eq!(socket_get_gso_max_bytes(s), 3000);
            socket_set_gso(s, 1);
            let p = policy(s, fd);
            assert_eq!((p.enabled, p.max_bytes), (on, 3000));
            refused(s);
            assert!(!policy(s, fd).enabled);
            assert_eq!(socket_get_gso(s), 0);
            assert_eq!(socket_get_gso_max_bytes(s), 3000);
            socket_set_gso(s, 1);
            socket_set_gso_max_bytes(s, 0);
            let p = policy(s, fd);
            assert_eq!((p.enabled, p.max_bytes), (on, max_bytes_by_env()));
            assert_ne!(state(s) & PROTOCOL_CHECKED, 0);
            assert_eq!(state(s) & NOT_UDP, 0);
            gobject::g_object_unref(s.cast());
        }
    }
}
