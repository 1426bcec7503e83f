//! What a send needs to know about a `GSocket`: its fd, whether it is
//! closed, its blocking flag, its timeout, whether it is UDP.
//!
//! GIO's public getters each re-run `g_socket_get_type()` (whose type
//! initialisation prelude runs on every call) and a type check: several
//! hundred instructions per send for four getters, more than the rest of a
//! one-datagram send. `GSocket`'s instance struct is public and points to
//! its private struct, whose leading fields have had one layout from GLib
//! 2.60 to at least 2.80. gsend reads those fields directly, but only after
//! proving the layout on the running GLib: at first use it creates a probe
//! socket, changes it through the public API (blocking flag, timeout,
//! close) and checks that every field it reads moves exactly as the
//! getters say. If anything differs, or `GSEND_DIRECT_READS=0` is set,
//! every read goes through the getters.

use std::sync::atomic::{AtomicU64, Ordering};

use gio_sys as gio;
use glib_sys as glib;

/// Offsets in `GSocketPrivate` and the bits of its flag word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    family: usize,
    ty: usize,
    protocol: usize,
    fd: usize,
    timeout: usize,
    flags: usize,
    blocking_bit: u32,
    closed_bit: u32,
}

/// The layout of GLib 2.60–2.80 (two pointers after six ints on LP64).
const CANDIDATE: Layout =
    Layout { family: 0, ty: 4, protocol: 8, fd: 12, timeout: 20, flags: 40, blocking_bit: 1 << 1, closed_bit: 1 << 3 };

/// The facts of one socket at the start of a send.
#[derive(Clone, Copy, Debug)]
pub struct State {
    /// The file descriptor (-1 once closed).
    pub fd: i32,
    /// `g_socket_close` was called.
    pub closed: bool,
    /// The blocking flag.
    pub blocking: bool,
    /// A UDP socket over IPv4 or IPv6 (a GSO candidate).
    pub udp: bool,
}

/// The cached `GSocket` type (its getter is costly, see above).
#[inline]
pub fn socket_type() -> glib::GType {
    static T: crate::glue::Cached = crate::glue::Cached::new();
    // SAFETY: a type getter.
    T.get(|| unsafe { gio::g_socket_get_type() })
}

unsafe fn read_i32(p: *const u8, off: usize) -> i32 {
    // SAFETY: the caller keeps `off` within the private struct.
    unsafe { p.add(off).cast::<i32>().read_unaligned() }
}

unsafe fn read_u32(p: *const u8, off: usize) -> u32 {
    // SAFETY: the caller keeps `off` within the private struct.
    unsafe { p.add(off).cast::<u32>().read_unaligned() }
}

/// The private struct of `socket`.
///
/// # Safety
/// `socket` is a live GSocket.
unsafe fn private(socket: *mut gio::GSocket) -> *const u8 {
    // SAFETY: GSocket's public instance struct holds the private pointer.
    unsafe { (*socket).priv_ as *const u8 }
}

/// Where the check of `CANDIDATE` stands, in the low byte of [`PROBE`].
const UNKNOWN: u64 = 0;
const PROVEN: u64 = 1;
const REFUTED: u64 = 2;
/// A thread is probing; the bits above the low byte hold its process id.
const BUSY: u64 = 3;

/// The probe's state: UNKNOWN → BUSY (one thread, by compare-and-swap) →
/// PROVEN or REFUTED.
///
/// No thread ever waits for another here. A lock would do harm: a program
/// that forks while one of its threads holds it leaves the child with a
/// lock nobody will release, and the child's first send would wait forever
/// (docs/behaviour.md "Signals and fork"). Probing at load time instead
/// would make a socket in every process that loads the library. So a
/// thread that finds the probe busy reads through the getters for this
/// call (correct, only slower). The busy state names the prober's process:
/// a forked child that finds the state BUSY of another process knows the
/// prober is not among its threads (fork copies only the calling thread)
/// and settles on the getters for good, without probing itself: the
/// parent's prober may have been inside GObject code holding one of
/// GLib's own global locks, which the probe's calls could then wait for.
static PROBE: AtomicU64 = AtomicU64::new(UNKNOWN);

#[inline]
fn layout() -> Option<Layout> {
    match PROBE.load(Ordering::Acquire) {
        PROVEN => Some(CANDIDATE),
        REFUTED => None,
        _ => probe_once(),
    }
}

/// What a thread of process `me` does on finding the probe in state `seen`.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// Settled: the layout, or the getters.
    Done(Option<Layout>),
    /// Move the state to this (by compare-and-swap), then look again.
    Set(u64),
}

fn step(seen: u64, me: u64) -> Step {
    match seen & 0xff {
        PROVEN => Step::Done(Some(CANDIDATE)),
        REFUTED => Step::Done(None),
        // Another thread of this process is probing: the getters, this time.
        BUSY if seen >> 8 == me => Step::Done(None),
        // Inherited from the parent across fork: the getters, for good.
        BUSY => Step::Set(REFUTED),
        _ => Step::Set(BUSY | (me << 8)),
    }
}

