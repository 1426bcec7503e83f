/* gsend from Vala, through the generated gsend-1.vapi.
 *
 * GSend.socket_send_datagrams (GLib.Bytes[]) and GSend.socket_send_messages
 * (a GLib.OutputMessage[]) send to loopback or AF_UNIX receivers, which
 * check what arrives byte for byte; errors are caught as GLib.Error and
 * checked for their GLib.IOError code. Every wait is bounded: receivers
 * have a socket timeout, the fill loops a count.
 *
 * Run by meson (suite bindings) with LD_LIBRARY_PATH set to the build
 * directory.
 */

const int WAIT_SECONDS = 5;

/* Distinct contents, so a datagram cut, swapped or merged shows. */
uint8[] pattern (int size, uint8 seed) {
    var data = new uint8[size];
    for (int i = 0; i < size; i++) {
        data[i] = (uint8) ((i * 31 + seed * 7 + (i >> 8)) & 0xff);
    }
    return data;
}

Socket udp_receiver () throws Error {
    var receiver = new Socket (SocketFamily.IPV4, SocketType.DATAGRAM, SocketProtocol.UDP);
    receiver.bind (new InetSocketAddress.from_string ("127.0.0.1", 0), false);
    receiver.timeout = WAIT_SECONDS;
    return receiver;
}

Socket udp_sender () throws Error {
    return new Socket (SocketFamily.IPV4, SocketType.DATAGRAM, SocketProtocol.UDP);
}

/* The next datagram on receiver must be exactly expected. */
void expect_datagram (Socket receiver, uint8[] expected) throws Error {
    var buffer = new uint8[65536];
    ssize_t got = receiver.receive (buffer);
    if (got != expected.length) {
        error ("received %" + ssize_t.FORMAT + " bytes, expected %d", got, expected.length);
    }
    if (Memory.cmp (buffer, expected, expected.length) != 0) {
        error ("a datagram of %d bytes arrived with other contents", expected.length);
    }
}

/* An AF_UNIX datagram pair: [sender, receiver], both GSockets. */
Socket[] unix_pair () throws Error {
    int[] fds = { -1, -1 };
    if (Posix.socketpair (Posix.AF_UNIX, Posix.SOCK_DGRAM, 0, fds) != 0) {
        error ("socketpair: %s", Posix.strerror (Posix.errno));
    }
    var sender = new Socket.from_fd (fds[0]);
    var receiver = new Socket.from_fd (fds[1]);
    receiver.timeout = WAIT_SECONDS;
    return { sender, receiver };
}

/* Fills the non-blocking sender's peer until nothing more fits. */
void fill (Socket sender) throws Error {
    var one = new Bytes (pattern (512, 9));
    Bytes[] batch = { one, one, one, one, one, one, one, one };
    for (int i = 0; i < 100000; i++) {
        try {
            GSend.socket_send_datagrams (sender, null, batch, 0, 0);
        } catch (IOError.WOULD_BLOCK e) {
            return;
        }
    }
    error ("the AF_UNIX socket never filled up");
}

void assert_io_error (Error e, int code, string what) {
    if (!e.matches (IOError.quark (), code)) {
        error ("%s: got %s (domain %s, code %d), expected IOError code %d",
               what, e.message, e.domain.to_string (), e.code, code);
    }
}

void test_send_datagrams () {
    try {
        var receiver = udp_receiver ();
        var sender = udp_sender ();
        var dest = receiver.get_local_address ();
        Bytes[] datagrams = {
            new Bytes ("one".data), new Bytes (new uint8[0]), new Bytes (pattern (1200, 1)),
            new Bytes (pattern (1200, 2)), new Bytes ("five".data)
        };
        int sent = GSend.socket_send_datagrams (sender, dest, datagrams, 0, -1);
        assert_cmpint (sent, CompareOperator.EQ, datagrams.length);
        foreach (unowned Bytes d in datagrams) {
            expect_datagram (receiver, d.get_data ());
        }
    } catch (Error e) {
        error ("unexpected error: %s", e.message);
    }
}

void test_send_datagrams_connected_unix () {
    try {
        var pair = unix_pair ();
        Bytes[] datagrams = { new Bytes (pattern (3000, 3)), new Bytes ("last".data) };
        int sent = GSend.socket_send_datagrams (pair[0], null, datagrams, 0, -1);
        assert_cmpint (sent, CompareOperator.EQ, 2);
        expect_datagram (pair[1], pattern (3000, 3));
        expect_datagram (pair[1], "last".data);
    } catch (Error e) {
        error ("unexpected error: %s", e.message);
    }
}

// The async function from Vala: a callback that calls the finish
// function with the socket (GSend-1.0-custom.vala says why).
void test_send_datagrams_async () {
    try {
        var receiver = udp_receiver ();
        var sender = udp_sender ();
        var dest = receiver.get_local_address ();
        var loop = new MainLoop ();
        int[] results = { -2, -2 };
        Bytes[] first = { new Bytes (pattern (1200, 4)), new Bytes ("second".data) };
        Bytes[] second = { new Bytes (pattern (700, 5)) };
        GSend.socket_send_datagrams_async (sender, dest, first, 0, Priority.DEFAULT, null, (obj, res) => {
            try {
                results[0] = GSend.socket_send_datagrams_finish ((Socket) obj, res);
            } catch (Error e) {
                error ("unexpected error: %s", e.message);
            }
        });
        GSend.socket_send_datagrams_async (sender, dest, second, 0, Priority.DEFAULT, null, (obj, res) => {
            try {
                results[1] = GSend.socket_send_datagrams_finish ((Socket) obj, res);
            } catch (Error e) {
                error ("unexpected error: %s", e.message);
            }
            loop.quit ();
        });
        // Never from inside the call.
        assert_cmpint (results[0], CompareOperator.EQ, -2);
        var timer = Timeout.add_seconds (10, () => { loop.quit (); return Source.REMOVE; });
        loop.run ();
        Source.remove (timer);
        assert_cmpint (results[0], CompareOperator.EQ, 2);
        assert_cmpint (results[1], CompareOperator.EQ, 1);
        expect_datagram (receiver, pattern (1200, 4));
        expect_datagram (receiver, "second".data);
        expect_datagram (receiver, pattern (700, 5));
    } catch (Error e) {
        error ("unexpected error: %s", e.message);
    }
}

