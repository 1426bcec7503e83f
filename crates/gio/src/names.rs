//! How each export set names itself in criticals: the one place that
//! decides the log domain and the function names of `g_return_val_if_fail`
//! style messages.
//!
//! `libgsend.so.1` reports in the domain "GSend" under its own `gsend_*`
//! names. The preload shim stands in for GIO, so a programming error must
//! read exactly as GIO's own: domain "GLib-GIO" and the name of the GIO
//! function whose check fails. In GIO that is not always the function
//! called: `g_socket_send_messages` forwards to its private
//! `g_socket_send_messages_with_timeout`, `g_socket_send_message` and
//! `g_socket_send_to` to `g_socket_send_message_with_timeout`, and
//! `g_socket_send` and `g_socket_send_with_blocking` to the private
//! `g_socket_send_with_timeout`, each of which makes the checks. The same
//! in GIO 2.66, 2.74, 2.84 and 2.88 (read in each version's gsocket.c and
//! gdatagrambased.c), so the names do not depend on the running GLib.

use std::ffi::CStr;

/// Domain and function names of one export set.
#[derive(Debug)]
pub struct Api {
    /// Log domain of the criticals.
    pub domain: &'static CStr,
    /// Checks of `send_messages`.
    pub messages: &'static CStr,
    /// Checks of `send_messages_with_timeout`.
    pub messages_with_timeout: &'static CStr,
    /// Checks of `send_datagrams` (gsend only).
    pub datagrams: &'static CStr,
    /// Checks of `datagram_based_send_messages` itself.
    pub datagram_based: &'static CStr,
    /// Checks of `send_messages` reached through `datagram_based_send_messages`.
    pub datagram_based_socket: &'static CStr,
    /// Checks of `send_message` and `send_to`.
    pub message: &'static CStr,
    /// Checks of `send_message_with_timeout`.
    pub message_with_timeout: &'static CStr,
    /// Checks of `send` and `send_with_blocking`.
    pub data: &'static CStr,
}

/// An export set (chosen by the library that exports the functions).
pub trait Exports {
    /// Its names.
    const API: Api;
}

/// `libgsend.so.1`: the `gsend_*` names, domain "GSend".
pub struct GSend;

impl Exports for GSend {
    const API: Api = Api {
        domain: c"GSend",
        messages: c"gsend_socket_send_messages",
        messages_with_timeout: c"gsend_socket_send_messages_with_timeout",
        datagrams: c"gsend_socket_send_datagrams",
        datagram_based: c"gsend_datagram_based_send_messages",
        datagram_based_socket: c"gsend_datagram_based_send_messages",
        message: c"gsend_socket_send_message",
        message_with_timeout: c"gsend_socket_send_message_with_timeout",
        data: c"gsend_socket_send_with_blocking",
    };
}

/// The preload shim: GIO's names and domain.
pub struct Gio;

impl Exports for Gio {
    const API: Api = Api {
        domain: c"GLib-GIO",
        messages: c"g_socket_send_messages_with_timeout",
        messages_with_timeout: c"g_socket_send_messages_with_timeout",
        datagrams: c"g_socket_send_messages_with_timeout",
        datagram_based: c"g_datagram_based_send_messages",
        datagram_based_socket: c"g_socket_send_messages_with_timeout",
        message: c"g_socket_send_message_with_timeout",
        message_with_timeout: c"g_socket_send_message_with_timeout",
        data: c"g_socket_send_with_timeout",
    };
}