#[cold]
fn probe_once() -> Option<Layout> {
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() } as u64;
    let mut seen = PROBE.load(Ordering::Acquire);
    loop {
        let next = match step(seen, me) {
            Step::Done(l) => return l,
            Step::Set(next) => next,
        };
        match PROBE.compare_exchange(seen, next, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) if next == REFUTED => return None,
            Ok(_) => break,
            Err(now) => seen = now,
        }
    }
    let (l, verdict) = if switched_off() {
        (None, c"switched off (GSEND_DIRECT_READS=0)")
    } else {
        // SAFETY: the probe only touches a socket it creates.
        match unsafe { probe(CANDIDATE) } {
            Some(l) => (Some(l), c"accepted"),
            None => (None, c"refused"),
        }
    };
    PROBE.store(if l.is_some() { PROVEN } else { REFUTED }, Ordering::Release);
    // The verdict, for the compatibility matrix (seen with
    // G_MESSAGES_DEBUG=GSend or a log handler). Only the thread that
    // probed logs, once per process.
    // SAFETY: a format with one string argument and that string.
    unsafe {
        glib::g_log(
            crate::glue::DOMAIN.as_ptr(),
            glib::G_LOG_LEVEL_DEBUG,
            c"GSocketPrivate layout probe: direct reads %s".as_ptr(),
            verdict.as_ptr(),
        )
    };
    l
}

/// `GSEND_DIRECT_READS=0`: every read goes through GIO's getters (the
/// fallback path, so that it can be tested on any GLib).
fn switched_off() -> bool {
    // libc's getenv, not std::env, whose lock a fork could leave held.
    // SAFETY: a NUL-terminated name; the result is NULL or a C string.
    let v = unsafe { libc::getenv(c"GSEND_DIRECT_READS".as_ptr()) };
    // SAFETY: as above.
    !v.is_null() && unsafe { std::ffi::CStr::from_ptr(v) } == c"0"
}

/// Checks `l` against the getters on a fresh UDP socket.
unsafe fn probe(l: Layout) -> Option<Layout> {
    // SAFETY: a socket of our own, read within the candidate's extent
    // (48 bytes, well inside GSocketPrivate, which ends with an address
    // cache of several hundred bytes in every version checked).
    unsafe {
        let mut err: *mut glib::GError = std::ptr::null_mut();
        let s = gio::g_socket_new(
            gio::G_SOCKET_FAMILY_IPV4,
            gio::G_SOCKET_TYPE_DATAGRAM,
            gio::G_SOCKET_PROTOCOL_UDP,
            &mut err,
        );
        if s.is_null() {
            if !err.is_null() {
                glib::g_error_free(err);
            }
            return None;
        }
        let p = private(s);
        let mut ok = !p.is_null()
            && read_i32(p, l.fd) == gio::g_socket_get_fd(s)
            && read_i32(p, l.family) == gio::g_socket_get_family(s)
            && read_i32(p, l.ty) == gio::g_socket_get_socket_type(s)
            && read_i32(p, l.protocol) == gio::g_socket_get_protocol(s);
        for (blocking, timeout) in [(1, 7u32), (0, 0), (1, 0)] {
            gio::g_socket_set_blocking(s, blocking);
            gio::g_socket_set_timeout(s, timeout);
            let flags = read_u32(p, l.flags);
            ok = ok
                && (flags & l.blocking_bit != 0) == (gio::g_socket_get_blocking(s) != 0)
                && read_u32(p, l.timeout) == gio::g_socket_get_timeout(s)
                && flags & l.closed_bit == 0;
        }
        let before = read_u32(p, l.flags);
        gio::g_socket_close(s, std::ptr::null_mut());
        let after = read_u32(p, l.flags);
        ok = ok
            && gio::g_socket_is_closed(s) != 0
            && after & l.closed_bit != 0
            && (before ^ after) & l.blocking_bit == 0
            && read_i32(p, l.fd) == gio::g_socket_get_fd(s);
        gobject_sys::g_object_unref(s.cast());
        ok.then_some(l)
    }
}

/// Whether a socket of this family, type and protocol is a UDP socket. An
/// internet datagram socket made with `G_SOCKET_PROTOCOL_DEFAULT` is UDP
/// (the kernel's default for the pair), and GIO keeps reporting DEFAULT
/// for it.
#[inline]
pub fn is_udp(family: i32, ty: i32, protocol: i32) -> bool {
    (family == gio::G_SOCKET_FAMILY_IPV4 || family == gio::G_SOCKET_FAMILY_IPV6)
        && ty == gio::G_SOCKET_TYPE_DATAGRAM
        && (protocol == gio::G_SOCKET_PROTOCOL_UDP || protocol == gio::G_SOCKET_PROTOCOL_DEFAULT)
}