void test_send_messages () {
    try {
        var receiver = udp_receiver ();
        var sender = udp_sender ();
        var dest = receiver.get_local_address ();

        /* Three messages: two vectors, one vector, no vector at all. */
        uint8[] head = "head:".data;
        uint8[] body = pattern (1000, 4);
        uint8[] single = pattern (77, 5);
        var two = new OutputVector[2];
        two[0] = { head, head.length };
        two[1] = { body, body.length };
        var one = new OutputVector[1];
        one[0] = { single, single.length };

        var messages = new OutputMessage[3];
        for (int i = 0; i < messages.length; i++) {
            messages[i].address = dest;
            messages[i].bytes_sent = 12345;
        }
        messages[0].vectors = two;
        messages[1].vectors = one;

        int sent = GSend.socket_send_messages (sender, messages, 0);
        assert_cmpint (sent, CompareOperator.EQ, 3);
        assert_cmpuint (messages[0].bytes_sent, CompareOperator.EQ, head.length + body.length);
        assert_cmpuint (messages[1].bytes_sent, CompareOperator.EQ, single.length);
        assert_cmpuint (messages[2].bytes_sent, CompareOperator.EQ, 0);

        var joined = new ByteArray ();
        joined.append (head);
        joined.append (body);
        expect_datagram (receiver, joined.data);
        expect_datagram (receiver, single);
        expect_datagram (receiver, new uint8[0]);
    } catch (Error e) {
        error ("unexpected error: %s", e.message);
    }
}

void test_closed () {
    Socket sender;
    SocketAddress dest;
    try {
        var receiver = udp_receiver ();
        dest = receiver.get_local_address ();
        sender = udp_sender ();
        sender.close ();
    } catch (Error e) {
        error ("set-up: %s", e.message);
    }

    try {
        GSend.socket_send_datagrams (sender, dest, { new Bytes ("x".data) }, 0, -1);
        error ("socket_send_datagrams on a closed socket did not fail");
    } catch (Error e) {
        assert_io_error (e, IOError.CLOSED, "socket_send_datagrams");
    }

    uint8[] data = "y".data;
    var vectors = new OutputVector[1];
    vectors[0] = { data, data.length };
    var messages = new OutputMessage[1];
    messages[0].address = dest;
    messages[0].vectors = vectors;
    try {
        GSend.socket_send_messages (sender, messages, 0);
        error ("socket_send_messages on a closed socket did not fail");
    } catch (IOError.CLOSED e) {
        /* What Vala code would write: the specific code caught by name. */
    } catch (Error e) {
        error ("socket_send_messages: expected IOError.CLOSED, got %s", e.message);
    }
}

void test_would_block_and_timeout () {
    Socket[] pair;
    try {
        pair = unix_pair ();
        pair[0].blocking = false;
        fill (pair[0]);
    } catch (Error e) {
        error ("set-up: %s", e.message);
    }

    /* Full and non-blocking: nothing can be sent. */
    uint8[] data = "z".data;
    var vectors = new OutputVector[1];
    vectors[0] = { data, data.length };
    var messages = new OutputMessage[4];
    for (int i = 0; i < messages.length; i++) {
        messages[i].vectors = vectors;
    }
    try {
        GSend.socket_send_messages (pair[0], messages, 0);
        error ("socket_send_messages on a full non-blocking socket did not fail");
    } catch (Error e) {
        assert_io_error (e, IOError.WOULD_BLOCK, "socket_send_messages");
    }

    /* A short timeout on the same full socket: TIMED_OUT, after waiting. */
    try {
        GSend.socket_send_datagrams (pair[0], null, { new Bytes (data) }, 0, 50000);
        error ("socket_send_datagrams with a timeout on a full socket did not fail");
    } catch (Error e) {
        assert_io_error (e, IOError.TIMED_OUT, "socket_send_datagrams with a timeout");
    }
}

void test_cancelled () {
    try {
        var receiver = udp_receiver ();
        var sender = udp_sender ();
        var cancellable = new Cancellable ();
        cancellable.cancel ();
        try {
            GSend.socket_send_datagrams (sender, receiver.get_local_address (),
                                         { new Bytes ("c".data) }, 0, -1, cancellable);
            error ("socket_send_datagrams with a cancelled cancellable did not fail");
        } catch (Error e) {
            assert_io_error (e, IOError.CANCELLED, "socket_send_datagrams cancelled");
        }
    } catch (Error e) {
        error ("set-up: %s", e.message);
    }
}

int main (string[] args) {
    Test.init (ref args);
    Test.add_func ("/vala/send-datagrams/udp", test_send_datagrams);
    Test.add_func ("/vala/send-datagrams/unix-connected", test_send_datagrams_connected_unix);
    Test.add_func ("/vala/send-datagrams/async", test_send_datagrams_async);
    Test.add_func ("/vala/send-messages/vectors-and-bytes-sent", test_send_messages);
    Test.add_func ("/vala/errors/closed", test_closed);
    Test.add_func ("/vala/errors/would-block-and-timed-out", test_would_block_and_timeout);
    Test.add_func ("/vala/errors/cancelled", test_cancelled);
    return Test.run ();
}
