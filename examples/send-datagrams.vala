/* Sends three datagrams to a loopback receiver with
 * GSend.socket_send_datagrams and prints what arrived: the Vala twin of
 * send-datagrams.py. Run by `meson test` (suites examples and bindings).
 *
 *   valac --pkg gsend-1 send-datagrams.vala && ./send-datagrams
 */
int main () {
    try {
        var receiver = new Socket (SocketFamily.IPV4, SocketType.DATAGRAM, SocketProtocol.UDP);
        receiver.bind (new InetSocketAddress.from_string ("127.0.0.1", 0), false);
        receiver.timeout = 5;

        var sock = new Socket (SocketFamily.IPV4, SocketType.DATAGRAM, SocketProtocol.UDP);
        var address = receiver.get_local_address ();
        Bytes[] datagrams = { new Bytes ("one".data), new Bytes ("two".data), new Bytes ("three".data) };

        int sent = GSend.socket_send_datagrams (sock, address, datagrams, 0, -1);
        print ("sent %d\n", sent);
        var buffer = new uint8[100];
        for (int i = 0; i < sent; i++) {
            ssize_t n = receiver.receive (buffer);
            print ("received %.*s\n", (int) n, (string) buffer);
            if (new Bytes (buffer[0:n]).compare (datagrams[i]) != 0) {
                printerr ("datagram %d arrived changed\n", i);
                return 1;
            }
        }
    } catch (Error e) {
        printerr ("error: %s\n", e.message);
        return 1;
    }
    return 0;
}
