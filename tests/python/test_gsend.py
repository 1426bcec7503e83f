#!/usr/bin/env python3
"""gsend from Python, through GObject introspection (GSend-1.0).

GSend.socket_send_datagrams is the batch send made for bindings; the GIO
twins are called as far as introspection lets Python fill their arguments.
Receivers are plain Python sockets, so what arrives is checked independently
of GIO. Loopback and AF_UNIX only; every wait is bounded.

Run with GI_TYPELIB_PATH (and, for the build tree, LD_LIBRARY_PATH) pointing
at the directory holding GSend-1.0.typelib and libgsend.so.1; meson does.
"""

import ctypes
import errno
import os
import random
import socket
import stat
import sys
import tempfile
import threading
import unittest

import gi

gi.require_version("GLib", "2.0")
gi.require_version("Gio", "2.0")
gi.require_version("GSend", "1.0")
from gi.repository import GLib, Gio, GSend  # noqa: E402

# Upper bound of every wait in these tests, in seconds.
WAIT = 5.0
MAX_UDP_IPV4 = 65507

IOE = Gio.IOErrorEnum


def payloads(sizes, seed):
    """Distinct pseudo-random contents (a datagram swapped or cut shows)."""
    rng = random.Random(seed)
    return [bytes(rng.getrandbits(8) for _ in range(n)) for n in sizes]


def gbytes(datas):
    return [GLib.Bytes.new(d) for d in datas]


def udp_receiver(family):
    host = "127.0.0.1" if family == socket.AF_INET else "::1"
    r = socket.socket(family, socket.SOCK_DGRAM)
    try:
        r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        r.bind((host, 0))
    except OSError:
        r.close()
        raise
    r.settimeout(WAIT)
    return r


def gio_udp_socket(family):
    gfam = Gio.SocketFamily.IPV4 if family == socket.AF_INET else Gio.SocketFamily.IPV6
    return Gio.Socket.new(gfam, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP)


def gio_address(pysock):
    host, port = pysock.getsockname()[:2]
    return Gio.InetSocketAddress.new_from_string(host, port)


