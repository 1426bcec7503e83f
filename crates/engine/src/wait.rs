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
    /// `poll` failed with this errno.
    Os(i32),
}

/// Waits for a socket to become writable.
pub trait Waiter {
    /// Returns when `fd` may be writable; `Err` to give up.
    fn wait(&mut self, fd: RawFd, deadline: Option<Instant>) -> Result<(), Stop>;
}

/// What woke a [`wait_writable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Woke {
    /// The socket.
    Writable,
    /// The extra descriptor.
    Extra,
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
/// `deadline`. `EINTR` restarts the wait with the time that is left.
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
            Err(libc::EINTR) => continue,
            Err(e) => return Err(Stop::Os(e)),
        }
    }
}

/// A waiter with no cancellation: plain `poll` with the deadline.
pub struct PollWaiter;

impl Waiter for PollWaiter {
    fn wait(&mut self, fd: RawFd, deadline: Option<Instant>) -> Result<(), Stop> {
        wait_writable(fd, None, deadline).map(|_| ())
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