/// Reads the state of `socket`.
///
/// # Safety
/// `socket` is a live GSocket.
#[inline(always)]
pub unsafe fn state(socket: *mut gio::GSocket) -> State {
    // SAFETY: per the contract; the layout was proven on this GLib.
    unsafe {
        match layout() {
            Some(l) => {
                let p = private(socket);
                let flags = read_u32(p, l.flags);
                State {
                    fd: read_i32(p, l.fd),
                    closed: flags & l.closed_bit != 0,
                    blocking: flags & l.blocking_bit != 0,
                    udp: is_udp(read_i32(p, l.family), read_i32(p, l.ty), read_i32(p, l.protocol)),
                }
            }
            None => State {
                fd: gio::g_socket_get_fd(socket),
                closed: gio::g_socket_is_closed(socket) != 0,
                blocking: gio::g_socket_get_blocking(socket) != 0,
                udp: is_udp(
                    gio::g_socket_get_family(socket),
                    gio::g_socket_get_socket_type(socket),
                    gio::g_socket_get_protocol(socket),
                ),
            },
        }
    }
}

/// The socket's timeout in seconds (0: none).
///
/// # Safety
/// `socket` is a live GSocket.
pub unsafe fn timeout(socket: *mut gio::GSocket) -> u32 {
    // SAFETY: per the contract; the layout was proven on this GLib.
    unsafe {
        match layout() {
            Some(l) => read_u32(private(socket), l.timeout),
            None => gio::g_socket_get_timeout(socket),
        }
    }
}

/// Whether the fast field reads are in use (for tests and diagnostics).
pub fn direct_reads() -> bool {
    layout().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_proven_on_this_glib_and_matches_getters() {
        assert!(direct_reads(), "the GSocketPrivate layout probe failed on this GLib");
        // SAFETY: a socket of our own.
        unsafe {
            let s = gio::g_socket_new(
                gio::G_SOCKET_FAMILY_IPV6,
                gio::G_SOCKET_TYPE_DATAGRAM,
                gio::G_SOCKET_PROTOCOL_UDP,
                std::ptr::null_mut(),
            );
            assert!(!s.is_null());
            gio::g_socket_set_blocking(s, 0);
            gio::g_socket_set_timeout(s, 3);
            let st = state(s);
            assert_eq!(st.fd, gio::g_socket_get_fd(s));
            assert!(!st.closed && !st.blocking && st.udp);
            assert_eq!(timeout(s), 3);
            gio::g_socket_close(s, std::ptr::null_mut());
            let st = state(s);
            assert!(st.closed);
            assert_eq!(st.fd, -1);
            gobject_sys::g_object_unref(s.cast());
        }
    }

    #[test]
    fn default_protocol_internet_datagram_sockets_are_udp() {
        for (family, ty, protocol, udp) in [
            (gio::G_SOCKET_FAMILY_IPV4, gio::G_SOCKET_TYPE_DATAGRAM, gio::G_SOCKET_PROTOCOL_DEFAULT, true),
            (gio::G_SOCKET_FAMILY_IPV6, gio::G_SOCKET_TYPE_DATAGRAM, gio::G_SOCKET_PROTOCOL_UDP, true),
            (gio::G_SOCKET_FAMILY_UNIX, gio::G_SOCKET_TYPE_DATAGRAM, gio::G_SOCKET_PROTOCOL_DEFAULT, false),
            (gio::G_SOCKET_FAMILY_IPV4, gio::G_SOCKET_TYPE_STREAM, gio::G_SOCKET_PROTOCOL_DEFAULT, false),
        ] {
            // SAFETY: a socket of our own.
            unsafe {
                let s = gio::g_socket_new(family, ty, protocol, std::ptr::null_mut());
                assert!(!s.is_null());
                assert_eq!(state(s).udp, udp, "family {family} type {ty} protocol {protocol}");
                gobject_sys::g_object_unref(s.cast());
            }
        }
    }

    #[test]
    fn the_probe_state_never_waits_and_a_forked_child_settles_on_the_getters() {
        let (me, parent) = (4242u64, 17u64);
        // First comer: claims the probe under its own process id.
        assert_eq!(step(UNKNOWN, me), Step::Set(BUSY | me << 8));
        // Another thread of the same process: the getters, without waiting.
        assert_eq!(step(BUSY | me << 8, me), Step::Done(None));
        // A child that inherited the parent's busy probe: the getters for good.
        assert_eq!(step(BUSY | parent << 8, me), Step::Set(REFUTED));
        assert!(matches!(step(PROVEN, me), Step::Done(Some(_))));
        assert_eq!(step(REFUTED, me), Step::Done(None));
    }

    #[test]
    fn a_wrong_layout_is_rejected() {
        let wrong = Layout { fd: 16, ..CANDIDATE };
        // SAFETY: the probe reads within 48 bytes of the private struct.
        assert!(unsafe { probe(wrong) }.is_none());
        let wrong = Layout { blocking_bit: 1 << 2, ..CANDIDATE };
        // SAFETY: as above.
        assert!(unsafe { probe(wrong) }.is_none());
    }
}
