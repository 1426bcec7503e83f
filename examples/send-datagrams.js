#!/usr/bin/gjs
// Sends three datagrams to a loopback receiver with GSend.socket_send_datagrams
// and prints what arrived: the GJS twin of send-datagrams.py. Run by
// `meson test` (suites examples and bindings).
imports.gi.versions.GSend = '1.0';
const {GLib, Gio, GSend} = imports.gi;

const receiver = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP);
receiver.bind(Gio.InetSocketAddress.new_from_string('127.0.0.1', 0), false);
// Gio.Socket.receive() cannot fill a buffer from JavaScript: read each
// datagram from the socket's descriptor once it is readable (5 s at most).
const incoming = Gio.UnixInputStream.new(receiver.get_fd(), false);

const sock = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP);
const address = receiver.get_local_address();
const encoder = new TextEncoder();
const datagrams = ['one', 'two', 'three'].map(text => new GLib.Bytes(encoder.encode(text)));

const sent = GSend.socket_send_datagrams(sock, address, datagrams, 0, -1, null);
print('sent', sent);
for (let i = 0; i < sent; i++) {
    receiver.condition_timed_wait(GLib.IOCondition.IN, 5000000, null);
    const datagram = incoming.read_bytes(100, null);
    print('received', new TextDecoder().decode(datagram.toArray()));
    if (!datagram.equal(datagrams[i]))
        throw new Error(`datagram ${i} arrived changed`);
}
