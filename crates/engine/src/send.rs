//! The send loop: plan a chunk, push it with `sendmmsg`, wait when the
//! socket is full, fall back from GSO when the kernel refuses it.

use std::cell::RefCell;
use std::os::fd::RawFd;

use crate::plan::{GsoPolicy, Scratch, CHUNK};
use crate::sys;
use crate::wait::{Stop, Timeout, Waiter};

/// Why a send stopped before every message went out.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure<E> {
    /// The caller's description of message `index` failed.
    Describe {
        /// Message index in the call.
        index: usize,
        /// The caller's error.
        error: E,
    },
    /// The kernel refused message `index` with `errno`.
    Os {
        /// Message index in the call.
        index: usize,
        /// The errno.
        errno: i32,
    },
    /// The socket is full and the call may not wait.
    WouldBlock {
        /// First message not sent.
        index: usize,
    },
    /// The wait ended.
    Wait {
        /// First message not sent.
        index: usize,
        /// Why.
        stop: Stop,
    },
}

/// What a send did.
#[derive(Debug)]
pub struct Outcome<E> {
    /// Messages the kernel accepted, from the first.
    pub sent: usize,
    /// Why it stopped early, if it did. A caller following GIO's rules
    /// reports it only when `sent == 0`.
    pub failure: Option<Failure<E>>,
    /// The kernel refused a GSO send and then took the same datagrams sent
    /// one by one: do not try again on this socket.
    pub gso_refused: bool,
}

/// The fixed parameters of a send.
#[derive(Clone, Copy, Debug)]
pub struct SendRequest {
    /// The socket.
    pub fd: RawFd,
    /// Messages in the call.
    pub n: usize,
    /// Flags for the kernel (`MSG_NOSIGNAL` is added).
    pub flags: i32,
    /// Waiting rules.
    pub timeout: Timeout,
    /// Coalescing rules.
    pub gso: GsoPolicy,
}

/// Errnos with which the kernel may refuse a segmented send as such
/// (nothing of it was sent; the same datagrams may go one by one). The
/// same errnos also come from causes that have nothing to do with
/// segmentation (`MSG_OOB` on UDP, an address of the wrong size): a refusal
/// is concluded only when the datagrams then go through sent plainly.
fn refuses_gso(errno: i32) -> bool {
    matches!(errno, libc::EIO | libc::EINVAL | libc::EOPNOTSUPP | libc::ENOPROTOOPT | libc::EPROTONOSUPPORT)
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch space, or with a fresh one if it is
/// in use further up the stack (a control message's serializer that sends).
pub fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut f = Some(f);
    let r = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => Some((f.take().expect("called once"))(&mut s)),
        Err(_) => None,
    });
    match r {
        Ok(Some(r)) => r,
        _ => (f.take().expect("called once"))(&mut Scratch::default()),
    }
}

/// What [`try_send_one`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum One {
    /// The kernel took the datagram: bytes sent.
    Sent(usize),
    /// The kernel refused it with this errno (not `EAGAIN`): nothing was
    /// sent, and the error is the call's result.
    Failed(i32),
    /// The socket is full: nothing was sent; take the general path, which
    /// waits by the rules.
    Full,
}

/// Sends one datagram without control data if the kernel takes it at once.
/// `EINTR` is retried.
///
/// This is the fast path for one message per call: no planning, one
/// `sendmsg`. An error is final (a pending socket error such as
/// `ECONNREFUSED` is consumed by the attempt that reports it, so the caller
/// must not retry on another path).
#[inline]
pub fn try_send_one(fd: RawFd, name: Option<&crate::plan::SockAddr>, iov: &[libc::iovec], flags: i32) -> One {
    loop {
        match sys::sendmsg(fd, name, iov, flags | libc::MSG_NOSIGNAL) {
            Ok(n) => return One::Sent(n),
            Err(libc::EINTR) => continue,
            Err(libc::EAGAIN) => return One::Full,
            Err(errno) => return One::Failed(errno),
        }
    }
}

