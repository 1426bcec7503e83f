//! What the kernel says about a socket, for the edge: the safe socket-option
//! queries of the crate-private `sys` module that the edge needs, under
//! their own names.

pub use crate::sys::is_udp_socket;
