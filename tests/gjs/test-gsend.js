// gsend from JavaScript (GJS), through GObject introspection (GSend-1.0).
//
// GSend.socket_send_datagrams sends arrays of GLib.Bytes to loopback UDP
// and AF_UNIX receivers, which check what arrives byte for byte; errors
// arrive as GLib.Error carrying a Gio.IOErrorEnum code. Every wait is
// bounded (WAIT_US per datagram, fill loops by count). Prints TAP.
//
// Run by meson (suite bindings) with GI_TYPELIB_PATH and LD_LIBRARY_PATH
// set to the build directory.
imports.gi.versions.GSend = '1.0';
const {GLib, Gio, GSend} = imports.gi;
const System = imports.system;

const WAIT_US = 5000000;
const IOE = Gio.IOErrorEnum;
const SOL_SOCKET = 1;  // Linux
const SO_RCVBUF = 8;

function check(cond, what) {
    if (!cond)
        throw new Error(`check failed: ${what}`);
}

// Distinct pseudo-random contents, so a datagram cut, swapped or merged shows.
function payload(size, seed) {
    const data = new Uint8Array(size);
    let x = (seed * 2654435761) >>> 0 || 1;
    for (let i = 0; i < size; i++) {
        x ^= x << 13; x >>>= 0;
        x ^= x >>> 17;
        x ^= x << 5; x >>>= 0;
        data[i] = x & 0xff;
    }
    return data;
}

function bytes(arrays) {
    return arrays.map(a => new GLib.Bytes(a));
}

function sameBytes(got, want) {
    const g = got.toArray();
    if (g.length !== want.length)
        return false;
    return g.every((b, i) => b === want[i]);
}

// A receiving Gio.Socket with a way to read one whole datagram from
// JavaScript (Gio.Socket.receive() cannot fill a buffer from GJS).
class Receiver {
    constructor(socket) {
        this.socket = socket;
        this.stream = Gio.UnixInputStream.new(socket.get_fd(), false);
    }

    // The next datagram; TIMED_OUT if none comes within WAIT_US.
    next() {
        this.socket.condition_timed_wait(GLib.IOCondition.IN, WAIT_US, null);
        return this.stream.read_bytes(1 << 17, null);
    }

    // Everything queued now, without waiting.
    drain() {
        const got = [];
        while (this.socket.condition_check(GLib.IOCondition.IN) & GLib.IOCondition.IN)
            got.push(this.stream.read_bytes(1 << 17, null));
        return got;
    }

    expect(datas) {
        datas.forEach((want, i) => {
            const got = this.next();
            check(sameBytes(got, want),
                `datagram ${i}: ${got.get_size()} bytes arrived, ${want.length} sent, or other contents`);
        });
    }

    close() {
        this.socket.close();
    }
}

function udpReceiver(family) {
    const host = family === Gio.SocketFamily.IPV4 ? '127.0.0.1' : '::1';
    const s = Gio.Socket.new(family, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP);
    s.set_option(SOL_SOCKET, SO_RCVBUF, 4 << 20);
    s.bind(Gio.InetSocketAddress.new_from_string(host, 0), false);
    return new Receiver(s);
}

function udpSender(family) {
    return Gio.Socket.new(family, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.UDP);
}

let unixCount = 0;

// An AF_UNIX datagram sender connected to a receiver bound to an abstract
// name of its own.
function unixPair() {
    const name = `gsend-gjs-test-${new Gio.Credentials().get_unix_pid()}-${unixCount++}`;
    const address = Gio.UnixSocketAddress.new_with_type(new TextEncoder().encode(name), Gio.UnixSocketAddressType.ABSTRACT);
    const r = Gio.Socket.new(Gio.SocketFamily.UNIX, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.DEFAULT);
    r.bind(address, false);
    const s = Gio.Socket.new(Gio.SocketFamily.UNIX, Gio.SocketType.DATAGRAM, Gio.SocketProtocol.DEFAULT);
    s.connect(address, null);
    return [s, new Receiver(r)];
}

