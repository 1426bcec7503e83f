//! The one-datagram fast path: a single datagram without control messages
//! goes straight to `sendto`/`sendmsg` when nothing stands in its way, and
//! falls back to the batch run (`run.rs`) otherwise. Inlined into each
//! entry point, so that such a call costs one frame.

use std::ffi::c_int;

use gio_sys as gio;
use glib_sys as glib;
use gsend_engine::{with_scratch, One};

use crate::errors::{os_error, Style};
use crate::{addrcache, socket, stats};

type GError = glib::GError;

/// What the fast path did.
pub(crate) enum Fast {
    /// Sent: bytes.
    Sent(usize),
    /// Failed with the error set.
    Failed,
    /// Nothing sent; the general path must run.
    General,
}

/// The fast path for one datagram without control messages: sends it at
/// once when nothing stands in the way (socket open, not cancelled, the
/// address already converted in this thread's cache) and the kernel takes
/// or refuses it without waiting. `Fast::General` means nothing was sent
/// and nothing was reported: the general path runs, with every check,
/// wait and error of the rules.
///
/// # Safety
/// `socket` is a GSocket; `address` NULL or a GSocketAddress; `cancellable`
/// NULL or a GCancellable; the vectors' buffers are readable; `error` NULL
/// or an unset GError location.
#[inline]
pub(crate) unsafe fn fast_one(
    socket: *mut gio::GSocket,
    address: *mut gio::GSocketAddress,
    iov: &[libc::iovec],
    flags: c_int,
    cancellable: *mut gio::GCancellable,
    error: *mut *mut GError,
    style: &Style,
) -> Fast {
    // SAFETY: per the contract.
    let st = unsafe { socket::state(socket) };
    if st.closed || st.fd < 0 {
        return Fast::General;
    }
    // SAFETY: cancellable is a GCancellable.
    if !cancellable.is_null() && unsafe { gio::g_cancellable_is_cancelled(cancellable) } != 0 {
        return Fast::General;
    }
    let one = if address.is_null() {
        // SAFETY: socket is a GSocket.
        with_scratch(|s| stats::fast_call(unsafe { stats::of(s, socket) }));
        // SAFETY: `iov`'s buffers are readable, per the contract.
        unsafe { gsend_engine::try_send_one(st.fd, None, iov, flags) }
    } else {
        match with_scratch(|s| {
            addrcache::sync(s);
            // SAFETY: socket is a GSocket.
            let counters = unsafe { stats::of(s, socket) };
            let a = s.cache.get(address as usize)?;
            stats::fast_call(counters);
            // SAFETY: as above.
            Some(unsafe { gsend_engine::try_send_one(st.fd, Some(a), iov, flags) })
        }) {
            Some(one) => one,
            None => return Fast::General,
        }
    };
    match settle(one) {
        Ok(Fast::General) => {
            // SAFETY: socket is a GSocket.
            unsafe { stats::fast_unsent(socket, one == One::Interrupted) };
            Fast::General
        }
        Ok(fast) => fast,
        Err(errno) => {
            // SAFETY: socket is a GSocket.
            unsafe { stats::fast_unsent(socket, false) };
            // SAFETY: error is NULL or unset.
            unsafe { os_error(error, *style, 0, errno) };
            Fast::Failed
        }
    }
}

/// What the fast path makes of the kernel's answer: the outcome, or
/// `Err(errno)` to report. A full socket or a signal is never reported
/// here: the general path waits, or reads the socket's state again.
#[inline(always)]
fn settle(one: One) -> Result<Fast, i32> {
    match one {
        One::Sent(n) => Ok(Fast::Sent(n)),
        One::Full | One::Interrupted => Ok(Fast::General),
        One::Failed(errno) => Err(errno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_interrupted_take_the_general_path() {
        assert!(matches!(settle(One::Full), Ok(Fast::General)));
        assert!(matches!(settle(One::Interrupted), Ok(Fast::General)));
        assert!(matches!(settle(One::Sent(7)), Ok(Fast::Sent(7))));
        assert_eq!(settle(One::Failed(libc::EMSGSIZE)).err(), Some(libc::EMSGSIZE));
    }

    #[test]
    fn eintr_is_never_reported() {
        // A signal during the one-datagram send: nothing sent, no error
        // set, the general path runs (the engine retries EINTR itself).
        // SAFETY: no vectors to read.
        let one = unsafe { gsend_engine::try_send_one(-1, None, &[], 0) };
        assert_eq!(one, One::Failed(libc::EBADF));
        assert!(matches!(settle(One::Interrupted), Ok(Fast::General)));
    }
}
