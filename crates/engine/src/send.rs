//! The send loop: plan a chunk, push it with `sendmmsg`, wait when the
//! socket is full, fall back from GSO when the kernel refuses it.

use std::cell::RefCell;
use std::os::fd::RawFd;

use crate::plan::{GsoPolicy, Scratch, CHUNK};
use crate::stats::kept_apart;
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
    /// The thread could not get the memory to plan message `index` (the
    /// messages before it in its chunk were sent).
    NoSpace {
        /// First message not sent.
        index: usize,
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

/// Counts the messages in runs of the chunk's first `k` entries (which
/// went out) when a send ends within the chunk, and hands back `out`.
#[cold]
fn runs_sent_until<E>(s: &Scratch, k: usize, out: Outcome<E>) -> Outcome<E> {
    let n = s.run_messages_of(0..k.min(s.hdrs.len()));
    if n != 0 {
        s.stats.0.gso_datagrams.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
    }
    out
}

/// Why the flags of a request keep its datagrams apart, when its policy
/// would coalesce them (bits of [`kept_apart`]).
pub fn flags_kept_apart(flags: i32) -> u8 {
    let mut why = 0;
    if flags & libc::MSG_MORE != 0 {
        why |= kept_apart::MSG_MORE;
    }
    if flags & libc::MSG_ZEROCOPY != 0 {
        why |= kept_apart::MSG_ZEROCOPY;
    }
    why
}

/// Runs `f` with this thread's scratch space, or with a fresh one if it is
/// in use further up the stack (a control message's serializer that sends)
/// or cannot be had (memory is short: the fresh one holds nothing yet, and
/// [`send`] reports [`Failure::NoSpace`] if it cannot get its memory
/// either).
///
/// The space lives in a POSIX thread-specific slot (see
/// `thread_scratch::with_thread_scratch`) rather than a Rust `thread_local!`:
/// registering a `thread_local!`'s destructor allocates, and glibc aborts
/// the process when that fails.
pub fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    crate::thread_scratch::with_thread_scratch(|cell| match cell.map(RefCell::try_borrow_mut) {
        Some(Ok(mut s)) => f(&mut s),
        _ => f(&mut Scratch::default()),
    })
}

/// What [`try_send_one`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum One {
    /// The kernel took the datagram: bytes sent.
    Sent(usize),
    /// The kernel refused it with this errno (not `EAGAIN`): nothing was
    /// sent, and the error is the call's result.
    Failed(i32),
    /// The socket is full: nothing was sent; take the general path, which
    /// waits by the rules.
    Full,
    /// A signal interrupted the call: nothing was sent; take the general
    /// path, which reads the socket's state again (it may have been closed
    /// meanwhile, and its descriptor number reused).
    Interrupted,
}

/// Sends one datagram without control data if the kernel takes it at once.
/// `EINTR` is not retried here (see [`One::Interrupted`]).
///
/// This is the fast path for one message per call: no planning, one
/// `sendmsg`. An error is final (a pending socket error such as
/// `ECONNREFUSED` is consumed by the attempt that reports it, so the caller
/// must not retry on another path).
///
/// # Safety
/// The buffers `iov` points at must be readable for their lengths (the
/// kernel reads them).
#[inline]
pub unsafe fn try_send_one(fd: RawFd, name: Option<&crate::plan::SockAddr>, iov: &[libc::iovec], flags: i32) -> One {
    // SAFETY: forwarded contract.
    match unsafe { sys::sendmsg(fd, name, iov, flags | libc::MSG_NOSIGNAL) } {
        Ok(n) => One::Sent(n),
        Err(libc::EINTR) => One::Interrupted,
        Err(libc::EAGAIN) => One::Full,
        Err(errno) => One::Failed(errno),
    }
}

/// Why a send must stop before its next chunk: the deadline passed, or the
/// waiter says it was cancelled. No system call unless there is a deadline
/// (reading the monotonic clock goes through the vDSO).
#[inline]
fn stop_between_chunks(timeout: Timeout, waiter: &mut dyn Waiter, fd: RawFd) -> Result<RawFd, Stop> {
    if let Timeout::Block(Some(deadline)) = timeout {
        if std::time::Instant::now() >= deadline {
            return Err(Stop::TimedOut);
        }
    }
    if waiter.cancelled() {
        return Err(Stop::Cancelled);
    }
    // Another thread may have closed the socket while the last chunk went
    // out, without any wait in between.
    waiter.current_fd(fd)
}