// Sends without waiting until the socket refuses: [what was accepted, the
// GLib.Error that ended it].
function fill(sender) {
    let sent = [];
    const batch = Array.from({length: 64}, (_, i) => payload(1000, 100 + i));
    for (let round = 0; round < 2000; round++) {
        try {
            const n = GSend.socket_send_datagrams(sender, null, bytes(batch), 0, 0, null);
            sent = sent.concat(batch.slice(0, n));
        } catch (e) {
            return [sent, e];
        }
    }
    throw new Error('the socket never filled up');
}

// fn() must throw a GLib.Error in the Gio.IOErrorEnum domain with code.
function expectIOError(fn, code, what) {
    let error = null;
    try {
        fn();
    } catch (e) {
        error = e;
    }
    check(error !== null, `${what}: no error`);
    check(error instanceof GLib.Error, `${what}: ${error} is not a GLib.Error`);
    check(error.matches(Gio.IOErrorEnum, code),
        `${what}: expected Gio.IOErrorEnum code ${code}, got ${error.domain}/${error.code}: ${error.message}`);
    check(error.message.length > 0, `${what}: empty message`);
    return error;
}

const tests = [];
function test(name, fn) {
    tests.push([name, fn]);
}

// --- datagrams arrive -------------------------------------------------------

test('udp ipv4: mixed sizes arrive byte-exact and in order', () => {
    const r = udpReceiver(Gio.SocketFamily.IPV4);
    const datas = [payload(3, 1), new Uint8Array(0), payload(1200, 2), payload(1200, 3), payload(9000, 4)];
    const n = GSend.socket_send_datagrams(udpSender(Gio.SocketFamily.IPV4),
        r.socket.get_local_address(), bytes(datas), 0, -1, null);
    check(n === datas.length, `sent ${n} of ${datas.length}`);
    r.expect(datas);
    r.close();
});

test('udp ipv4: 64 equal datagrams to one destination (the offload path)', () => {
    const r = udpReceiver(Gio.SocketFamily.IPV4);
    const datas = Array.from({length: 64}, (_, i) => payload(700, 1000 + i));
    const n = GSend.socket_send_datagrams(udpSender(Gio.SocketFamily.IPV4),
        r.socket.get_local_address(), bytes(datas), 0, -1, null);
    check(n === datas.length, `sent ${n} of ${datas.length}`);
    r.expect(datas);
    r.close();
});

test('udp ipv6', () => {
    let r;
    try {
        r = udpReceiver(Gio.SocketFamily.IPV6);
    } catch (e) {
        return `SKIP no IPv6 loopback: ${e.message}`;
    }
    const datas = [payload(10, 5), payload(1400, 6)];
    const n = GSend.socket_send_datagrams(udpSender(Gio.SocketFamily.IPV6),
        r.socket.get_local_address(), bytes(datas), 0, -1, null);
    check(n === datas.length, `sent ${n} of ${datas.length}`);
    r.expect(datas);
    r.close();
    return null;
});

test('connected socket with a null address', () => {
    const r = udpReceiver(Gio.SocketFamily.IPV4);
    const s = udpSender(Gio.SocketFamily.IPV4);
    s.connect(r.socket.get_local_address(), null);
    const datas = [payload(50, 7), payload(60, 8)];
    const n = GSend.socket_send_datagrams(s, null, bytes(datas), 0, -1, null);
    check(n === 2, `sent ${n}`);
    r.expect(datas);
    r.close();
});

test('an empty array sends nothing and returns 0', () => {
    const [s, r] = unixPair();
    const n = GSend.socket_send_datagrams(s, null, [], 0, -1, null);
    check(n === 0, `returned ${n}`);
    check(r.drain().length === 0, 'something arrived');
    r.close();
});

