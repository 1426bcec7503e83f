//! Debug messages in the "GSend" log domain, given only when GLib's own
//! switch asks for them: `G_MESSAGES_DEBUG` naming `GSend` (or `all`).
//!
//! The switch is read once, with libc's `getenv`, when the library is
//! loaded ([`crate::warm_up`]); with it off nothing is formatted and no
//! GLib function is called, so no GLib lock is taken on the send path
//! (docs/behaviour.md "Signals and fork"). With it on, each message goes
//! through `g_log`, which takes GLib's logging lock.
//!
//! The messages: once per socket when segmentation offload is first used
//! on it, when the kernel refuses it (with the errno) and when it is
//! turned off for the socket; and, at most once a second per reason in
//! the process, why a batch was not coalesced.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use gio_sys as gio;
use glib_sys as glib;
use gsend_engine::plan::Scratch;
use gsend_engine::stats::kept_apart;

use crate::glue;

/// Bits of `Counters::noted`: the one-time messages given for a socket.
const NOTED_GSO_USED: u32 = 1;

/// Whether `G_MESSAGES_DEBUG` names "GSend" or "all" (read once).
#[inline(always)]
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// The switch, read by [`settle`] (which the libraries' load-time
/// constructor calls through `crate::warm_up`, before any send; until then
/// the messages are off).
static ON: AtomicBool = AtomicBool::new(false);

/// Reads the switch (once; later calls give the same answer).
pub(crate) fn settle() -> bool {
    static READ: glue::Cached = glue::Cached::new();
    let on = glue::env_switch(&READ, c"G_MESSAGES_DEBUG", |v| names_gsend(&v.to_string_lossy()));
    ON.store(on, Ordering::Relaxed);
    on
}

/// Whether a `G_MESSAGES_DEBUG` value turns on the "GSend" domain (GLib
/// splits it at spaces and commas).
fn names_gsend(v: &str) -> bool {
    v.split([' ', ',']).any(|d| d == "GSend" || d == "all")
}

/// Logs `text` as a debug message in the "GSend" domain.
#[cold]
fn log(text: &str) {
    let Ok(msg) = CString::new(text) else { return };
    // SAFETY: a "%s" format and a NUL-terminated string.
    unsafe { glib::g_log(glue::DOMAIN.as_ptr(), glib::G_LOG_LEVEL_DEBUG, c"%s".as_ptr(), msg.as_ptr()) }
}

/// The socket's descriptor, for messages.
fn fd_of(socket: *mut gio::GSocket) -> i32 {
    // SAFETY: the callers pass a live GSocket.
    unsafe { gio::g_socket_get_fd(socket) }
}

/// After a batch on `socket` (whose counters are the scratch space's): the first use of
/// segmentation offload on the socket, its refusal, and why datagrams
/// were kept apart. Call only when [`enabled`].
///
/// # Safety
/// `socket` is a live GSocket.
#[cold]
#[inline(never)]
pub(crate) unsafe fn after_run(
    socket: *mut gio::GSocket,
    s: &mut Scratch,
    gso_refused: bool,
    flags: i32,
    n: usize,
    gso: bool,
) {
    let c = s.stats.0;
    let notes = std::mem::take(&mut s.notes);
    let in_runs = c.gso_datagrams.load(Ordering::Relaxed);
    if in_runs != 0
        && c.noted.load(Ordering::Relaxed) & NOTED_GSO_USED == 0
        && c.noted.fetch_or(NOTED_GSO_USED, Ordering::Relaxed) & NOTED_GSO_USED == 0
    {
        log(&format!(
            "socket {:p} (fd {}): segmentation offload used for the first time ({in_runs} datagrams in runs so far)",
            socket,
            fd_of(socket)
        ));
    }
    if gso_refused {
        let errno = notes.refusal_errno;
        log(&format!(
            "socket {:p} (fd {}): the kernel refused segmentation offload: {} (errno {errno}); \
             turned off for this socket",
            socket,
            fd_of(socket),
            glue::strerror(errno)
        ));
    }
    let mut why = notes.kept_apart;
    if gso && n > 1 {
        why |= gsend_engine::flags_kept_apart(flags);
        // The last chunk's control data is still in the scratch space.
        if !s.control.is_empty() {
            why |= kept_apart::CONTROL;
        }
    }
    if why != 0 {
        kept_apart_now(why, now_secs());
    }
}

/// Logs that offload was turned off for `socket` with
/// `gsend_socket_set_gso`. Call only when [`enabled`].
pub(crate) fn turned_off_by_user(socket: *mut gio::GSocket) {
    log(&format!("socket {:p} (fd {}): segmentation offload turned off (gsend_socket_set_gso)", socket, fd_of(socket)));
}

/// The monotonic clock's seconds (the coarse clock: no system call).
fn now_secs() -> i64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid out location.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    ts.tv_sec
}

/// Per reason: the second of its last message (plus one: 0 is never), and
/// how many times it was seen since.
static LAST: [AtomicI64; 7] = [const { AtomicI64::new(0) }; 7];
static SINCE: [AtomicU64; 7] = [const { AtomicU64::new(0) }; 7];

/// Logs each reason in `why` unless it was logged within the second
/// `now` (then only counts it, for the next message).
fn kept_apart_now(why: u8, now: i64) {
    for (i, bit) in kept_apart::ALL.iter().enumerate() {
        if why & bit == 0 {
            continue;
        }
        let last = LAST[i].load(Ordering::Relaxed);
        if last == now + 1 || LAST[i].compare_exchange(last, now + 1, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            SINCE[i].fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let more = SINCE[i].swap(0, Ordering::Relaxed);
        let tail = if more > 0 { format!(" (and {more} more times since the last message)") } else { String::new() };
        log(&format!("batch not coalesced: {}{tail}", kept_apart::NAMES[i]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_is_glibs_list_of_domains() {
        assert!(names_gsend("GSend"));
        assert!(names_gsend("GLib GSend"));
        assert!(names_gsend("Gtk,GSend"));
        assert!(names_gsend("all"));
        assert!(!names_gsend("GSendX"));
        assert!(!names_gsend(""));
        assert!(!names_gsend("GLib-GIO"));
    }

    #[test]
    fn a_reason_is_logged_at_most_once_a_second() {
        // Far from any real clock value, so that no other test's call
        // interferes: the second reason bit is used only here.
        let bit = kept_apart::MSG_ZEROCOPY;
        let i = 1;
        let t = 1_000_000_000;
        kept_apart_now(bit, t);
        assert_eq!(LAST[i].load(Ordering::Relaxed), t + 1);
        kept_apart_now(bit, t);
        kept_apart_now(bit, t);
        assert_eq!(SINCE[i].load(Ordering::Relaxed), 2);
        kept_apart_now(bit, t + 1);
        assert_eq!(LAST[i].load(Ordering::Relaxed), t + 2);
        assert_eq!(SINCE[i].load(Ordering::Relaxed), 0);
    }
}