/// Sends `req.n` messages. `describe(i, scratch)` adds message `i` to the
/// scratch space (see [`Scratch::push`], whose contract on the vector
/// arrays holds until this returns), and may add following messages too
/// (see [`Scratch::extend_simple`]); it is called for a chunk of up to
/// 1024 messages before any of them is sent. `report(i, bytes)` is called for
/// every message the kernel accepted.
///
/// A describer that fails because the scratch space could not grow for
/// message `i` ([`Scratch::ran_short`]; its error value is dropped, so it
/// must own nothing) ends the chunk before `i`: the messages planned
/// before it are sent as usual, and the send ends with
/// [`Failure::NoSpace`] at `i` (a caller following GIO's rules reports the
/// count if some went out). So does a chunk whose memory cannot be
/// reserved. Either way the planning buffers are given back.
///
/// `req.fd` is used until the first wait or interrupted system call; after
/// each of those the descriptor comes from [`Waiter::current_fd`], and a
/// closed socket ends the send ([`Stop::Closed`]). Before every chunk after
/// the first, a passed deadline, a cancellation or a closed socket ends it
/// too.
pub fn send<E>(
    s: &mut Scratch,
    req: &SendRequest,
    waiter: &mut dyn Waiter,
    mut describe: impl FnMut(usize, &mut Scratch) -> Result<(), E>,
    mut report: impl FnMut(usize, usize),
) -> Outcome<E> {
    let mut out = Outcome { sent: 0, failure: None, gso_refused: false };
    // What is counted goes straight to the socket's counters, which the
    // caller put in the scratch space (see `crate::stats`; read where
    // used, not kept in a register across the loop).
    let relaxed = std::sync::atomic::Ordering::Relaxed;
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
    let mut fd = req.fd;
    let mut start = 0;
    while start < req.n {
        if start > 0 {
            match stop_between_chunks(req.timeout, waiter, fd) {
                Ok(now) => fd = now,
                Err(stop) => {
                    out.failure = Some(Failure::Wait { index: start, stop });
                    return out;
                }
            }
        }
        let end = req.n.min(start + CHUNK);
        if !s.try_reserve_chunk() {
            out.failure = Some(Failure::NoSpace { index: start });
            return out;
        }
        s.begin_with(gso);
        s.set_limit(end - start);
        // A describer adds message `i` and may add following ones too (see
        // `Scratch::extend_simple`); it never adds beyond the limit.
        let mut i = start;
        while i < end {
            if let Err(error) = describe(i, s) {
                if s.ran_short() {
                    // Memory ran out for message `i`, of which nothing
                    // was added: the chunk ends before it.
                    drop(error);
                    break;
                }
                out.failure = Some(Failure::Describe { index: i, error });
                return out;
            }
            i = (start + s.messages()).max(i + 1);
        }
        let end = if s.ran_short() { cut_short(s, start) } else { end };
        if end == start {
            // Short of memory for the chunk's first message.
            return out_of_memory(s, out, start);
        }
        s.plan();
        if gso.enabled && !options_checked && s.has_runs() {
            options_checked = true;
            if !sys::udp_sends_as_given(fd) {
                s.notes.kept_apart |= sys::udp_send_options(fd);
                gso = GsoPolicy::OFF;
                s.replan_plain(0);
            }
        }
        let mut k = 0;
        while k < s.hdrs.len() {
            let first = start + s.entries[k].first;
            // SAFETY: the headers were written by the planner, pointing at
            // its own buffers (re-pointed by `plan` above) and at memory the
            // `describe` callback vouched for when it pushed the messages
            // (`Scratch::push`'s contract: valid until the chunk is sent).
            match unsafe { sys::sendmmsg(fd, &mut s.hdrs[k..], flags) } {
                Ok(0) => {
                    // Only for an empty vector, which cannot happen here;
                    // never spin on it.
                    out.failure = Some(Failure::WouldBlock { index: first });
                    return runs_sent_until(s, k, out);
                }
                Ok(r) => {
                    s.stats.0.calls.fetch_add(1, relaxed);
                    if refusal_unconfirmed {
                        refusal_unconfirmed = false;
                        out.gso_refused = true;
                        s.stats.0.gso_refusals.fetch_add(1, relaxed);
                    }
                    let sent = s.sent(k..k + r, start, &mut report);
                    s.stats.0.sent.fetch_add(sent as u64, relaxed);
                    out.sent += sent;
                    k += r;
                }
                Err(libc::EINTR) => match waiter.current_fd(fd) {
                    Ok(now) => fd = now,
                    Err(stop) => {
                        out.failure = Some(Failure::Wait { index: first, stop });
                        return runs_sent_until(s, k, out);
                    }
                },
                Err(libc::EAGAIN) => {
                    s.stats.0.calls.fetch_add(1, relaxed);
                    if s.entries[k].is_gso() && req.timeout == Timeout::NonBlocking {
                        // A smaller datagram may still fit: try them one by one.
                        s.replan_plain(k);
                        continue;
                    }
                    match req.timeout {
                        Timeout::NonBlocking => {
                            out.failure = Some(Failure::WouldBlock { index: first });
                            return runs_sent_until(s, k, out);
                        }
                        Timeout::Block(deadline) => {
                            s.stats.0.waits.fetch_add(1, relaxed);
                            match waiter.wait(fd, deadline).and_then(|()| waiter.current_fd(fd)) {
                                Ok(now) => fd = now,
                                Err(stop) => {
                                    out.failure = Some(Failure::Wait { index: first, stop });
                                    return runs_sent_until(s, k, out);
                                }
                            }
                        }
                    }
                }
                Err(libc::EMSGSIZE | libc::ENOBUFS) if s.entries[k].is_gso() => {
                    s.stats.0.calls.fetch_add(1, relaxed);
                    // Too big as a whole for the path (its MTU), or for a
                    // queue with a byte limit (dropped whole, reported with
                    // IP_RECVERR): send this run's datagrams one by one;
                    // GSO stays on.
                    s.replan_entry_plain(k);
                }
                Err(errno) if s.entries[k].is_gso() && refuses_gso(errno) => {
                    s.stats.0.calls.fetch_add(1, relaxed);
                    s.notes.refusal_errno = errno;
                    refusal_unconfirmed = true;
                    gso = GsoPolicy::OFF;
                    s.replan_plain(k);
                }
                Err(errno) => {
                    s.stats.0.calls.fetch_add(1, relaxed);
                    out.failure = Some(Failure::Os { index: first, errno });
                    return runs_sent_until(s, k, out);
                }
            }
        }
        // The whole chunk went out: count its messages in runs.
        if s.has_runs() {
            s.stats.0.gso_datagrams.fetch_add(s.run_messages(end - start) as u64, relaxed);
        }
        if s.ran_short() {
            return out_of_memory(s, out, end);
        }
        start = end;
    }
    out
}

