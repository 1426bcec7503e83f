//! The few system calls the engine makes, crate-private. Every `unsafe`
//! block of the engine's I/O lives here. A wrapper whose soundness depends
//! on pointers the kernel will read (the headers of `sendmmsg`, the vectors
//! of `sendmsg`) is an `unsafe fn`: its caller vouches for them. The rest
//! take only values and plain borrows, and are safe; the edge reaches the
//! socket-option queries it needs through [`crate::sockopt`].

use std::os::fd::RawFd;

use crate::sockaddr::SockAddr;

/// The calling thread's `errno`.
pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `sendmmsg(2)` on `hdrs`. Returns how many headers the kernel took, or the
/// errno of the failure.
///
/// # Safety
/// The headers' pointers (names, vectors, the buffers the vectors point at,
/// control data) must be valid for the kernel to read for their lengths:
/// the planner points them at its own buffers (moving them along when a
/// buffer grows, see `Scratch::plan`) or at memory the caller of
/// `Scratch::push` and its siblings vouched for.
#[inline(always)]
pub(crate) unsafe fn sendmmsg(fd: RawFd, hdrs: &mut [libc::mmsghdr], flags: i32) -> Result<usize, i32> {
    if hdrs.is_empty() {
        return Ok(0);
    }
    let n = hdrs.len().min(libc::c_uint::MAX as usize) as libc::c_uint;
    // SAFETY: `hdrs` is a valid, exclusively borrowed array of `n` headers; the
    // kernel writes only their `msg_len` fields and reads the memory they
    // point to, which this function's caller vouched for.
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
/// vectors.
///
/// # Safety
/// The buffers `iov` points at must be readable for their lengths.
pub(crate) unsafe fn sendmsg(
    fd: RawFd,
    name: Option<&SockAddr>,
    iov: &[libc::iovec],
    flags: i32,
) -> Result<usize, i32> {
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
    // SAFETY: the header points at a live address and live vectors, whose
    // buffers the caller vouched for; the kernel only reads them.
    let r = unsafe { libc::sendmsg(fd, &hdr, flags) };
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

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
pub(crate) fn udp_sends_as_given(fd: RawFd) -> bool {
    [libc::UDP_CORK, libc::UDP_SEGMENT].iter().all(|&opt| getsockopt_int(fd, libc::SOL_UDP, opt) == Some(0))
        && getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPING).is_some_and(|v| v & TX_TIMESTAMPS == 0)
}

/// Why this UDP socket's options keep datagrams apart (see
/// [`udp_sends_as_given`]), as bits of [`crate::stats::kept_apart`]; 0 if
/// nothing does.
#[cold]
pub(crate) fn udp_send_options(fd: RawFd) -> u8 {
    use crate::stats::kept_apart;
    let mut why = 0;
    for (opt, bit) in [(libc::UDP_CORK, kept_apart::UDP_CORK), (libc::UDP_SEGMENT, kept_apart::UDP_SEGMENT)] {
        match getsockopt_int(fd, libc::SOL_UDP, opt) {
            Some(0) => {}
            Some(_) => why |= bit,
            None => why |= kept_apart::UNREADABLE,
        }
    }
    match getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPING) {
        Some(v) if v & TX_TIMESTAMPS != 0 => why |= kept_apart::TX_TIMESTAMPS,
        Some(_) => {}
        None => why |= kept_apart::UNREADABLE,
    }
    why
}

/// Whether the kernel says `fd` is a UDP socket (`SO_PROTOCOL` is
/// `IPPROTO_UDP`): GIO's own idea of the protocol calls an ICMP "ping"
/// socket UDP, and the kernel ignores `UDP_SEGMENT` there.
pub fn is_udp_socket(fd: RawFd) -> bool {
    getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL) == Some(libc::IPPROTO_UDP)
}

/// What `poll(2)` reported for a writability wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PollResult {
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
pub(crate) fn poll_writable(fd: RawFd, extra: Option<RawFd>, timeout_ms: i32) -> Result<PollResult, i32> {
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
pub(crate) fn getsockopt_int(fd: RawFd, level: i32, name: i32) -> Option<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are valid for writes of the sizes passed.
    let r = unsafe { libc::getsockopt(fd, level, name, (&mut v as *mut libc::c_int).cast(), &mut len) };
    (r == 0).then_some(v)
}