/// Sends `req.n` messages. `describe(i, scratch)` adds message `i` to the
/// scratch space (see [`Scratch::push`], whose contract on the vector
/// arrays holds until this returns), and may add following messages too
/// (see [`Scratch::extend_simple`]); it is called for a chunk of up to
/// 1024 messages before any of them is sent. `report(i, bytes)` is called for
/// every message the kernel accepted.
pub fn send<E>(
    s: &mut Scratch,
    req: &SendRequest,
    waiter: &mut dyn Waiter,
    mut describe: impl FnMut(usize, &mut Scratch) -> Result<(), E>,
    mut report: impl FnMut(usize, usize),
) -> Outcome<E> {
    let mut out = Outcome { sent: 0, failure: None, gso_refused: false };
    // MSG_MORE corks: what follows joins one datagram, which a segmented
    // send would cut up. MSG_ZEROCOPY reports one completion per send: a
    // segmented send would give one for the whole run.
    let mut gso = if req.flags & (libc::MSG_MORE | libc::MSG_ZEROCOPY) != 0 { GsoPolicy::OFF } else { req.gso };
    // A segmented send failed with an errno of `refuses_gso`: the same
    // datagrams now go one by one, and the refusal stands only if the
    // kernel takes them.
    let mut refusal_unconfirmed = false;
    // The socket's UDP options are read once per call, when a run is first
    // about to go out.
    let mut options_checked = false;
    let flags = req.flags | libc::MSG_NOSIGNAL;
    let mut start = 0;
    while start < req.n {
        let end = req.n.min(start + CHUNK);
        s.begin_with(gso);
        s.set_limit(end - start);
        // A describer adds message `i` and may add following ones too (see
        // `Scratch::extend_simple`); it never adds beyond the limit.
        let mut i = start;
        while i < end {
            if let Err(error) = describe(i, s) {
                out.failure = Some(Failure::Describe { index: i, error });
                return out;
            }
            i = (start + s.messages()).max(i + 1);
        }
        s.plan();
        if gso.enabled && !options_checked && s.has_runs() {
            options_checked = true;
            if !sys::udp_sends_as_given(req.fd) {
                gso = GsoPolicy::OFF;
                s.replan_plain(0);
            }
        }
        let mut k = 0;
        while k < s.hdrs.len() {
            let first = start + s.entries[k].first;
            match sys::sendmmsg(req.fd, &mut s.hdrs[k..], flags) {
                Ok(0) => {
                    // Only for an empty vector, which cannot happen here;
                    // never spin on it.
                    out.failure = Some(Failure::WouldBlock { index: first });
                    return out;
                }
                Ok(r) => {
                    if refusal_unconfirmed {
                        refusal_unconfirmed = false;
                        out.gso_refused = true;
                    }
                    out.sent += s.sent(k..k + r, start, &mut report);
                    k += r;
                }
                Err(libc::EINTR) => {}
                Err(libc::EAGAIN) => {
                    if s.entries[k].is_gso() && req.timeout == Timeout::NonBlocking {
                        // A smaller datagram may still fit: try them one by one.
                        s.replan_plain(k);
                        continue;
                    }
                    match req.timeout {
                        Timeout::NonBlocking => {
                            out.failure = Some(Failure::WouldBlock { index: first });
                            return out;
                        }
                        Timeout::Block(deadline) => {
                            if let Err(stop) = waiter.wait(req.fd, deadline) {
                                out.failure = Some(Failure::Wait { index: first, stop });
                                return out;
                            }
                        }
                    }
                }
                Err(libc::EMSGSIZE | libc::ENOBUFS) if s.entries[k].is_gso() => {
                    // Too big as a whole for the path (its MTU), or for a
                    // queue with a byte limit (dropped whole, reported with
                    // IP_RECVERR): send this run's datagrams one by one;
                    // GSO stays on.
                    s.replan_entry_plain(k);
                }
                Err(errno) if s.entries[k].is_gso() && refuses_gso(errno) => {
                    refusal_unconfirmed = true;
                    gso = GsoPolicy::OFF;
                    s.replan_plain(k);
                }
                Err(errno) => {
                    out.failure = Some(Failure::Os { index: first, errno });
                    return out;
                }
            }
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Dest, Message};
    use crate::wait::PollWaiter;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    fn dgram_pair() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: fds is a valid array of two ints.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, 0, fds.as_mut_ptr()) };
        assert_eq!(r, 0);
        // SAFETY: both descriptors are new and owned by nobody else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn recv_all(fd: &OwnedFd) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        loop {
            let mut buf = vec![0u8; 70000];
            // SAFETY: buf is valid for writes of its length.
            let r = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if r < 0 {
                return got;
            }
            buf.truncate(r as usize);
            got.push(buf);
        }
    }

    fn send_payloads(fd: &OwnedFd, payloads: &[Vec<u8>], timeout: Timeout) -> (Outcome<()>, Vec<usize>) {
        let iovs: Vec<libc::iovec> =
            payloads.iter().map(|p| libc::iovec { iov_base: p.as_ptr() as *mut _, iov_len: p.len() }).collect();
        let req = SendRequest { fd: fd.as_raw_fd(), n: payloads.len(), flags: 0, timeout, gso: GsoPolicy::OFF };
        let mut sent = vec![usize::MAX; payloads.len()];
        let out = with_scratch(|s| {
            send(
                s,
                &req,
                &mut PollWaiter,
                |i, s| {
                    // SAFETY: `iovs` outlives the send.
                    unsafe {
                        s.push(Message {
                            dest: Dest::Connected,
                            iov: &iovs[i..i + 1],
                            control: None,
                            len: payloads[i].len(),
                        })
                    };
                    Ok(())
                },
                |i, b| sent[i] = b,
            )
        });
        (out, sent)
    }

    #[test]
    fn sends_every_message_in_order_across_chunks() {
        let (a, b) = dgram_pair();
        let payloads: Vec<Vec<u8>> = (0..1500u32).map(|i| i.to_ne_bytes().to_vec()).collect();
        let mut got = Vec::new();
        let mut off = 0;
        while off < payloads.len() {
            let (out, _) = send_payloads(&a, &payloads[off..], Timeout::NonBlocking);
            off += out.sent;
            got.extend(recv_all(&b));
        }
        assert_eq!(got, payloads);
    }

    #[test]
    fn full_socket_would_block_then_times_out() {
        let (a, _b) = dgram_pair();
        let big = vec![vec![7u8; 4096]; 1];
        let mut total = 0;
        loop {
            let (out, sent) = send_payloads(&a, &big, Timeout::NonBlocking);
            if out.sent == 0 {
                assert_eq!(out.failure, Some(Failure::WouldBlock { index: 0 }));
                assert_eq!(sent[0], usize::MAX);
                break;
            }
            assert_eq!(sent[0], 4096);
            total += 1;
            assert!(total < 100_000, "queue never filled");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(20);
        let (out, _) = send_payloads(&a, &big, Timeout::Block(Some(deadline)));
        assert_eq!(out.sent, 0);
        assert_eq!(out.failure, Some(Failure::Wait { index: 0, stop: Stop::TimedOut }));
        assert!(std::time::Instant::now() >= deadline);
    }

    #[test]
    fn describe_error_stops_before_sending() {
        let (a, b) = dgram_pair();
        let req = SendRequest { fd: a.as_raw_fd(), n: 3, flags: 0, timeout: Timeout::NonBlocking, gso: GsoPolicy::OFF };
        let v = [libc::iovec { iov_base: b"x".as_ptr() as *mut _, iov_len: 1 }];
        let out = with_scratch(|s| {
            send(
                s,
                &req,
                &mut PollWaiter,
                |i, s| {
                    if i == 2 {
                        return Err("bad");
                    }
                    // SAFETY: `v` outlives the send.
                    unsafe { s.push(Message { dest: Dest::Connected, iov: &v, control: None, len: 1 }) };
                    Ok(())
                },
                |_, _| {},
            )
        });
        assert_eq!(out.sent, 0);
        assert_eq!(out.failure, Some(Failure::Describe { index: 2, error: "bad" }));
        assert!(recv_all(&b).is_empty());
    }

    /// A UDP socket connected to a bound one on 127.0.0.1: (sender, receiver).
    fn udp_pair() -> (OwnedFd, OwnedFd) {
        let mk = || {
            // SAFETY: plain socket creation.
            let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, 0) };
            assert!(fd >= 0);
            // SAFETY: a new descriptor owned by nobody else.
            unsafe { OwnedFd::from_raw_fd(fd) }
        };
        let (tx, rx) = (mk(), mk());
        // SAFETY: sockaddr_in is plain old data; all zeroes is valid.
        let mut a: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        a.sin_family = libc::AF_INET as libc::sa_family_t;
        a.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
        let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: `a` and `len` are valid for the sizes given.
        unsafe {
            let p = (&mut a as *mut libc::sockaddr_in).cast::<libc::sockaddr>();
            assert_eq!(libc::bind(rx.as_raw_fd(), p, len), 0);
            assert_eq!(libc::getsockname(rx.as_raw_fd(), p, &mut len), 0);
            assert_eq!(libc::connect(tx.as_raw_fd(), p, len), 0);
        }
        (tx, rx)
    }

    /// Sends `n` datagrams of `len` bytes with GSO allowed and `flags`;
    /// returns the outcome and how many of the last chunk's headers were
    /// segmented sends.
    fn send_uniform(fd: &OwnedFd, n: usize, len: usize, flags: i32) -> (Outcome<()>, usize) {
        let data = vec![5u8; len];
        let v = [libc::iovec { iov_base: data.as_ptr() as *mut _, iov_len: len }];
        let req = SendRequest { fd: fd.as_raw_fd(), n, flags, timeout: Timeout::NonBlocking, gso: GsoPolicy::UDP };
        with_scratch(|s| {
            let out = send(
                s,
                &req,
                &mut PollWaiter,
                |_, s| {
                    // SAFETY: `v` outlives the send.
                    unsafe { s.push(Message { dest: Dest::Connected, iov: &v, control: None, len }) };
                    Ok(())
                },
                |_, _| {},
            );
            let plan = s.view();
            let segmented = (0..plan.len()).filter(|&k| plan.header(k).segment.is_some()).count();
            (out, segmented)
        })
    }

    fn set_int(fd: &OwnedFd, level: i32, opt: i32, v: i32) {
        // SAFETY: `v` is an int of the size passed.
        let r = unsafe {
            libc::setsockopt(fd.as_raw_fd(), level, opt, (&v as *const i32).cast(), std::mem::size_of::<i32>() as _)
        };
        assert_eq!(r, 0);
    }

    #[test]
    fn uniform_batch_is_segmented() {
        let (tx, rx) = udp_pair();
        let (out, segmented) = send_uniform(&tx, 8, 100, 0);
        assert_eq!((out.sent, out.failure, out.gso_refused, segmented), (8, None, false, 1));
        assert_eq!(recv_all(&rx).len(), 8);
    }

    #[test]
    fn an_unrelated_failure_is_no_refusal() {
        // MSG_OOB fails on UDP whether segmented or not: reported, and
        // segmentation is not blamed.
        let (tx, rx) = udp_pair();
        let (out, _) = send_uniform(&tx, 8, 100, libc::MSG_OOB);
        assert_eq!(out.sent, 0);
        assert_eq!(out.failure, Some(Failure::Os { index: 0, errno: libc::EOPNOTSUPP }));
        assert!(!out.gso_refused);
        assert!(recv_all(&rx).is_empty());
    }

    #[test]
    fn a_refusal_stands_when_the_plain_send_goes_through() {
        // Without UDP checksums the kernel refuses segmentation (EINVAL) but
        // takes the datagrams one by one.
        let (tx, rx) = udp_pair();
        set_int(&tx, libc::SOL_SOCKET, libc::SO_NO_CHECK, 1);
        let (out, segmented) = send_uniform(&tx, 8, 100, 0);
        assert_eq!((out.sent, out.failure, out.gso_refused, segmented), (8, None, true, 0));
        assert_eq!(recv_all(&rx).len(), 8);
    }

    #[test]
    fn per_send_features_are_not_coalesced() {
        let (tx, rx) = udp_pair();
        // MSG_ZEROCOPY (without SO_ZEROCOPY the kernel ignores it).
        let (out, segmented) = send_uniform(&tx, 8, 100, libc::MSG_ZEROCOPY);
        assert_eq!((out.sent, segmented), (8, 0));
        // TX timestamps on the socket.
        let ts = (libc::SOF_TIMESTAMPING_TX_SOFTWARE | libc::SOF_TIMESTAMPING_SOFTWARE) as i32;
        set_int(&tx, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, ts);
        let (out, segmented) = send_uniform(&tx, 8, 100, 0);
        assert_eq!((out.sent, segmented), (8, 0));
        // RX timestamps alone do not matter.
        set_int(&tx, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, libc::SOF_TIMESTAMPING_RX_SOFTWARE as i32);
        let (out, segmented) = send_uniform(&tx, 8, 100, 0);
        assert_eq!((out.sent, segmented), (8, 1));
        assert_eq!(recv_all(&rx).len(), 24);
    }

    #[test]
    fn options_that_cannot_be_read_stop_coalescing() {
        // An AF_UNIX socket has no UDP options.
        let (a, _b) = dgram_pair();
        assert!(!sys::udp_sends_as_given(a.as_raw_fd()));
        assert!(!sys::is_udp_socket(a.as_raw_fd()));
        let (tx, _rx) = udp_pair();
        assert!(sys::udp_sends_as_given(tx.as_raw_fd()));
        assert!(sys::is_udp_socket(tx.as_raw_fd()));
    }

    #[test]
    fn scratch_is_reentrant() {
        let r = with_scratch(|_| with_scratch(|s| s.messages()));
        assert_eq!(r, 0);
    }
}