test('a partial send returns its count, not an error', () => {
    const [s, r] = unixPair();
    fill(s);
    r.drain();
    const datas = Array.from({length: 400}, (_, i) => payload(1000, 5000 + i));
    const n = GSend.socket_send_datagrams(s, null, bytes(datas), 0, 0, null);
    check(n > 0 && n < datas.length, `sent ${n} of ${datas.length}`);
    const got = r.drain();
    check(got.length === n, `${got.length} arrived, ${n} reported`);
    got.forEach((g, i) => check(sameBytes(g, datas[i]), `datagram ${i} changed`));
    r.close();
});

// --- errors arrive as GLib.Error with Gio.IOErrorEnum codes ------------------

test('full non-blocking socket: WOULD_BLOCK', () => {
    const [s, r] = unixPair();
    s.set_blocking(false);
    const [sent, error] = fill(s);
    check(error instanceof GLib.Error, `${error} is not a GLib.Error`);
    check(error.matches(Gio.IOErrorEnum, IOE.WOULD_BLOCK), `got ${error.message}`);
    check(sent.length > 0, 'nothing was accepted before the socket was full');
    const got = r.drain();
    check(got.length === sent.length, `${got.length} arrived, ${sent.length} reported`);
    r.close();
});

test('full socket and a timeout: TIMED_OUT', () => {
    const [s, r] = unixPair();
    fill(s);
    expectIOError(() => GSend.socket_send_datagrams(s, null, bytes([payload(4, 9)]), 0, 50000, null),
        IOE.TIMED_OUT, 'timeout 50 ms');
    r.close();
});

test('cancelled before the call: CANCELLED, nothing sent', () => {
    const [s, r] = unixPair();
    const c = new Gio.Cancellable();
    c.cancel();
    expectIOError(() => GSend.socket_send_datagrams(s, null, bytes([payload(4, 10)]), 0, -1, c),
        IOE.CANCELLED, 'cancelled');
    check(r.drain().length === 0, 'something arrived');
    r.close();
});

test('closed socket: CLOSED', () => {
    const r = udpReceiver(Gio.SocketFamily.IPV4);
    const s = udpSender(Gio.SocketFamily.IPV4);
    s.close();
    expectIOError(() => GSend.socket_send_datagrams(s, r.socket.get_local_address(),
        bytes([payload(4, 11)]), 0, -1, null), IOE.CLOSED, 'closed socket');
    r.close();
});

test('send_to a closed socket: CLOSED', () => {
    const s = udpSender(Gio.SocketFamily.IPV4);
    const address = Gio.InetSocketAddress.new_from_string('127.0.0.1', 9);
    s.close();
    expectIOError(() => GSend.socket_send_to(s, address, payload(4, 12), null), IOE.CLOSED, 'send_to');
});

test('non-Bytes elements are refused by the binding', () => {
    let error = null;
    try {
        GSend.socket_send_datagrams(udpSender(Gio.SocketFamily.IPV4), null, ['text'], 0, -1, null);
    } catch (e) {
        error = e;
    }
    check(error !== null && !(error instanceof GLib.Error), `got ${error}`);
});

test('GSO switch per socket', () => {
    const s = udpSender(Gio.SocketFamily.IPV4);
    GSend.socket_set_gso(s, false);
    check(GSend.socket_get_gso(s) === false, 'still on after set_gso(false)');
    const [u, r] = unixPair();
    check(GSend.socket_get_gso(u) === false, 'on for an AF_UNIX socket');
    r.close();
});

// --- async sends (docs/behaviour.md rules 18-21), with await ---------------

// Gio._promisify calls a namespace function's finish with the result
// only; gsend's takes the socket too, which the result carries.
const Send = {
    datagrams: GSend.socket_send_datagrams_async,
    datagrams_finish: res => GSend.socket_send_datagrams_finish(res.get_source_object(), res),
};
Gio._promisify(Send, 'datagrams', 'datagrams_finish');

