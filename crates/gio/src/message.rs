//! Reading GIO's message structs into the engine's scratch space: vectors,
//! destination addresses, control messages.

use std::ffi::CStr;

use gio_sys as gio;
use glib_sys as glib;
use gsend_engine::plan::{Dest, Message, Scratch};

use crate::checks::describe_if_fail;
use crate::{addrcache, glue};

/// Why a message could not be described.
pub enum DescribeError {
    /// A programming error: emit a critical with this expression.
    Programming(&'static CStr),
    /// A runtime error already in GError form (owned).
    GError(*mut glib::GError),
    /// `G_IO_ERROR_INVALID_ARGUMENT` with this text.
    Invalid(&'static str),
    /// The memory to describe the message could not be had.
    NoSpace,
}

// GOutputVector and struct iovec have the same layout on Linux; the engine
// takes the caller's vectors as iovecs without converting them.
const _: () = {
    assert!(std::mem::size_of::<gio::GOutputVector>() == std::mem::size_of::<libc::iovec>());
    assert!(std::mem::align_of::<gio::GOutputVector>() == std::mem::align_of::<libc::iovec>());
    assert!(std::mem::offset_of!(gio::GOutputVector, buffer) == std::mem::offset_of!(libc::iovec, iov_base));
    assert!(std::mem::offset_of!(gio::GOutputVector, size) == std::mem::offset_of!(libc::iovec, iov_len));
};

/// Largest control data accepted for one message (far above what the
/// kernel takes; it only keeps a bogus size from exhausting memory).
const MAX_CONTROL: usize = 1 << 20;

/// Remembers the last address seen so that consecutive messages to the same
/// address object are converted once.
pub struct AddrMemo {
    last: *mut gio::GSocketAddress,
    dest: Dest,
}

impl Default for AddrMemo {
    fn default() -> Self {
        AddrMemo { last: std::ptr::null_mut(), dest: Dest::Connected }
    }
}

impl AddrMemo {
    /// Forgets (the scratch space was reset).
    pub fn reset(&mut self) {
        self.last = std::ptr::null_mut();
    }
}

/// Converts `address` into a scratch destination.
///
/// # Safety
/// `address` is NULL or points to a GObject instance.
#[inline(always)]
pub unsafe fn dest_of(
    s: &mut Scratch,
    memo: &mut AddrMemo,
    address: *mut gio::GSocketAddress,
) -> Result<Dest, DescribeError> {
    if address.is_null() {
        Ok(Dest::Connected)
    } else if address == memo.last {
        Ok(memo.dest)
    } else if let Some(dest) = s.cached_addr(address as usize) {
        // A cached key is a live address object of a cached type (the
        // cache forgets finalized ones, see `addrcache`): no need to check
        // its type again.
        memo.last = address;
        memo.dest = dest;
        Ok(dest)
    } else {
        // SAFETY: per the contract.
        unsafe { dest_of_slow(s, memo, address) }
    }
}

#[inline(never)]
unsafe fn dest_of_slow(
    s: &mut Scratch,
    memo: &mut AddrMemo,
    address: *mut gio::GSocketAddress,
) -> Result<Dest, DescribeError> {
    describe_if_fail!("G_IS_SOCKET_ADDRESS (address)" =>
        // SAFETY: per the contract, address is a GTypeInstance.
        unsafe { glue::is_a(address.cast(), gio::g_socket_address_get_type()) });
    // SAFETY: address is a GSocketAddress.
    let max = std::mem::size_of::<libc::sockaddr_storage>();
    // SAFETY: address is a GSocketAddress.
    let size = unsafe { gio::g_socket_address_get_native_size(address) };
    if size <= 0 || size as usize > max {
        return Err(DescribeError::Invalid("Unsupported socket address"));
    }
    let (dest, slot) = s.addr_slot().ok_or(DescribeError::NoSpace)?;
    let mut err: *mut glib::GError = std::ptr::null_mut();
    // SAFETY: the slot holds `max` writable bytes; err is a valid out location.
    let ok = unsafe {
        gio::g_socket_address_to_native(
            address,
            (&mut slot.storage as *mut libc::sockaddr_storage).cast(),
            max,
            &mut err,
        )
    };
    if ok == 0 {
        s.pop_addr();
        if err.is_null() {
            return Err(DescribeError::Invalid("Could not convert the socket address"));
        }
        return Err(DescribeError::GError(err));
    }
    slot.len = size as libc::socklen_t;
    let native = *slot;
    // SAFETY: address is a live GSocketAddress.
    unsafe { addrcache::remember(s, address, &native) };
    memo.last = address;
    memo.dest = dest;
    Ok(dest)
}

/// Checks a message's vectors and returns them with their total size.
///
/// # Safety
/// `vectors` is NULL or points to `n` GOutputVectors.
#[inline(always)]
pub unsafe fn vectors_of<'a>(
    vectors: *const gio::GOutputVector,
    n: usize,
) -> Result<(&'a [libc::iovec], usize), DescribeError> {
    describe_if_fail!("num_vectors == 0 || vectors != NULL" => n == 0 || !vectors.is_null());
    if n == 0 {
        return Ok((&[], 0));
    }
    // SAFETY: per the contract; GOutputVector has iovec's layout (checked
    // at compile time above).
    let iov = unsafe { std::slice::from_raw_parts(vectors.cast::<libc::iovec>(), n) };
    let mut total: usize = 0;
    for v in iov {
        total = total.checked_add(v.iov_len).ok_or(DescribeError::Invalid("Message vectors too large"))?;
    }
    if total > isize::MAX as usize {
        return Err(DescribeError::Invalid("Message vectors too large"));
    }
    Ok((iov, total))
}

/// Serializes a message's control messages into the scratch space.
///
/// # Safety
/// `msgs` is NULL or points to `n` pointers, each expected to be a
/// GSocketControlMessage (checked).
#[inline(never)]
pub unsafe fn control_of(
    s: &mut Scratch,
    msgs: *const *mut gio::GSocketControlMessage,
    n: usize,
) -> Result<Option<(usize, usize)>, DescribeError> {
    describe_if_fail!("num_control_messages == 0 || control_messages != NULL" => n == 0 || !msgs.is_null());
    if n == 0 {
        return Ok(None);
    }
    // SAFETY: per the contract.
    let list = unsafe { std::slice::from_raw_parts(msgs, n) };
    let mut first = None;
    // SAFETY: a GType getter without arguments.
    let ty = unsafe { gio::g_socket_control_message_get_type() };
    for &cm in list {
        // SAFETY: cm is NULL or a GTypeInstance.
        describe_if_fail!("G_IS_SOCKET_CONTROL_MESSAGE (message)" => unsafe { glue::is_a(cm.cast(), ty) });
        // SAFETY: cm is a GSocketControlMessage.
        let (size, level, kind) = unsafe {
            (
                gio::g_socket_control_message_get_size(cm),
                gio::g_socket_control_message_get_level(cm),
                gio::g_socket_control_message_get_msg_type(cm),
            )
        };
        if size > MAX_CONTROL || s.control.len() > MAX_CONTROL * 4 {
            return Err(DescribeError::Invalid("Control message too large"));
        }
        // Memory short: the engine ends the chunk before this message.
        let (off, data) = s.push_cmsg(level, kind, size).ok_or(DescribeError::NoSpace)?;
        first.get_or_insert(off);
        let ptr = s.control.ptr_at(data);
        // SAFETY: push_cmsg reserved `size` zeroed bytes at `data`.
        unsafe { gio::g_socket_control_message_serialize(cm, ptr) };
    }
    let first = first.expect("n > 0");
    Ok(Some((first, s.control.len() - first)))
}

/// Adds one GOutputMessage to the scratch space.
///
/// # Safety
/// `m` is a readable GOutputMessage whose pointers follow GIO's contract.
#[inline(always)]
pub unsafe fn describe(s: &mut Scratch, memo: &mut AddrMemo, m: &gio::GOutputMessage) -> Result<(), DescribeError> {
    // SAFETY: per the contract.
    let (iov, len) = unsafe { vectors_of(m.vectors, m.num_vectors as usize)? };
    let control = if m.num_control_messages == 0 {
        None
    } else {
        // SAFETY: per the contract.
        unsafe { control_of(s, m.control_messages, m.num_control_messages as usize)? }
    };
    // SAFETY: per the contract.
    let dest = unsafe { dest_of(s, memo, m.address)? };
    // SAFETY: the caller's vectors stay valid for the whole call (GIO's
    // contract), so until the chunk is sent.
    unsafe { s.push(Message { dest, iov, control, len }) };
    Ok(())
}

/// Adds one datagram of a `GBytes` to `address` (NULL: the connected
/// peer).
///
/// # Safety
/// `bytes` is a GBytes whose data stays until the chunk is sent;
/// `address` as for [`dest_of`].
#[inline(always)]
pub unsafe fn describe_datagram(
    s: &mut Scratch,
    memo: &mut AddrMemo,
    address: *mut gio::GSocketAddress,
    bytes: *mut glib::GBytes,
) -> Result<(), DescribeError> {
    let mut len = 0usize;
    // SAFETY: per the contract.
    let data = unsafe { glib::g_bytes_get_data(bytes, &mut len) };
    let iov = libc::iovec { iov_base: data as *mut libc::c_void, iov_len: len };
    // SAFETY: per the contract.
    let dest = unsafe { dest_of(s, memo, address)? };
    // The vector lives no longer than this call: copied (memory short:
    // the engine ends the chunk before this datagram).
    if !s.push_copied(Message { dest, iov: std::slice::from_ref(&iov), control: None, len }) {
        return Err(DescribeError::NoSpace);
    }
    Ok(())
}

/// Adds message `i` of `msgs`, then as many of the following messages as
/// have the usual shape (one vector, no control messages, an address whose
/// native form is cached or already known). Anything else is left to
/// `describe`.
///
/// # Safety
/// `msgs` points to GOutputMessages that follow GIO's contract, at least as
/// many after `i` as the scratch space has room for.
#[inline(always)]
pub unsafe fn describe_run(
    s: &mut Scratch,
    memo: &mut AddrMemo,
    msgs: *const gio::GOutputMessage,
    i: usize,
) -> Result<(), DescribeError> {
    // SAFETY: per the contract.
    let head = unsafe { &*msgs.add(i) };
    let n = s.room();
    if s.messages() == 0 && n >= 2 && s.coalesces() {
        // A fresh chunk: if it is one uniform batch, it is planned whole.
        // SAFETY: the caller guarantees `n` messages from `i`.
        match unsafe { uniform(msgs.add(i), n) } {
            Uniform::No => {}
            Uniform::InOneArray { count, seg, last } => {
                // SAFETY: per the contract.
                let dest = unsafe { dest_of(s, memo, head.address)? };
                // SAFETY: `uniform` checked the shape `push_uniform` needs,
                // and, as for `push`, the caller's vectors outlive the call.
                if unsafe { s.push_uniform(dest, head.vectors.cast_const().cast(), count, seg, last) } {
                    // The rest, if any, is described from the next call on.
                    return Ok(());
                }
            }
            Uniform::Maybe => {
                // SAFETY: as for `uniform`.
                if unsafe { push_apart(s, memo, msgs.add(i), n)? } > 0 {
                    return Ok(());
                }
            }
        }
    }
    // SAFETY: per the contract.
    unsafe { describe(s, memo, head)? };
    let peek = |k: usize| {
        // SAFETY: extend_simple asks for no more messages than there is
        // room for, which the caller guarantees exist.
        let m = unsafe { &*msgs.add(i + 1 + k) };
        if m.num_control_messages != 0 || m.num_vectors != 1 {
            return None;
        }
        // The address object is the key (the cache's, see `dest_of`); one
        // vector, with iovec's layout (NULL stops, and `describe` reports
        // it).
        Some((m.address as usize, m.vectors.cast_const().cast::<libc::iovec>()))
    };
    // SAFETY: a message with one vector and a non-NULL pointer to it has
    // that vector readable, and, as for `push` above, the caller's vectors
    // outlive the call. Within a call an address object stands for one
    // destination, and the cache holds only live, immutable ones.
    unsafe { s.extend_simple(head.address as usize, peek) };
    Ok(())
}

/// Plans the uniform start of the `n` (at least 2) messages at `msgs`
/// whole, copying their vectors (which lie apart); returns how many
/// messages it took (0: fewer than two are uniform).
///
/// # Safety
/// As for [`uniform`].
// Not inlined: it would cost the batch whose vectors lie in one array
// ~40 instructions (registers of the caller's loop, callgrind).
#[inline(never)]
unsafe fn push_apart(
    s: &mut Scratch,
    memo: &mut AddrMemo,
    msgs: *const gio::GOutputMessage,
    n: usize,
) -> Result<usize, DescribeError> {
    // SAFETY: per the contract.
    let head = unsafe { &*msgs };
    // SAFETY: per the contract.
    let dest = unsafe { dest_of(s, memo, head.address)? };
    let vector = |k: usize| {
        // SAFETY: k < n.
        let m = unsafe { &*msgs.add(k) };
        // SAFETY: one vector, not NULL: readable per the contract.
        (m.address == head.address && m.num_vectors == 1 && m.num_control_messages == 0 && !m.vectors.is_null())
            .then(|| unsafe { *m.vectors.cast_const().cast::<libc::iovec>() })
    };
    Ok(s.push_uniform_copied(dest, n, vector))
}

/// What [`uniform`] found.
enum Uniform {
    /// Not a uniform batch.
    No,
    /// The first `count` (at least 2) messages are a uniform batch whose
    /// vectors lie in one array: `seg` bytes each but the last, `last`.
    InOneArray { count: usize, seg: usize, last: usize },
    /// The first message has the shape but the second's vector does not
    /// follow its own: the start may be uniform with vectors that lie
    /// apart (`push_uniform_copied` checks them as it copies them).
    Maybe,
}

/// How many of the `n` (at least 2) messages at `msgs` make a uniform
/// batch from the first: one address object (or none), no control
/// messages, one vector each, one size, perhaps a shorter one (not empty)
/// to end it. Checked here in full when the vectors lie one after the
/// other in one array; otherwise only the first message.
///
/// # Safety
/// `msgs` points to `n` GOutputMessages that follow GIO's contract.
// Not inlined: in a frame of its own the loop keeps everything in
// registers (~2 instructions less per message, callgrind).
#[inline(never)]
unsafe fn uniform(msgs: *const gio::GOutputMessage, n: usize) -> Uniform {
    // SAFETY: per the contract.
    let head = unsafe { &*msgs };
    if head.num_vectors != 1 || head.num_control_messages != 0 || head.vectors.is_null() {
        return Uniform::No;
    }
    let (address, v0) = (head.address, head.vectors.cast_const());
    // SAFETY: one vector, not NULL: readable per the contract.
    let seg = unsafe { (*v0).size };
    let shaped = |k: usize| {
        // SAFETY: k < n.
        let m = unsafe { &*msgs.add(k) };
        m.address == address
            && m.num_vectors == 1
            && m.num_control_messages == 0
            && std::ptr::eq(m.vectors, v0.wrapping_add(k))
    };
    // SAFETY: message k's only vector, readable as `shaped` checked it is
    // where the caller says.
    let full = |k: usize| shaped(k) && unsafe { (*v0.add(k)).size } == seg;
    // SAFETY: 1 < n.
    if !std::ptr::eq(unsafe { (*msgs.add(1)).vectors }, v0.wrapping_add(1)) {
        return Uniform::Maybe;
    }
    let mut k = 1;
    // Eight at a time: the loop's own bookkeeping once per eight messages.
    while k + 8 <= n && (0..8).all(|j| full(k + j)) {
        k += 8;
    }
    while k < n && full(k) {
        k += 1;
    }
    let mut last = seg;
    if k < n && shaped(k) {
        // SAFETY: as in `full`.
        let size = unsafe { (*v0.add(k)).size };
        if size > 0 && size < seg {
            last = size;
            k += 1;
        }
    }
    if k < 2 {
        return Uniform::No;
    }
    Uniform::InOneArray { count: k, seg, last }
}

/// Checks, without converting anything, the pointers of every message, so
/// that a programming error is found before anything is sent.
///
/// # Safety
/// `msgs` points to `n` readable GOutputMessages.
pub unsafe fn precheck(msgs: *const gio::GOutputMessage, n: usize) -> Result<(), DescribeError> {
    // SAFETY: per the contract.
    for m in unsafe { std::slice::from_raw_parts(msgs, n) } {
        describe_if_fail!("num_vectors == 0 || vectors != NULL" => m.num_vectors == 0 || !m.vectors.is_null());
        describe_if_fail!("num_control_messages == 0 || control_messages != NULL" =>
            m.num_control_messages == 0 || !m.control_messages.is_null());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The programming errors the readers report, with GIO's texts (the
    //! callers emit them as criticals; tests/c and tests/preload compare
    //! those with GIO's own).

    use std::ptr::{null, null_mut};

    use super::*;

    fn programming<T>(r: Result<T, DescribeError>) -> &'static str {
        match r {
            Err(DescribeError::Programming(text)) => text.to_str().unwrap(),
            _ => panic!("not a programming error"),
        }
    }

    #[test]
    fn vectors_null_with_a_count_is_a_programming_error() {
        // SAFETY: NULL vectors are only read when the count is not 0.
        unsafe {
            assert_eq!(programming(vectors_of(null(), 2)), "num_vectors == 0 || vectors != NULL");
            assert!(matches!(vectors_of(null(), 0), Ok((v, 0)) if v.is_empty()));
        }
    }

    #[test]
    fn control_null_with_a_count_is_a_programming_error() {
        let mut s = Scratch::default();
        // SAFETY: a NULL list is only read when the count is not 0.
        unsafe {
            assert_eq!(
                programming(control_of(&mut s, null(), 1)),
                "num_control_messages == 0 || control_messages != NULL"
            );
            assert!(matches!(control_of(&mut s, null(), 0), Ok(None)));
        }
    }

    #[test]
    fn precheck_names_the_first_bad_pointer() {
        let mut v = gio::GOutputVector { buffer: c"x".as_ptr().cast(), size: 1 };
        let good = gio::GOutputMessage {
            address: null_mut(),
            vectors: &mut v,
            num_vectors: 1,
            bytes_sent: 0,
            control_messages: null_mut(),
            num_control_messages: 0,
        };
        let no_vectors = gio::GOutputMessage { vectors: null_mut(), ..good };
        let no_controls = gio::GOutputMessage { num_control_messages: 2, ..good };
        let both = gio::GOutputMessage { vectors: null_mut(), num_control_messages: 2, ..good };
        // SAFETY: each array holds the messages counted.
        unsafe {
            assert!(precheck([good, good].as_ptr(), 2).is_ok());
            assert_eq!(programming(precheck([good, no_vectors].as_ptr(), 2)), "num_vectors == 0 || vectors != NULL");
            assert_eq!(
                programming(precheck([no_controls, no_vectors].as_ptr(), 2)),
                "num_control_messages == 0 || control_messages != NULL"
            );
            assert_eq!(programming(precheck([both].as_ptr(), 1)), "num_vectors == 0 || vectors != NULL");
        }
    }
}
