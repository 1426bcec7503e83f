//! gsend's send engine.
//!
//! This crate knows nothing of GObject. It turns a plain description of
//! datagrams (destination, gather vectors, encoded control data) into kernel
//! message headers, coalesces runs of equal datagrams into UDP segmentation
//! offload (GSO) sends, pushes them with `sendmmsg`, and waits for the socket
//! when the kernel says it is full. The C edge (`gsend-gio`) reads GIO's
//! structs and calls [`send()`].
//!
//! Modules, from the bottom up (an arrow: "uses"; no cycles):
//!
//! ```text
//! send ──▶ thread_scratch ──▶ plan ──▶ addrcache ──▶ sockaddr
//!  │                          │  │  └──▶ control ──▶ cmsg, grow
//!  │                          │  └────────────────▶ cmsg, grow
//!  │                          └───────────────────▶ sockaddr
//!  ├──▶ plan
//!  ├──▶ wait ──▶ sys ──▶ sockaddr
//!  └──▶ sys                      sockopt ──▶ sys
//! ```
//!
//! - `sockaddr`: [`sockaddr::SockAddr`], a native address (a leaf);
//! - `cmsg`: the one control-message encoder (a leaf);
//! - `sys` (crate-private): the system calls, errno, socket options;
//!   [`sockopt`] hands the edge the one query it needs;
//! - `grow` (crate-private): growing a scratch buffer without aborting
//!   when memory is short (a leaf);
//! - [`control`]: an aligned buffer for the user's `cmsghdr` blocks;
//! - [`addrcache`]: native addresses remembered across calls;
//! - [`plan`]: datagram descriptions → `mmsghdr` entries, with GSO runs
//!   (split by concern: see its own documentation);
//! - `thread_scratch` (crate-private): the per-thread `Scratch`;
//! - [`wait`]: deadlines and the `Waiter` the edge implements;
//! - `send`: the send loop with the timeout rules;
//! - [`stats`]: a socket's counters, and why a batch was not coalesced.

// Beyond the workspace's lints: every public item documented, and one
// unsafe operation per `unsafe` block (each with its own SAFETY line).
#![deny(missing_docs)]
#![deny(clippy::multiple_unsafe_ops_per_block)]

// The engine speaks Linux's system calls and options (`sendmmsg`, UDP GSO
// with `UDP_SEGMENT`, `SO_PROTOCOL`): other kernels are not supported.
#[cfg(not(target_os = "linux"))]
compile_error!("gsend is Linux-only: its engine uses sendmmsg(2), UDP_SEGMENT and other Linux socket options");

pub mod addrcache;
pub mod cmsg;
pub mod control;
mod grow;
pub mod plan;
pub mod send;
pub mod sockaddr;
pub mod sockopt;
pub mod stats;
mod sys;
mod thread_scratch;
pub mod wait;

pub use control::ControlBuf;
pub use plan::{Dest, GsoPolicy, Message, Plan, Scratch};
pub use send::{flags_kept_apart, send, try_send_one, with_scratch, Failure, One, Outcome, SendRequest};
pub use wait::{Stop, Timeout, Waiter};
