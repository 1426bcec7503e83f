#!/usr/bin/gjs
// Sends datagrams from a main loop with GSend.socket_send_datagrams_async
// and `await`: ten one-datagram sends started together go out as one batch,
// each resolving with its own count; then a send on a closed socket
// rejects with a GLib.Error. Run by `meson test` (suites examples and
// bindings).
imports.gi.versions.GSend = '1.0';
const {GLib, Gio, GSend} = imports.gi;

// Gio._promisify calls the finish function with the result only; gsend's
// finish also takes the socket, which the result carries.
const Send = {
    datagrams: GSend.socket_send_datagrams_async,
    datagrams_finish: res => GSend.socket_send_datagrams_finish(res.get_source_object(), res),
};
Gio._promisify(Send, 'datagrams', 'datagrams_finish');

const receiver = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP);
receiver.bind(Gio.InetSocketAddress.new_from_string('127.0.0.1', 0), false);
const incoming = Gio.UnixInputStream.new(receiver.get_fd(), false);
const address = receiver.get_local_address();
const sock = Gio.Socket.new(Gio.SocketFamily.IPV4, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP);
const encoder = new TextEncoder();

async function main() {
    const texts = Array.from({length: 10}, (_, i) => `update ${i}`);
    const counts = await Promise.all(texts.map(text =>
        Send.datagrams(sock, address, [new GLib.Bytes(encoder.encode(text))], 0, GLib.PRIORITY_DEFAULT, null)));
    print('counts', counts.join(' '));
    for (const text of texts) {
        receiver.condition_timed_wait(GLib.IOCondition.IN, 5000000, null);
        const got = new TextDecoder().decode(incoming.read_bytes(100, null).toArray());
        print('received', got);
        if (got !== text)
            throw new Error(`expected ${text}, got ${got}`);
    }

    sock.close();
    try {
        await Send.datagrams(sock, address, [new GLib.Bytes(encoder.encode('late'))], 0, GLib.PRIORITY_DEFAULT, null);
        throw new Error('a send on a closed socket succeeded');
    } catch (e) {
        if (!(e instanceof GLib.Error) || !e.matches(Gio.IOErrorEnum, Gio.IOErrorEnum.CLOSED))
            throw e;
        print('closed socket:', e.message);
    }
}

const loop = new GLib.MainLoop(null, false);
let failure = null;
main().catch(e => {
    failure = e;
}).finally(() => loop.quit());
GLib.timeout_add_seconds(GLib.PRIORITY_DEFAULT, 20, () => {
    failure = failure || new Error('not done after 20 s');
    loop.quit();
    return GLib.SOURCE_REMOVE;
});
loop.run();
if (failure) {
    printerr(failure);
    imports.system.exit(1);
}
