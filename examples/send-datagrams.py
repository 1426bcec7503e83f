#!/usr/bin/env python3
# Sends three datagrams to a loopback receiver with GSend.socket_send_datagrams
# and prints what arrived. Quoted in the README; run by `meson test`.
import socket

import gi

gi.require_version("GSend", "1.0")
from gi.repository import GLib, Gio, GSend

receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
receiver.bind(("127.0.0.1", 0))
receiver.settimeout(5)
port = receiver.getsockname()[1]

sock = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP)
address = Gio.InetSocketAddress.new_from_string("127.0.0.1", port)
datagrams = [GLib.Bytes.new(b"one"), GLib.Bytes.new(b"two"), GLib.Bytes.new(b"three")]

sent = GSend.socket_send_datagrams(sock, address, datagrams, 0, -1, None)
print("sent", sent)
for _ in range(sent):
    print("received", receiver.recv(100))
