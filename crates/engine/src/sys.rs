//! The few system calls the engine makes. Every `unsafe` block of the
//! engine's I/O lives here.

use std::cell::RefCell;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::plan::{Scratch, SockAddr};

/// `UDP_SEGMENT` socket option / control message type (linux/udp.h).
pub const UDP_SEGMENT: libc::c_int = 103;
/// `SOL_UDP` level.
pub const SOL_UDP: libc::c_int = 17;

/// The calling thread's `errno`.
pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `sendmmsg(2)` on `hdrs`. Returns how many headers the kernel took, or the
/// errno of the failure.
///
/// The headers' pointers (names, vectors, control data) must be valid for the
/// kernel to read: the planner points them at its own buffers (moving them
/// along when a buffer grows, see `Scratch::plan`) or at memory the caller
/// handed in with the same guarantee.
#[inline(always)]
pub fn sendmmsg(fd: RawFd, hdrs: &mut [libc::mmsghdr], flags: i32) -> Result<usize, i32> {
    if hdrs.is_empty() {
        return Ok(0);
    }
    let n = hdrs.len().min(libc::c_uint::MAX as usize) as libc::c_uint;
    // SAFETY: `hdrs` is a valid, exclusively borrowed array of `n` headers; the
    // kernel writes only their `msg_len` fields and reads the memory they
    // point to, which the planner's contract keeps valid for this call.
    let r = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), n, flags) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

/// `sendmsg(2)` of one datagram: `Ok(bytes)` or `Err(errno)`.
///
/// `name` is the destination (`None`: the connected peer); `iov` the gather
/// vectors, whose buffers must be readable for their lengths (the caller's
/// contract, as for [`sendmmsg`]).
pub fn sendmsg(fd: RawFd, name: Option<&SockAddr>, iov: &[libc::iovec], flags: i32) -> Result<usize, i32> {
    let (msg_name, msg_namelen) = name.map_or((std::ptr::null_mut(), 0), SockAddr::name);
    let hdr = libc::msghdr {
        msg_name,
        msg_namelen,
        msg_iov: iov.as_ptr().cast_mut(),
        msg_iovlen: iov.len(),
        msg_control: std::ptr::null_mut(),
        msg_controllen: 0,
        msg_flags: 0,
    };
    // SAFETY: the header points at a live address and live vectors; the
    // kernel only reads them.
    let r = unsafe { libc::sendmsg(fd, &hdr, flags) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

/// `UDP_CORK` (linux/udp.h).
pub const UDP_CORK: i32 = 1;

/// TX timestamp requests of `SO_TIMESTAMPING` (linux/net_tstamp.h): with any
/// of them on, the kernel reports one timestamp per send, keyed by send.
const TX_TIMESTAMPS: i32 = (libc::SOF_TIMESTAMPING_TX_HARDWARE
    | libc::SOF_TIMESTAMPING_TX_SOFTWARE
    | libc::SOF_TIMESTAMPING_TX_SCHED
    | libc::SOF_TIMESTAMPING_TX_ACK) as i32;

/// Whether the kernel sends each of this UDP socket's datagrams as it is
/// given: not corked (`UDP_CORK`), without a socket-wide segment size
/// (`UDP_SEGMENT` set by the user), and without TX timestamps
/// (`SO_TIMESTAMPING`, which reports one timestamp per send: a segmented
/// send would give one for the whole run). A segmented send would change
/// what the receiver or the error queue gets on such a socket. An option
/// that cannot be read counts against coalescing (a socket whose
/// `SOL_UDP` options cannot be read is not UDP).
pub fn udp_sends_as_given(fd: RawFd) -> bool {
    [UDP_CORK, UDP_SEGMENT].iter().all(|&opt| getsockopt_int(fd, SOL_UDP, opt) == Some(0))
        && getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPING).is_some_and(|v| v & TX_TIMESTAMPS == 0)
}

/// Whether the kernel says `fd` is a UDP socket (`SO_PROTOCOL` is
/// `IPPROTO_UDP`): GIO's own idea of the protocol calls an ICMP "ping"
/// socket UDP, and the kernel ignores `UDP_SEGMENT` there.
pub fn is_udp_socket(fd: RawFd) -> bool {
    getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL) == Some(libc::IPPROTO_UDP)
}

/// What `poll(2)` reported for a writability wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollResult {
    /// The socket is writable (or in error: the next send will tell).
    Writable,
    /// The extra descriptor (a cancellable's) became readable.
    Extra,
    /// The time ran out.
    TimedOut,
}

/// Waits until `fd` is writable, `extra` is readable, or `timeout_ms`
/// (-1: forever) passes. `EINTR` is returned to the caller, who recomputes
/// the remaining time.
pub fn poll_writable(fd: RawFd, extra: Option<RawFd>, timeout_ms: i32) -> Result<PollResult, i32> {
    let mut fds = [
        libc::pollfd { fd, events: libc::POLLOUT, revents: 0 },
        libc::pollfd { fd: extra.unwrap_or(-1), events: libc::POLLIN, revents: 0 },
    ];
    let nfds = if extra.is_some() { 2 } else { 1 };
    // SAFETY: `fds` is a valid array of at least `nfds` pollfd structs that
    // lives across the call.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), nfds, timeout_ms) };
    if r < 0 {
        return Err(errno());
    }
    if r == 0 {
        return Ok(PollResult::TimedOut);
    }
    if nfds == 2 && fds[1].revents != 0 {
        return Ok(PollResult::Extra);
    }
    Ok(PollResult::Writable)
}

/// A socket option of type `int`, or `None` if it cannot be read.
pub fn getsockopt_int(fd: RawFd, level: i32, name: i32) -> Option<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writes of the sizes passed.
    let r = unsafe { libc::getsockopt(fd, level, name, (&mut v as *mut libc::c_int).cast(), &mut len) };
    (r == 0).then_some(v)
}

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
    unsafe {
        p.write(RefCell::new(Scratch::default()));
        if libc::pthread_setspecific(key, p.cast()) != 0 {
            drop(Box::from_raw(p));
            return std::ptr::null_mut();
        }
    }
    SCRATCH.with(|c| c.set(p));
    p
}