def unix_pair():
    """An AF_UNIX datagram pair: (GSocket sender, Python receiver)."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    sender = Gio.Socket.new_from_fd(a.detach())
    b.settimeout(WAIT)
    return sender, b


def drain(pysock):
    """Everything queued on pysock now, without waiting."""
    got = []
    pysock.setblocking(False)
    try:
        while True:
            got.append(pysock.recv(1 << 17))
    except BlockingIOError:
        pass
    finally:
        pysock.settimeout(WAIT)
    return got


def fill(sender, size=1000, limit=100000):
    """Sends datagrams without waiting until the socket refuses one.

    Returns (what was accepted, the GLib.Error that ended it)."""
    sent = []
    batch = payloads([size] * 64, seed=size)
    for _ in range(limit // 64):
        try:
            n = GSend.socket_send_datagrams(sender, None, gbytes(batch), 0, 0, None)
        except GLib.Error as e:
            return sent, e
        sent += batch[:n]
    raise AssertionError("the socket never filled up")


class IOErrorMixin:
    def assertIOError(self, err, code):
        self.assertIsInstance(err, GLib.Error)
        self.assertTrue(
            err.matches(Gio.io_error_quark(), code),
            f"expected G_IO_ERROR {code.value_nick}, got {err.domain} {err.code}: {err.message}",
        )
        self.assertTrue(err.message)


class SendDatagramsArrive(unittest.TestCase):
    """Datagrams sent with GSend.socket_send_datagrams arrive byte-exact."""

    def check_udp(self, family, sizes, seed, connected=False):
        try:
            r = udp_receiver(family)
        except OSError as e:
            self.skipTest(f"no loopback for {family!r}: {e}")
        with r:
            s = gio_udp_socket(family)
            addr = gio_address(r)
            datas = payloads(sizes, seed)
            if connected:
                s.connect(addr, None)
                addr = None
            n = GSend.socket_send_datagrams(s, addr, gbytes(datas), 0, -1, None)
            self.assertEqual(n, len(datas))
            got = [r.recv(1 << 17) for _ in datas]
            self.assertEqual(got, datas)
            self.assertEqual(drain(r), [])
            s.close()

    def test_ipv4_mixed_sizes(self):
        self.check_udp(socket.AF_INET, [0, 1, 7, 100, 1200, 1472, 9000, MAX_UDP_IPV4, 3], seed=1)

    def test_ipv4_equal_sizes_one_destination(self):
        # Runs of equal-size datagrams to one address: the segmentation
        # offload path when the kernel has it, invisible to the receiver.
        self.check_udp(socket.AF_INET, [1200] * 64 + [700] + [100] * 64, seed=2)

    def test_ipv6(self):
        self.check_udp(socket.AF_INET6, [1200] * 16 + [5, 0, 1000], seed=3)

    def test_connected_peer_with_address_none(self):
        self.check_udp(socket.AF_INET, [10, 20, 30], seed=4, connected=True)

    def test_unix_path_address(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "sock")
            r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            with r:
                r.bind(path)
                r.settimeout(WAIT)
                s = Gio.Socket.new(Gio.SocketFamily.UNIX, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.DEFAULT)
                addr = Gio.UnixSocketAddress.new(path)
                datas = payloads([1, 2, 3000], seed=5)
                n = GSend.socket_send_datagrams(s, addr, gbytes(datas), 0, -1, None)
                self.assertEqual(n, 3)
                self.assertEqual([r.recv(4096) for _ in datas], datas)
                s.close()

    def test_empty_list_sends_nothing(self):
        s, r = unix_pair()
        with r:
            self.assertEqual(GSend.socket_send_datagrams(s, None, [], 0, -1, None), 0)
            self.assertEqual(drain(r), [])

    def test_more_than_1024_with_blocking_wait(self):
        # The pair fills long before 3000 datagrams: the send must wait for
        # the reader, and must not stop at GIO's 1024.
        s, r = unix_pair()
        datas = payloads([200] * 3000, seed=6)
        got = []

        def reader():
            try:
                while len(got) < len(datas):
                    got.append(r.recv(4096))
            except OSError:
                pass

        t = threading.Thread(target=reader)
        t.start()
        try:
            n = GSend.socket_send_datagrams(s, None, gbytes(datas), 0, -1, None)
        finally:
            t.join(WAIT)
            r.close()
        self.assertFalse(t.is_alive())
        self.assertEqual(n, len(datas))
        self.assertEqual(got, datas)


class SendDatagramsAsync(unittest.TestCase, IOErrorMixin):
    """GSend.socket_send_datagrams_async with callbacks on a GLib main loop
    (docs/behaviour.md rules 18-21)."""

    def run_calls(self, sock, address, batches, cancellable=None, before_loop=None):
        """Starts one async call per batch; runs a main loop (at most WAIT)
        until every callback ran. Returns [(count or GLib.Error, thread)]."""
        loop = GLib.MainLoop()
        results = [None] * len(batches)
        pending = [len(batches)]

        def done(source, res, i):
            try:
                results[i] = GSend.socket_send_datagrams_finish(source, res)
            except GLib.Error as e:
                results[i] = e
            pending[0] -= 1
            if pending[0] == 0:
                loop.quit()

        for i, datas in enumerate(batches):
            c = cancellable[i] if isinstance(cancellable, list) else cancellable
            GSend.socket_send_datagrams_async(sock, address, gbytes(datas), 0, GLib.PRIORITY_DEFAULT, c, done, i)
        # Never called from inside the call.
        self.assertEqual(pending[0], len(batches))
        if before_loop:
            before_loop()
        timer = GLib.timeout_add(int(WAIT * 1000), loop.quit)
        loop.run()
        if pending[0] == 0:
            GLib.source_remove(timer)
        self.assertEqual(pending[0], 0, "callbacks missing after the wait")
        return results

    def test_many_calls_arrive_in_order_byte_exact(self):
        with udp_receiver(socket.AF_INET) as r:
            s = gio_udp_socket(socket.AF_INET)
            batches = [payloads([1200] * (1 + i % 3), seed=i) for i in range(40)]
            results = self.run_calls(s, gio_address(r), batches)
            self.assertEqual(results, [len(b) for b in batches])
            want = [d for b in batches for d in b]
            got = [r.recv(1 << 17) for _ in want]
            self.assertEqual(got, want)
            self.assertEqual(drain(r), [])
            s.close()

    def test_cancel_pending_call(self):
        s, r = unix_pair()
        with r:
            fill(s)
            c = Gio.Cancellable()
            results = self.run_calls(s, None, [payloads([10], seed=1)], cancellable=c,
                                     before_loop=lambda: GLib.timeout_add(50, c.cancel))
            self.assertIOError(results[0], IOE.CANCELLED)
            s.close()

    def test_cancel_one_queued_call_of_three(self):
        with udp_receiver(socket.AF_INET) as r:
            s = gio_udp_socket(socket.AF_INET)
            c = Gio.Cancellable()
            batches = [payloads([100, 200], seed=10 + i) for i in range(3)]
            results = self.run_calls(s, gio_address(r), batches, cancellable=[None, c, None],
                                     before_loop=c.cancel)
            self.assertEqual(results[0], 2)
            self.assertIOError(results[1], IOE.CANCELLED)
            self.assertEqual(results[2], 2)
            want = batches[0] + batches[2]
            self.assertEqual([r.recv(1 << 17) for _ in want], want)
            self.assertEqual(drain(r), [])
            s.close()

    def test_closed_socket_error(self):
        s, r = unix_pair()
        with r:
            s.close()
            results = self.run_calls(s, None, [payloads([10], seed=2)])
            self.assertIOError(results[0], IOE.CLOSED)

    def test_kernel_error_is_a_glib_error(self):
        with udp_receiver(socket.AF_INET) as r:
            s = gio_udp_socket(socket.AF_INET)
            results = self.run_calls(s, gio_address(r), [[b"x" * (MAX_UDP_IPV4 + 1)]])
            self.assertIOError(results[0], IOE.MESSAGE_TOO_LARGE)
            s.close()


class SendDatagramsErrors(unittest.TestCase, IOErrorMixin):
    """Errors come back as GLib.Error with a Gio.IOErrorEnum code."""

    def test_would_block_on_full_nonblocking_pair(self):
        s, r = unix_pair()
        s.set_blocking(False)
        with r:
            sent, err = fill(s)
            self.assertIOError(err, IOE.WOULD_BLOCK)
            self.assertGreater(len(sent), 0)
            # Partial batches returned their count: exactly those arrived.
            self.assertEqual(drain(r), sent)

    def test_partial_send_returns_count_not_error(self):
        s, r = unix_pair()
        with r:
            fill(s)
            drain(r)
            # Room for some but not all of a big batch: a count, no error.
            datas = payloads([1000] * 400, seed=7)
            n = GSend.socket_send_datagrams(s, None, gbytes(datas), 0, 0, None)
            self.assertGreater(n, 0)
            self.assertLess(n, len(datas))
            self.assertEqual(drain(r), datas[:n])

    def test_timed_out(self):
        s, r = unix_pair()
        with r:
            fill(s)
            with self.assertRaises(GLib.Error) as cm:
                GSend.socket_send_datagrams(s, None, gbytes([b"late"]), 0, 50000, None)
            self.assertIOError(cm.exception, IOE.TIMED_OUT)

    def test_cancelled_before_the_call_sends_nothing(self):
        s, r = unix_pair()
        with r:
            c = Gio.Cancellable()
            c.cancel()
            with self.assertRaises(GLib.Error) as cm:
                GSend.socket_send_datagrams(s, None, gbytes([b"a", b"b"]), 0, -1, c)
            self.assertIOError(cm.exception, IOE.CANCELLED)
            self.assertEqual(drain(r), [])

    def test_cancelled_while_blocked(self):
        s, r = unix_pair()
        with r:
            fill(s)
            c = Gio.Cancellable()
            outcome = {}

            def send():
                try:
                    outcome["n"] = GSend.socket_send_datagrams(s, None, gbytes([b"blocked"]), 0, -1, c)
                except GLib.Error as e:
                    outcome["error"] = e

            t = threading.Thread(target=send)
            t.start()
            timer = threading.Timer(0.2, c.cancel)
            timer.start()
            t.join(WAIT)
            timer.cancel()
            if t.is_alive():
                # Unblock the sender so that the test process can finish.
                drain(r)
                t.join(WAIT)
                self.fail("a cancelled send kept waiting")
            self.assertNotIn("n", outcome)
            self.assertIOError(outcome["error"], IOE.CANCELLED)

    def test_closed(self):
        s, r = unix_pair()
        with r:
            s.close()
            with self.assertRaises(GLib.Error) as cm:
                GSend.socket_send_datagrams(s, None, gbytes([b"x"]), 0, -1, None)
            self.assertIOError(cm.exception, IOE.CLOSED)

    def test_error_names_message_index_and_system_text(self):
        s = Gio.Socket.new(Gio.SocketFamily.UNIX, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.DEFAULT)
        with tempfile.TemporaryDirectory() as d:
            addr = Gio.UnixSocketAddress.new(os.path.join(d, "nobody-here"))
            with self.assertRaises(GLib.Error) as cm:
                GSend.socket_send_datagrams(s, addr, gbytes([b"x"]), 0, -1, None)
        self.assertIOError(cm.exception, IOE.NOT_FOUND)
        self.assertIn("0", cm.exception.message)
        self.assertIn(os.strerror(errno.ENOENT), cm.exception.message)

    def test_binding_rejects_non_bytes(self):
        s, r = unix_pair()
        with r:
            with self.assertRaises(TypeError):
                GSend.socket_send_datagrams(s, None, [b"plain bytes"], 0, -1, None)
            with self.assertRaises(TypeError):
                GSend.socket_send_datagrams(None, None, gbytes([b"x"]), 0, -1, None)
            self.assertEqual(drain(r), [])


class TwinsFromPython(unittest.TestCase, IOErrorMixin):
    """The GIO twins, as far as GObject introspection lets Python call them."""

    def test_send_to_send_and_send_with_blocking(self):
        r = udp_receiver(socket.AF_INET)
        with r:
            s = gio_udp_socket(socket.AF_INET)
            addr = gio_address(r)
            a, b, c = payloads([1200, 1, 0], seed=8)
            self.assertEqual(GSend.socket_send_to(s, addr, a, None), len(a))
            s.connect(addr, None)
            self.assertEqual(GSend.socket_send(s, b, None), len(b))
            self.assertEqual(GSend.socket_send_with_blocking(s, c, False, None), 0)
            self.assertEqual([r.recv(4096) for _ in range(3)], [a, b, c])
            s.close()

    def test_send_to_closed_socket(self):
        s, r = unix_pair()
        with r:
            s.close()
            with self.assertRaises(GLib.Error) as cm:
                GSend.socket_send(s, b"x", None)
            self.assertIOError(cm.exception, IOE.CLOSED)

    def test_send_message_without_vectors_sends_one_zero_byte(self):
        s, r = unix_pair()
        with r:
            self.assertEqual(GSend.socket_send_message(s, None, [], None, 0, None), 1)
            self.assertEqual(r.recv(16), b"\0")

    def test_send_message_passes_a_file_descriptor(self):
        s, r = unix_pair()
        with r, tempfile.TemporaryFile() as f:
            m = Gio.UnixFDMessage.new()
            m.append_fd(f.fileno())
            self.assertEqual(GSend.socket_send_message(s, None, [], [m], 0, None), 1)
            r.setblocking(True)
            r.settimeout(WAIT)
            data, fds, _flags, _addr = socket.recv_fds(r, 16, 4)
            self.assertEqual(data, b"\0")
            self.assertEqual(len(fds), 1)
            try:
                self.assertEqual(os.fstat(fds[0])[stat.ST_INO], os.fstat(f.fileno())[stat.ST_INO])
            finally:
                for fd in fds:
                    os.close(fd)

    def test_send_message_vector_data_through_a_raw_address(self):
        # GOutputVector.buffer is a gpointer: PyGObject only takes an
        # integer address there, so data needs ctypes (and the caller keeps
        # the buffer alive). It works, but it is not a Python API.
        s, r = unix_pair()
        with r:
            head = ctypes.create_string_buffer(b"head:", 5)
            body = ctypes.create_string_buffer(b"body", 4)
            vecs = []
            for buf in (head, body):
                v = Gio.OutputVector()
                v.buffer = ctypes.addressof(buf)
                v.size = len(buf.raw)
                vecs.append(v)
            self.assertEqual(GSend.socket_send_message(s, None, vecs, None, 0, None), 9)
            self.assertEqual(r.recv(16), b"head:body")
            ret, written = GSend.socket_send_message_with_timeout(s, None, vecs[:1], None, 0, 0, None)
            self.assertEqual((ret, written), (Gio.PollableReturn.OK, 5))
            self.assertEqual(r.recv(16), b"head:")

    def test_send_message_with_timeout_would_block_is_not_an_error(self):
        s, r = unix_pair()
        with r:
            fill(s)
            ret, _written = GSend.socket_send_message_with_timeout(s, None, [], None, 0, 0, None)
            self.assertEqual(ret, Gio.PollableReturn.WOULD_BLOCK)

    def test_send_messages_family_with_data_free_messages(self):
        # A Gio.OutputMessage made in Python cannot point at vectors (its
        # vectors field is a C pointer PyGObject will not set), so only
        # empty datagrams go out this way, and bytes_sent is written into
        # PyGObject's temporary copy of the array, not into these objects.
        s, r = unix_pair()
        with r:
            self.assertEqual(GSend.socket_send_messages(s, [Gio.OutputMessage(), Gio.OutputMessage()], 0, None), 2)
            self.assertEqual(GSend.socket_send_messages_with_timeout(s, [Gio.OutputMessage()], 0, -1, None), 1)
            self.assertEqual(GSend.datagram_based_send_messages(s, [Gio.OutputMessage()], 0, -1, None), 1)
            self.assertEqual(drain(r), [b""] * 4)

    def test_send_messages_error(self):
        s, r = unix_pair()
        with r:
            s.close()
            for call in (
                lambda: GSend.socket_send_messages(s, [Gio.OutputMessage()], 0, None),
                lambda: GSend.socket_send_messages_with_timeout(s, [Gio.OutputMessage()], 0, 0, None),
            ):
                with self.assertRaises(GLib.Error) as cm:
                    call()
                self.assertIOError(cm.exception, IOE.CLOSED)

    def test_gso_switch(self):
        s = gio_udp_socket(socket.AF_INET)
        GSend.socket_set_gso(s, False)
        self.assertFalse(GSend.socket_get_gso(s))
        GSend.socket_set_gso(s, True)
        self.assertIsInstance(GSend.socket_get_gso(s), bool)
        u, r = unix_pair()
        with r:
            self.assertFalse(GSend.socket_get_gso(u))


class Statistics(unittest.TestCase):
    """GSend.socket_get_stats returns a GSend.Stats struct (an out
    caller-allocates parameter): a socket's counters, or with None the
    process totals (docs/behaviour.md "Statistics and debugging")."""

    def test_counters_of_a_known_batch(self):
        try:
            r = udp_receiver(socket.AF_INET)
        except OSError as e:
            self.skipTest(f"no IPv4 loopback: {e}")
        with r:
            s = gio_udp_socket(socket.AF_INET)
            fresh = GSend.socket_get_stats(s)
            self.assertIsInstance(fresh, GSend.Stats)
            self.assertEqual((fresh.datagrams_sent, fresh.send_calls, fresh.gso_datagrams), (0, 0, 0))
            before = GSend.socket_get_stats(None)
            addr = gio_address(r)
            datas = payloads([1200] * 64, seed=40)
            self.assertEqual(GSend.socket_send_datagrams(s, addr, gbytes(datas), 0, -1, None), 64)
            # One datagram through a one-datagram function (its fast path).
            self.assertEqual(GSend.socket_send_to(s, addr, b"last", None), 4)
            got = [r.recv(1 << 17) for _ in range(65)]
            self.assertEqual(got, datas + [b"last"])
            st = GSend.socket_get_stats(s)
            self.assertEqual(st.datagrams_sent, 65)
            self.assertGreaterEqual(st.send_calls, 2)
            self.assertLessEqual(st.send_calls, 65)
            if GSend.socket_get_gso(s):
                # 64 equal datagrams to one address: runs of 54 and 10
                # (65507 bytes at most per segmented send), all coalesced.
                self.assertEqual(st.gso_datagrams, 64)
            else:
                self.assertEqual(st.gso_datagrams, 0)
            self.assertEqual((st.gso_refusals, st.waits, st.async_queued), (0, 0, 0))
            self.assertEqual(list(st.reserved), [0] * 10)
            after = GSend.socket_get_stats(None)
            self.assertGreaterEqual(after.datagrams_sent - before.datagrams_sent, 65)
            self.assertGreaterEqual(after.send_calls - before.send_calls, st.send_calls)
            s.close()


if __name__ == "__main__":
    print(f"python {sys.version.split()[0]}, PyGObject {gi.__version__}, GLib {GLib.MAJOR_VERSION}.{GLib.MINOR_VERSION}.{GLib.MICRO_VERSION}")
    unittest.main(verbosity=2)
