//! gsend's C edge: GIO's send functions over the gsend engine.
//!
//! Every public function here has exactly the signature of the GIO function
//! it replaces (plus `socket_send_messages_with_timeout`, which GIO keeps
//! private, and gsend's own additions). They are not exported under any
//! name by this crate: the `gsend` library exports them as `gsend_*`, the
//! preload shim under GIO's own names. Each one checks its arguments like
//! `g_return_val_if_fail`, runs inside a panic boundary, and reports runtime
//! failures as `G_IO_ERROR` GErrors.
//!
//! Modules, by concern:
//! - `entry`: the `pub unsafe extern "C"` entry points, generic over the
//!   export set ([`names::Exports`]), and [`warm_up`].
//! - `checks`: the argument checks and the `return_val_if_fail!` macro
//!   that keeps each critical's text next to its check.
//! - `fast`: the one-datagram fast path.
//! - `async_send`: the asynchronous sends (each socket's queue of pending
//!   calls and the main-context source that drives it).
//! - `run`: the batch run (the engine call and the reporting of its outcome).
//! - `waiter`: waiting with GIO's semantics (socket, cancellable, timeout).
//! - `errors`: errno to `GIOErrorEnum`, the error texts, the critical's names.
//! - [`names`]: the log domain and function names of each export set.
//! - [`socket`], [`message`], `addrcache`, `gso`: reading GIO's objects
//!   (socket state, messages and vectors, addresses, segmentation offload).
//! - [`glue`]: small GLib helpers (type checks, GErrors, the panic guard).
//! - [`stats`]: each socket's counters, the process totals, the report at
//!   exit; `debug`: the debug messages of `G_MESSAGES_DEBUG=GSend`.

mod addrcache;
mod async_send;
mod checks;
mod debug;
mod entry;
mod errors;
mod fast;
pub mod glue;
mod gso;
pub mod message;
pub mod names;
mod run;
pub mod socket;
pub mod stats;
mod waiter;

pub use async_send::{
    socket_send_datagrams_async, socket_send_datagrams_finish, socket_send_messages_async, socket_send_messages_finish,
};
pub use entry::{
    datagram_based_send_messages, socket_send, socket_send_datagrams, socket_send_message,
    socket_send_message_with_timeout, socket_send_messages, socket_send_messages_with_timeout, socket_send_to,
    socket_send_with_blocking, warm_up,
};
pub use gsend_engine::stats::Figures;
pub use gso::{socket_get_gso, socket_get_gso_max_bytes, socket_set_gso, socket_set_gso_max_bytes};
pub use stats::{socket_get_stats, STATS_WORDS};

/// Declares, in the library crate that exports the functions, the
/// constructor that runs [`warm_up`] when the shared object is loaded, and
/// the destructor that prints the `GSEND_STATS=1` report
/// ([`stats::report_at_exit`], named after the crate) when the program
/// exits or the library is unloaded. They must sit in that crate (not
/// here) so that the linker keeps them in the library it builds.
#[macro_export]
macro_rules! warm_up_at_load {
    () => {
        /// Runs `gsend_gio::warm_up` when the library is loaded (see there
        /// why).
        #[used]
        #[link_section = ".init_array"]
        static WARM_UP: extern "C" fn() = {
            extern "C" fn warm_up() {
                // A panic must not unwind out of the loader's call; a value
                // that could not be settled now is looked up on first use.
                let _ = std::panic::catch_unwind($crate::warm_up);
            }
            warm_up
        };
        /// Prints the process totals at exit when `GSEND_STATS=1`.
        #[used]
        #[link_section = ".fini_array"]
        static REPORT_AT_EXIT: extern "C" fn() = {
            extern "C" fn report() {
                let _ = std::panic::catch_unwind(|| $crate::stats::report_at_exit(env!("CARGO_PKG_NAME")));
            }
            report
        };
    };
}
