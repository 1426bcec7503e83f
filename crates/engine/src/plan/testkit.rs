//! Helpers the planner's unit tests share: vectors, addresses, pushing a
//! batch one message at a time, and reading a plan back.

use super::*;

pub(super) fn iov(base: usize, len: usize) -> libc::iovec {
    libc::iovec { iov_base: base as *mut libc::c_void, iov_len: len }
}

pub(super) fn addr(port: u16) -> SockAddr {
    let mut a = SockAddr::default();
    // SAFETY: sockaddr_in fits in sockaddr_storage.
    let sin = unsafe { &mut *(&mut a.storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
    sin.sin_family = libc::AF_INET as _;
    sin.sin_port = port.to_be();
    a.len = std::mem::size_of::<libc::sockaddr_in>() as _;
    a
}

/// An IPv6 destination: `last` is the address's last byte.
pub(super) fn addr6(port: u16, last: u8, scope_id: u32, flowinfo: u32) -> SockAddr {
    let mut a = SockAddr::default();
    // SAFETY: sockaddr_in6 fits in sockaddr_storage.
    let sin = unsafe { &mut *(&mut a.storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
    sin.sin6_family = libc::AF_INET6 as _;
    sin.sin6_port = port.to_be();
    sin.sin6_flowinfo = flowinfo.to_be();
    sin.sin6_addr.s6_addr = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last];
    sin.sin6_scope_id = scope_id;
    a.len = std::mem::size_of::<libc::sockaddr_in6>() as _;
    a
}

/// Pushes one message per vector of `v` (which outlives the plan).
pub(super) fn push_each(s: &mut Scratch, dest: Dest, v: &[libc::iovec]) {
    for k in 0..v.len() {
        // SAFETY: `v` outlives the plan in every test.
        unsafe { s.push(Message { dest, iov: &v[k..k + 1], control: None, len: v[k].iov_len }) };
    }
}

pub(super) fn shape(s: &Scratch) -> Vec<(usize, usize)> {
    let p = s.view();
    (0..p.len()).map(|k| (p.header(k).first, p.header(k).count)).collect()
}

/// A header, the reports of its messages (index, bytes) and their count.
pub(super) type Said = (HeaderView, Vec<(usize, usize)>, usize);

/// Everything a finished plan tells the kernel and the reporter, for
/// comparing two plans of one batch.
pub(super) fn everything(s: &Scratch) -> Vec<Said> {
    let p = s.view();
    (0..p.len())
        .map(|k| {
            let mut sent = Vec::new();
            let n = s.sent(k..k + 1, 0, &mut |i, b| sent.push((i, b)));
            (p.header(k), sent, n)
        })
        .collect()
}