/// Where a chunk cut short for lack of memory ends (see [`send`]).
#[cold]
#[inline(never)]
fn cut_short(s: &Scratch, start: usize) -> usize {
    start + s.messages()
}

/// Ends a send whose message `index` could not be planned for lack of
/// memory (what came before it was sent): the planning buffers are given
/// back, so that the failure can be reported.
#[cold]
fn out_of_memory<E>(s: &mut Scratch, mut out: Outcome<E>, index: usize) -> Outcome<E> {
    s.release();
    out.failure = Some(Failure::NoSpace { index });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Dest, Message};
    use crate::wait::PollWaiter;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    thread_local! {
        /// The counters the last `fresh_counters` of this thread made.
        static LAST: std::cell::Cell<&'static crate::stats::Counters> = const { std::cell::Cell::new(&crate::stats::UNOWNED) };
    }

    /// New counters for the next send (leaked: a test's few bytes).
    fn fresh_counters() -> crate::stats::Memo {
        let c: &'static crate::stats::Counters = Box::leak(Box::new(crate::stats::Counters::new()));
        LAST.with(|l| l.set(c));
        crate::stats::Memo(c)
    }

    /// What the last send with `fresh_counters` counted.
    fn last_figures() -> crate::stats::Figures {
        LAST.with(|l| l.get().figures())
    }

    fn dgram_pair() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: fds is a valid array of two ints.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, 0, fds.as_mut_ptr()) };
        assert_eq!(r, 0);
        // SAFETY: both descriptors are new and owned by nobody else.
        let a = unsafe { OwnedFd::from_raw_fd(fds[0]) };
        // SAFETY: as above.
        let b = unsafe { OwnedFd::from_raw_fd(fds[1]) };
        (a, b)
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
        let p = (&mut a as *mut libc::sockaddr_in).cast::<libc::sockaddr>();
        // SAFETY: `a` and `len` are valid for the sizes given.
        assert_eq!(unsafe { libc::bind(rx.as_raw_fd(), p, len) }, 0);
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getsockname(rx.as_raw_fd(), p, &mut len) }, 0);
        // SAFETY: as above.
        assert_eq!(unsafe { libc::connect(tx.as_raw_fd(), p, len) }, 0);
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
            s.stats = fresh_counters();
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
        let f = last_figures();
        assert_eq!((f.datagrams, f.calls, f.gso_datagrams, f.waits), (8, 1, 8, 0));
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
        // The refused segmented send and the plain one that followed.
        let f = last_figures();
        assert_eq!((f.calls, f.gso_datagrams, f.gso_refusals), (2, 0, 1));
        assert_eq!(with_scratch(|s| std::mem::take(&mut s.notes).refusal_errno), libc::EINVAL);
        assert_eq!(recv_all(&rx).len(), 8);
    }

    #[test]
    fn runs_are_counted_for_a_whole_chunk_and_for_its_first_entries() {
        let long = [5u8; 100];
        let short = [6u8; 50];
        let v = [libc::iovec { iov_base: long.as_ptr() as *mut _, iov_len: 100 }];
        let w = [libc::iovec { iov_base: short.as_ptr() as *mut _, iov_len: 50 }];
        let mut s = Scratch::default();
        s.stats = fresh_counters();
        s.begin_with(GsoPolicy::UDP);
        for iov in [&v, &v, &v, &w, &v, &v, &v] {
            // SAFETY: the buffers outlive the plan.
            unsafe { s.push(Message { dest: Dest::Connected, iov, control: None, len: iov[0].iov_len }) };
        }
        s.plan();
        // Runs of 3 x 100 + 50 (a shorter last joins) and 3 x 100.
        assert_eq!(s.hdrs.len(), 2);
        assert_eq!(s.run_messages(7), 7);
        assert_eq!(s.run_messages_of(0..1), 4);
        // A send that ended after the first entry went out.
        let out: Outcome<()> = Outcome { sent: 4, failure: None, gso_refused: false };
        let out = runs_sent_until(&s, 1, out);
        assert_eq!((out.sent, last_figures().gso_datagrams), (4, 4));
        // Split runs are counted from the entries.
        s.replan_entry_plain(1);
        assert_eq!(s.hdrs.len(), 4);
        assert_eq!(s.run_messages(7), 4);
    }

    #[test]
    fn per_send_features_are_not_coalesced() {
        let (tx, rx) = udp_pair();
        // MSG_ZEROCOPY (without SO_ZEROCOPY the kernel ignores it).
        let (out, segmented) = send_uniform(&tx, 8, 100, libc::MSG_ZEROCOPY);
        assert_eq!((out.sent, segmented), (8, 0));
        assert_eq!(flags_kept_apart(libc::MSG_ZEROCOPY), kept_apart::MSG_ZEROCOPY);
        // MSG_MORE (with UDP_CORK-like joining: one datagram arrives).
        let (out, segmented) = send_uniform(&tx, 8, 100, libc::MSG_MORE);
        assert_eq!((out.sent, segmented), (8, 0));
        assert_eq!(flags_kept_apart(libc::MSG_MORE | libc::MSG_DONTWAIT), kept_apart::MSG_MORE);
        send_uniform(&tx, 1, 100, 0);
        assert_eq!(with_scratch(|s| std::mem::take(&mut s.notes).kept_apart), 0);
        assert_eq!(recv_all(&rx).len(), 9);
        // UDP_CORK on the socket.
        set_int(&tx, libc::SOL_UDP, libc::UDP_CORK, 1);
        let (out, segmented) = send_uniform(&tx, 8, 100, 0);
        assert_eq!((out.sent, segmented), (8, 0));
        assert_eq!(with_scratch(|s| std::mem::take(&mut s.notes).kept_apart), kept_apart::UDP_CORK);
        set_int(&tx, libc::SOL_UDP, libc::UDP_CORK, 0);
        assert_eq!(recv_all(&rx).len(), 1);
        // A UDP_SEGMENT option of the user's.
        set_int(&tx, libc::SOL_UDP, libc::UDP_SEGMENT, 50);
        let (out, segmented) = send_uniform(&tx, 8, 100, 0);
        assert_eq!((out.sent, segmented), (8, 0));
        assert_eq!(with_scratch(|s| std::mem::take(&mut s.notes).kept_apart), kept_apart::UDP_SEGMENT);
        set_int(&tx, libc::SOL_UDP, libc::UDP_SEGMENT, 0);
        recv_all(&rx);
        // TX timestamps on the socket.
        let ts = (libc::SOF_TIMESTAMPING_TX_SOFTWARE | libc::SOF_TIMESTAMPING_SOFTWARE) as i32;
        set_int(&tx, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, ts);
        let (out, segmented) = send_uniform(&tx, 8, 100, 0);
        assert_eq!((out.sent, segmented), (8, 0));
        assert_eq!(with_scratch(|s| std::mem::take(&mut s.notes).kept_apart), kept_apart::TX_TIMESTAMPS);
        // RX timestamps alone do not matter.
        set_int(&tx, libc::SOL_SOCKET, libc::SO_TIMESTAMPING, libc::SOF_TIMESTAMPING_RX_SOFTWARE as i32);
        let (out, segmented) = send_uniform(&tx, 8, 100, 0);
        assert_eq!((out.sent, segmented), (8, 1));
        assert_eq!(recv_all(&rx).len(), 16);
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

    /// Drains the receiver when asked to wait; reports the socket closed, or
    /// replaced, or the send cancelled, when told to.
    struct FakeWaiter {
        rx: RawFd,
        received: usize,
        waits: usize,
        /// `current_fd` answers `Closed` from this wait on.
        closed_after: usize,
        /// `current_fd` answers this descriptor instead, if set.
        replace: Option<RawFd>,
        /// `cancelled` answers true from this call on.
        cancel_after: usize,
        cancel_calls: usize,
        fds_asked: Vec<RawFd>,
        /// Another thread closes the socket when the send first asks about
        /// cancellation (between its chunks, with no wait).
        close_between_chunks: bool,
    }

    impl FakeWaiter {
        fn new(rx: &OwnedFd) -> Self {
            FakeWaiter {
                rx: rx.as_raw_fd(),
                received: 0,
                waits: 0,
                closed_after: usize::MAX,
                replace: None,
                cancel_after: usize::MAX,
                cancel_calls: 0,
                fds_asked: Vec::new(),
                close_between_chunks: false,
            }
        }

        fn drain(&mut self) {
            let mut buf = [0u8; 64];
            // SAFETY: buf is valid for writes of its length.
            while unsafe { libc::recv(self.rx, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) } >= 0 {
                self.received += 1;
            }
        }
    }

    impl Waiter for FakeWaiter {
        fn wait(&mut self, _fd: RawFd, _deadline: Option<std::time::Instant>) -> Result<(), Stop> {
            self.waits += 1;
            self.drain();
            Ok(())
        }

        fn current_fd(&mut self, fd: RawFd) -> Result<RawFd, Stop> {
            self.fds_asked.push(fd);
            if self.waits >= self.closed_after || (self.close_between_chunks && self.cancel_calls > 0) {
                return Err(Stop::Closed);
            }
            Ok(self.replace.unwrap_or(fd))
        }

        fn cancelled(&mut self) -> bool {
            self.cancel_calls += 1;
            self.cancel_calls >= self.cancel_after
        }
    }

    fn send_small(fd: &OwnedFd, n: usize, timeout: Timeout, waiter: &mut FakeWaiter) -> Outcome<()> {
        let v = [libc::iovec { iov_base: b"x".as_ptr() as *mut _, iov_len: 1 }];
        let req = SendRequest { fd: fd.as_raw_fd(), n, flags: 0, timeout, gso: GsoPolicy::OFF };
        with_scratch(|s| {
            s.stats = fresh_counters();
            send(
                s,
                &req,
                waiter,
                |_, s| {
                    // SAFETY: `v` outlives the send.
                    unsafe { s.push(Message { dest: Dest::Connected, iov: &v, control: None, len: 1 }) };
                    Ok(())
                },
                |_, _| {},
            )
        })
    }

    /// Fills `a`'s queue, then makes room for exactly `room` datagrams.
    fn fill_leaving(a: &OwnedFd, b: &OwnedFd, room: usize) {
        let mut filled = 0;
        // SAFETY: a valid one-byte buffer.
        while unsafe { libc::send(a.as_raw_fd(), b"f".as_ptr().cast(), 1, libc::MSG_DONTWAIT) } == 1 {
            filled += 1;
        }
        assert!(filled >= room);
        let mut buf = [0u8; 8];
        for _ in 0..room {
            // SAFETY: buf is valid for writes of its length.
            assert_eq!(unsafe { libc::recv(b.as_raw_fd(), buf.as_mut_ptr().cast(), 8, libc::MSG_DONTWAIT) }, 1);
        }
    }

    #[test]
    fn a_socket_closed_during_the_wait_ends_the_send_with_its_count() {
        let (a, b) = dgram_pair();
        fill_leaving(&a, &b, 2);
        let mut w = FakeWaiter::new(&b);
        w.closed_after = 1;
        let out = send_small(&a, 5, Timeout::Block(None), &mut w);
        assert_eq!(out.sent, 2);
        // Sent 2 and met a full socket: two calls, one wait.
        assert_eq!((last_figures().calls, last_figures().waits), (2, 1));
        assert_eq!(out.failure, Some(Failure::Wait { index: 2, stop: Stop::Closed }));
        assert_eq!(w.waits, 1);
        assert_eq!(w.fds_asked, vec![a.as_raw_fd()]);
        // Nothing was sent after the wait: what the waiter drained is the
        // queue as it was, and nothing is left.
        assert!(recv_all(&b).is_empty());
    }

    #[test]
    fn after_a_wait_the_waiters_descriptor_is_used() {
        let (a, b) = dgram_pair();
        let (c, d) = dgram_pair();
        fill_leaving(&a, &b, 0);
        let mut w = FakeWaiter::new(&b);
        w.replace = Some(c.as_raw_fd());
        let out = send_small(&a, 3, Timeout::Block(None), &mut w);
        assert_eq!(out.sent, 3);
        assert!(out.failure.is_none());
        assert_eq!(recv_all(&d).len(), 3, "the sends after the wait go to the descriptor the waiter gave");
        assert!(recv_all(&b).is_empty());
    }

    #[test]
    fn cancellation_is_seen_between_chunks() {
        let (a, b) = dgram_pair();
        let mut w = FakeWaiter::new(&b);
        w.cancel_after = 1;
        let out = send_small(&a, 3 * CHUNK, Timeout::Block(None), &mut w);
        assert_eq!(out.sent, CHUNK);
        assert_eq!(out.failure, Some(Failure::Wait { index: CHUNK, stop: Stop::Cancelled }));
        w.drain();
        assert_eq!(w.received, CHUNK);
        assert_eq!(w.cancel_calls, 1, "asked once, before the second chunk");
    }

    #[test]
    fn a_socket_closed_between_chunks_is_seen() {
        let (a, b) = dgram_pair();
        let mut w = FakeWaiter::new(&b);
        w.close_between_chunks = true;
        let out = send_small(&a, 3 * CHUNK, Timeout::Block(None), &mut w);
        assert_eq!(out.sent, CHUNK);
        assert_eq!(out.failure, Some(Failure::Wait { index: CHUNK, stop: Stop::Closed }));
        w.drain();
        assert_eq!(w.received, CHUNK);
    }

    #[test]
    fn a_passed_deadline_is_seen_between_chunks() {
        let (a, b) = dgram_pair();
        let mut w = FakeWaiter::new(&b);
        // Already past: the first chunk still goes (as in GIO, a deadline
        // is only looked at when there is a reason to stop).
        let deadline = std::time::Instant::now();
        let out = send_small(&a, 3 * CHUNK, Timeout::Block(Some(deadline)), &mut w);
        assert_eq!(out.sent, CHUNK);
        assert_eq!(out.failure, Some(Failure::Wait { index: CHUNK, stop: Stop::TimedOut }));
        w.drain();
        assert_eq!(w.received, CHUNK);
    }

    /// Sends `n` one-byte datagrams (message `i` carries byte `i % 251`)
    /// whose describer fails at message `short` for lack of memory (its
    /// control data cannot grow); returns the outcome, the messages
    /// reported sent and the bytes that arrived.
    fn send_running_short(n: usize, short: usize) -> (Outcome<()>, Vec<usize>, Vec<u8>) {
        let (a, b) = dgram_pair();
        let bytes: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        let iovs: Vec<libc::iovec> =
            (0..n).map(|i| libc::iovec { iov_base: bytes[i..].as_ptr() as *mut _, iov_len: 1 }).collect();
        let req = SendRequest { fd: a.as_raw_fd(), n, flags: 0, timeout: Timeout::Block(None), gso: GsoPolicy::OFF };
        let mut w = FakeWaiter::new(&b);
        let mut reported = Vec::new();
        let mut got = Vec::new();
        let out = with_scratch(|s| {
            s.stats = fresh_counters();
            let out = send(
                s,
                &req,
                &mut w,
                |i, s| {
                    if i == short {
                        // Control data for this message, which cannot grow.
                        let room = s.control.heap_bytes() + 1;
                        crate::grow::refused_in(|| s.push_cmsg(libc::SOL_SOCKET, libc::SCM_RIGHTS, room)).ok_or(())?;
                    }
                    // SAFETY: `iovs` outlives the send.
                    unsafe { s.push(Message { dest: Dest::Connected, iov: &iovs[i..i + 1], control: None, len: 1 }) };
                    Ok(())
                },
                |i, _| reported.push(i),
            );
            assert_eq!(s.heap_bytes(), 0, "the planning buffers are given back");
            out
        });
        // What the waiter drained arrived too: only its count is known, and
        // it drains only datagrams in order, before the rest.
        got.extend(std::iter::repeat_n(None, w.received));
        got.extend(recv_all(&b).into_iter().map(|d| Some(d[0])));
        let arrived = got.iter().enumerate().map(|(i, d)| d.unwrap_or((i % 251) as u8)).collect();
        (out, reported, arrived)
    }

    #[test]
    fn running_short_mid_chunk_sends_what_came_before() {
        for short in [0, 5, CHUNK - 1, CHUNK, CHUNK + 3] {
            let (out, reported, arrived) = send_running_short(CHUNK + 10, short);
            assert_eq!(out.sent, short, "short at {short}");
            assert_eq!(out.failure, Some(Failure::NoSpace { index: short }));
            assert_eq!(reported, (0..short).collect::<Vec<_>>());
            assert_eq!(arrived, (0..short).map(|i| (i % 251) as u8).collect::<Vec<_>>());
        }
        // (A failure of another kind stays the describer's, its chunk
        // unsent: `describe_error_stops_before_sending`.)
        let (a, b) = dgram_pair();
        // The thread's scratch space works on after giving its memory back.
        let (out, _) = send_payloads(&a, &[vec![1], vec![2]], Timeout::NonBlocking);
        assert_eq!((out.sent, recv_all(&b)), (2, vec![vec![1], vec![2]]));
    }

    #[test]
    fn scratch_is_reentrant() {
        let r = with_scratch(|_| with_scratch(|s| s.messages()));
        assert_eq!(r, 0);
    }
}
