//! Waiting for a full socket: deadlines, and the [`Waiter`] the caller
//! supplies (the C edge adds cancellation and the socket's own timeout).

use std::os::fd::RawFd;
use std::time::Instant;

use crate::sys::{self, PollResult};

/// How long a send may wait for room in the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Never wait (`timeout_us == 0`).
    NonBlocking,
    /// Wait, until the deadline if there is one.
    Block(Option<Instant>),
}

impl Timeout {
    /// The rules of a GIO `timeout_us`: negative blocks forever, zero never
    /// blocks, positive waits until `start + timeout_us`.
    pub fn from_micros(timeout_us: i64, start: impl FnOnce() -> Instant) -> Timeout {
        match timeout_us {
            0 => Timeout::NonBlocking,
            t if t < 0 => Timeout::Block(None),
            t => Timeout::Block(start().checked_add(std::time::Duration::from_micros(t as u64))),
        }
    }
}

/// Why a wait ended without the socket becoming writable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The deadline passed.
    TimedOut,
    /// The operation was cancelled.
    Cancelled,
    /// The socket was closed (by another thread, while the send waited or
    /// was interrupted).
    Closed,
    /// `poll` failed with this errno.
    Os(i32),
}

/// Waits for a socket to become writable, and knows what the socket is now.
///
/// A socket may be closed by another thread while a send waits for it or
/// while a system call of the send is interrupted; its descriptor number is
/// then free, and the next socket the process opens may get it. So after
/// every wait and every interrupted call the engine asks
/// [`Waiter::current_fd`] for the descriptor of its next system call
/// instead of reusing the one it started with.
pub trait Waiter {
    /// Returns when `fd` may be writable, or early (for instance when a
    /// signal interrupted the wait and the socket was closed meanwhile):
    /// the engine asks [`Waiter::current_fd`] and tries again either way;
    /// `Err` to give up.
    fn wait(&mut self, fd: RawFd, deadline: Option<Instant>) -> Result<(), Stop>;

    /// The socket's descriptor now (`fd` is the one used so far), or
    /// `Err(Stop::Closed)` if the socket was closed.
    fn current_fd(&mut self, fd: RawFd) -> Result<RawFd, Stop>;

    /// Whether the send was cancelled. Asked before every chunk of a large
    /// batch (not only while waiting), so it must be cheap: no system call.
    fn cancelled(&mut self) -> bool {
        false
    }
}

/// What woke a [`wait_writable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woke {
    /// The socket.
    Writable,
    /// The extra descriptor.
    Extra,
    /// A signal interrupted the wait (the socket may have been closed
    /// meanwhile: the caller re-checks before waiting again).
    Interrupted,
}

/// Milliseconds left until `deadline`, rounded up so that a wait never ends
/// before it; `None` if it has passed.
fn remaining_ms(deadline: Instant) -> Option<i32> {
    let left = deadline.checked_duration_since(Instant::now())?;
    if left.is_zero() {
        return None;
    }
    let us = left.as_micros();
    Some(us.div_ceil(1000).min(i32::MAX as u128) as i32)
}

/// Polls `fd` for writability and `extra` for readability until
/// `deadline`. `EINTR` ends the wait with [`Woke::Interrupted`].
pub fn wait_writable(fd: RawFd, extra: Option<RawFd>, deadline: Option<Instant>) -> Result<Woke, Stop> {
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => remaining_ms(d).ok_or(Stop::TimedOut)?,
        };
        match sys::poll_writable(fd, extra, ms) {
            Ok(PollResult::Writable) => return Ok(Woke::Writable),
            Ok(PollResult::Extra) => return Ok(Woke::Extra),
            // Rounding may wake us a hair early: the loop re-checks.
            Ok(PollResult::TimedOut) => continue,
            Err(libc::EINTR) => return Ok(Woke::Interrupted),
            Err(e) => return Err(Stop::Os(e)),
        }
    }
}

/// A waiter with no cancellation over a descriptor nobody else closes:
/// plain `poll` with the deadline.
pub struct PollWaiter;

impl Waiter for PollWaiter {
    fn wait(&mut self, fd: RawFd, deadline: Option<Instant>) -> Result<(), Stop> {
        // Nobody closes the descriptor: a signal just restarts the wait.
        while wait_writable(fd, None, deadline)? == Woke::Interrupted {}
        Ok(())
    }

    fn current_fd(&mut self, fd: RawFd) -> Result<RawFd, Stop> {
        Ok(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timeout_rules() {
        let t0 = Instant::now();
        assert_eq!(Timeout::from_micros(0, || t0), Timeout::NonBlocking);
        assert_eq!(Timeout::from_micros(-1, || t0), Timeout::Block(None));
        assert_eq!(Timeout::from_micros(5, || t0), Timeout::Block(Some(t0 + Duration::from_micros(5))));
    }

    #[test]
    fn remaining_rounds_up() {
        let d = Instant::now() + Duration::from_micros(1500);
        let ms = remaining_ms(d).unwrap();
        assert!((1..=2).contains(&ms));
        assert_eq!(remaining_ms(Instant::now() - Duration::from_millis(1)), None);
    }
}