test('async: await sends, received byte for byte', async () => {
    const r = udpReceiver(Gio.SocketFamily.IPV4);
    const s = udpSender(Gio.SocketFamily.IPV4);
    const want = [payload(100, 1), payload(1200, 2), payload(1, 3)];
    const n = await Send.datagrams(s, r.socket.get_local_address(), bytes(want), 0,
        GLib.PRIORITY_DEFAULT, null);
    check(n === 3, `sent ${n}`);
    want.forEach((w, i) => check(sameBytes(r.next(), w), `datagram ${i} changed`));
    r.close();
});

test('async: 64 calls at once complete in order, each with its count', async () => {
    const r = udpReceiver(Gio.SocketFamily.IPV4);
    const s = udpSender(Gio.SocketFamily.IPV4);
    const to = r.socket.get_local_address();
    const want = Array.from({length: 64}, (_, i) => payload(1200, 200 + i));
    const counts = await Promise.all(want.map(w =>
        Send.datagrams(s, to, bytes([w]), 0, GLib.PRIORITY_DEFAULT, null)));
    check(counts.every(n => n === 1), `counts ${counts}`);
    want.forEach((w, i) => check(sameBytes(r.next(), w), `datagram ${i} changed or out of order`));
    r.close();
});

test('async: a cancelled pending send rejects with CANCELLED', async () => {
    const [s, r] = unixPair();
    fill(s);
    const c = new Gio.Cancellable();
    const pending = Send.datagrams(s, null, bytes([payload(10, 7)]), 0,
        GLib.PRIORITY_DEFAULT, c);
    GLib.timeout_add(GLib.PRIORITY_DEFAULT, 50, () => {
        c.cancel();
        return GLib.SOURCE_REMOVE;
    });
    let error = null;
    try {
        await pending;
    } catch (e) {
        error = e;
    }
    check(error instanceof GLib.Error, `${error} is not a GLib.Error`);
    check(error.matches(Gio.IOErrorEnum, IOE.CANCELLED), `got ${error && error.message}`);
    r.close();
});

test('async: a closed socket rejects with CLOSED', async () => {
    const [s, r] = unixPair();
    s.close();
    let error = null;
    try {
        await Send.datagrams(s, null, bytes([payload(10, 8)]), 0, GLib.PRIORITY_DEFAULT, null);
    } catch (e) {
        error = e;
    }
    check(error instanceof GLib.Error && error.matches(Gio.IOErrorEnum, IOE.CLOSED), `got ${error}`);
    r.close();
});

// Runs fn; when it returns a promise, runs a main loop until it settles
// (at most 20 s).
function settle(fn) {
    const result = fn();
    if (!(result instanceof Promise))
        return result;
    const loop = new GLib.MainLoop(null, false);
    let done = false, value, error;
    result.then(v => {
        done = true;
        value = v;
        loop.quit();
    }, e => {
        done = true;
        error = e;
        loop.quit();
    });
    let timedOut = false;
    const id = GLib.timeout_add(GLib.PRIORITY_DEFAULT, 20000, () => {
        timedOut = true;
        loop.quit();
        return GLib.SOURCE_REMOVE;
    });
    if (!done)
        loop.run();
    if (!timedOut)
        GLib.source_remove(id);
    if (!done)
        throw new Error('not settled after 20 s');
    if (error)
        throw error;
    return value;
}

// --- TAP ---------------------------------------------------------------------

print(`1..${tests.length}`);
let failed = 0;
tests.forEach(([name, fn], i) => {
    try {
        const result = settle(fn);
        if (typeof result === 'string' && result.startsWith('SKIP'))
            print(`ok ${i + 1} ${name} # ${result}`);
        else
            print(`ok ${i + 1} ${name}`);
    } catch (e) {
        failed++;
        print(`not ok ${i + 1} ${name}`);
        for (const line of `${e}\n${e.stack || ''}`.trim().split('\n'))
            print(`# ${line}`);
    }
});
System.exit(failed ? 1 : 0);
