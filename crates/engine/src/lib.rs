//! gsend's send engine.
//!
//! This crate knows nothing of GObject. It turns a plain description of
//! datagrams (destination, gather vectors, encoded control data) into kernel
//! message headers, coalesces runs of equal datagrams into UDP segmentation
//! offload (GSO) sends, pushes them with `sendmmsg`, and waits for the socket
//! when the kernel says it is full. The C edge (`gsend-gio`) reads GIO's
//! structs and calls [`send`].
//!
//! Modules, from the bottom up:
//! - [`sys`]: the two system calls (`sendmmsg`, `poll`) and errno access;
//! - [`control`]: an aligned buffer for `cmsghdr` blocks;
//! - [`plan`]: datagram descriptions → `mmsghdr` entries, with GSO runs;
//! - [`wait`]: deadlines and the `Waiter` the edge implements;
//! - [`engine`](crate::send): the send loop with the timeout rules.

pub mod addrcache;
pub mod cmsg;
pub mod control;
pub mod plan;
pub mod send;
pub mod sockaddr;
pub mod sockopt;
mod sys;
mod thread_scratch;
pub mod wait;

pub use control::ControlBuf;
pub use plan::{Dest, GsoPolicy, Message, Plan, Scratch};
pub use send::{send, try_send_one, with_scratch, Failure, One, Outcome, SendRequest};
pub use wait::{Stop, Timeout, Waiter};
