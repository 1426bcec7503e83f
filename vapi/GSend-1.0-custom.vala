// gsend_socket_send_datagrams_finish takes the socket as well as the
// result, which Vala's async functions cannot express for a function of a
// namespace (their finish call passes the result only). So the GIR's async
// pair is declared here as two plain functions: pass a callback, and call
// GSend.socket_send_datagrams_finish (socket, result) in it.
namespace GSend {
	[CCode (cheader_filename = "gsend.h", cname = "gsend_socket_send_datagrams_async")]
	public static void socket_send_datagrams_async (GLib.Socket socket, GLib.SocketAddress? address, [CCode (array_length_cname = "n_datagrams", array_length_pos = 3.5, array_length_type = "guint")] GLib.Bytes[] datagrams, int flags, int io_priority, GLib.Cancellable? cancellable, [CCode (scope = "async")] GLib.AsyncReadyCallback? callback);
}
