//! Asynchronous sends (`gsend_socket_send_datagrams_async`,
//! `gsend_socket_send_messages_async`): each socket's queue of pending
//! calls, driven from a main context by one `GSource`.
//!
//! How it works (docs/behaviour.md rules 18-21):
//! - A call checks its arguments, wraps its callback in a `GTask` (whose
//!   context is the caller's thread-default main context) and joins the
//!   socket's [`Queue`], kept in the socket's qdata.
//! - Each main context with calls in the queue has a driver source there,
//!   made ready by every call. Calls made before a context next runs join
//!   the same queue, so one dispatch sends them all: the queued calls with
//!   the same flags form one batch for the engine (one `sendmmsg` per
//!   chunk, segmentation offload across calls), never waiting (`timeout
//!   0`). Any driver sends the whole queue, in order, under its lock; a
//!   context whose own calls are done drops its driver.
//! - When the socket is full the driver waits for `G_IO_OUT` on the
//!   socket's fd, for the earliest deadline (sockets with a timeout) and,
//!   through child sources, for the calls' cancellables; its `prepare`
//!   looks whether the socket was closed, and asks the context to come
//!   back within a second so that a close from another thread is seen.
//! - Each call completes when all of its datagrams are sent, or by the
//!   count-or-error rule: cancelled, timed out, closed socket, kernel
//!   error. Completion drops the call's references, then returns the
//!   task; GTask runs the callback in the call's context, never from
//!   inside the `_async` call.
//!
//! Locking: the queue's mutex is held while the queue changes and while
//! the driver sends (non-blocking system calls only), never while a task
//! is returned (a callback may queue another send). Lock order: queue,
//! then a main context's lock (taken inside GLib's source calls).

use std::collections::VecDeque;
use std::ffi::{c_int, c_uint};
use std::ptr::null_mut;
use std::sync::{Arc, Mutex, MutexGuard};

use gio_sys as gio;
use glib_sys as glib;
use gobject_sys as gobject;

use crate::checks::{batch_preconditions, return_val_if_fail};
use crate::errors::Style;
use crate::glue::{self, is_a, set_io_error};
use crate::message::{self, AddrMemo, DescribeError};
use crate::names::{Exports, GSend};
use crate::run::{run, Res};
use crate::socket::{self, socket_type};

type GError = glib::GError;

/// How many datagrams one dispatch sends at most before it lets the main
/// context run other sources (and comes back at once).
const BUDGET: usize = 8192;

/// The style of each async function's criticals and errors.
const DATAGRAMS: Style = Style::messages(&GSend::API, c"gsend_socket_send_datagrams_async");
const MESSAGES: Style = Style::messages(&GSend::API, c"gsend_socket_send_messages_async");
const DATAGRAMS_FINISH: Style = Style::messages(&GSend::API, c"gsend_socket_send_datagrams_finish");
const MESSAGES_FINISH: Style = Style::messages(&GSend::API, c"gsend_socket_send_messages_finish");

/// The source tags of the two kinds of task (their addresses are what
/// counts).
static TAG_DATAGRAMS: u8 = 0;
static TAG_MESSAGES: u8 = 0;

/// The qdata key of a socket's queue.
pub(crate) fn quark() -> glib::GQuark {
    static Q: glue::Cached = glue::Cached::new();
    // SAFETY: a static NUL-terminated string.
    Q.get(|| unsafe { glib::g_quark_from_static_string(c"gsend-async-queue".as_ptr()) } as usize) as glib::GQuark
}

/// What one call sends.
enum Kind {
    /// `send_datagrams_async`: owned references to the address (or NULL)
    /// and to each GBytes.
    Datagrams { address: *mut gio::GSocketAddress, bytes: Vec<*mut glib::GBytes> },
    /// `send_messages_async`: the caller's array, alive until completion.
    Messages { messages: *mut gio::GOutputMessage },
}

/// One pending call.
struct Call {
    /// The task (owned reference), returned at completion.
    task: *mut gio::GTask,
    kind: Kind,
    n: usize,
    /// Datagrams of this call sent so far (always its first ones).
    sent: usize,
    flags: c_int,
    /// Owned reference, or NULL.
    cancellable: *mut gio::GCancellable,
    /// The cancellable's child source under the driver (owned), or NULL.
    cancel_source: *mut glib::GSource,
    /// The main context of the call (its task's; compared only).
    context: *mut glib::GMainContext,
    /// Monotonic time (µs) at which the call gives up waiting, when the
    /// socket has a timeout.
    deadline: Option<i64>,
}

impl Kind {
    /// How the call's errors are worded, and its task's source tag.
    fn style_and_tag(&self) -> (Style, *const u8) {
        match self {
            Kind::Datagrams { .. } => (DATAGRAMS, &TAG_DATAGRAMS),
            Kind::Messages { .. } => (MESSAGES, &TAG_MESSAGES),
        }
    }
}

/// How a call ended.
enum Outcome {
    Count(usize),
    Error(*mut GError),
}

/// A driver source attached to one main context.
struct Drv {
    /// The context (owned reference).
    context: *mut glib::GMainContext,
    /// The source (owned reference).
    source: *mut glib::GSource,
    /// Its watch on the socket's fd, or NULL.
    fd_tag: glib::gpointer,
}

/// The pending calls of one socket.
struct Inner {
    calls: VecDeque<Call>,
    /// One driver per main context that has calls pending: any of them
    /// may send the queue's datagrams (each one under the lock, in order),
    /// so that the queue moves on as long as one of those contexts runs.
    drivers: Vec<Drv>,
}

/// A socket's queue. Lives in the socket's qdata (one reference) and in
/// its driver source (another).
struct Queue {
    /// Not a reference: every pending call's task holds one, and the queue
    /// is only used while calls are pending or from a caller's reference.
    socket: *mut gio::GSocket,
    inner: Mutex<Inner>,
}

// SAFETY: the raw pointers are GObject/GSource/GTask references, all of
// which GLib lets any thread ref, unref and use (GTask may be returned
// from any thread); the mutable state is behind the mutex.
unsafe impl Send for Queue {}
// SAFETY: as above.
unsafe impl Sync for Queue {}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while the lock was held leaves consistent data (every
        // change is a single push or pop): carry on.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The driver source: a GSource followed by the queue it drives.
#[repr(C)]
struct Driver {
    base: glib::GSource,
    /// `Arc::into_raw` of the queue, released in `finalize`.
    queue: *const Queue,
    /// A reference to the socket, released in `finalize`: `prepare` may
    /// still be running in the driver's context while another context
    /// completes the last call (and the socket's last other reference
    /// goes with its task).
    socket: *mut gio::GSocket,
}

static DRIVER_FUNCS: glib::GSourceFuncs = glib::GSourceFuncs {
    prepare: Some(driver_prepare),
    check: Some(driver_check),
    dispatch: Some(driver_dispatch),
    finalize: Some(driver_finalize),
    closure_callback: None,
    closure_marshal: None,
};

/// The queue of a driver source.
///
/// # Safety
/// `source` was made by [`new_driver`] and not finalized.
unsafe fn queue_of_driver<'a>(source: *mut glib::GSource) -> &'a Queue {
    // SAFETY: per the contract, the source is a Driver whose queue pointer
    // holds a reference until finalize.
    unsafe { &*(*(source as *mut Driver)).queue }
}

/// How often, in milliseconds, a driver waiting for room looks whether its
/// socket was closed by another thread (which wakes no poll).
const CLOSE_CHECK_MS: c_int = 1000;

unsafe extern "C" fn driver_prepare(source: *mut glib::GSource, timeout: *mut c_int) -> glib::gboolean {
    // SAFETY: GLib passes our source and a valid out location.
    unsafe {
        // A socket closed while the driver waits has no fd left to wake
        // it: GLib prepares every source on each iteration, so this is
        // where the close is seen. A close from another thread wakes
        // nothing, and the fd number may already belong to a socket that
        // never becomes writable: the context comes back here at least
        // once a second while a send waits. (A driver exists only while
        // calls are pending; with room it is ready at once.)
        *timeout = CLOSE_CHECK_MS;
        gio::g_socket_is_closed(queue_of_driver(source).socket)
    }
}

unsafe extern "C" fn driver_check(source: *mut glib::GSource) -> glib::gboolean {
    // SAFETY: as in prepare.
    unsafe { gio::g_socket_is_closed(queue_of_driver(source).socket) }
}

unsafe extern "C" fn driver_dispatch(
    source: *mut glib::GSource,
    _callback: glib::GSourceFunc,
    _data: glib::gpointer,
) -> glib::gboolean {
    // SAFETY: our source; the queue is alive while the source is.
    let q = unsafe { queue_of_driver(source) };
    let keep = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: called from the driver's dispatch (flush's contract).
        unsafe { flush(q, source) }
    }));
    match keep {
        Ok(keep) => keep as glib::gboolean,
        // Nothing sensible is left to do for the pending calls; keep the
        // source so that they are retried rather than silently dropped.
        Err(_) => glib::GTRUE,
    }
}

unsafe extern "C" fn driver_finalize(source: *mut glib::GSource) {
    // SAFETY: our source; its queue pointer came from Arc::into_raw.
    unsafe {
        let d = source as *mut Driver;
        drop(Arc::from_raw((*d).queue));
        (*d).queue = std::ptr::null();
        gobject::g_object_unref((*d).socket.cast());
    }
}

/// Makes a driver source of `q`, ready at once, at `priority`, attached
/// to `context`.
///
/// # Safety
/// `q` is a live queue, `context` a live main context.
unsafe fn new_driver(q: &Arc<Queue>, priority: c_int, context: *mut glib::GMainContext) -> *mut glib::GSource {
    // SAFETY: GLib only reads the function table (its parameter is not
    // const for historical reasons); the struct size covers `Driver`.
    unsafe {
        let source =
            glib::g_source_new(std::ptr::addr_of!(DRIVER_FUNCS).cast_mut(), std::mem::size_of::<Driver>() as c_uint);
        (*(source as *mut Driver)).queue = Arc::into_raw(Arc::clone(q));
        (*(source as *mut Driver)).socket = gobject::g_object_ref(q.socket.cast()).cast();
        glib::g_source_set_priority(source, priority);
        glib::g_source_set_name(source, c"gsend async send".as_ptr());
        glib::g_source_set_ready_time(source, 0);
        glib::g_source_attach(source, context);
        source
    }
}

unsafe extern "C" fn drop_queue(data: glib::gpointer) {
    // SAFETY: the qdata's reference, from Arc::into_raw.
    unsafe { drop(Arc::from_raw(data as *const Queue)) };
}

/// The queue of `socket`, made on first use.
///
/// # Safety
/// `socket` is a live GSocket the caller holds a reference to.
unsafe fn queue_for(socket: *mut gio::GSocket) -> Arc<Queue> {
    let obj = socket as *mut gobject::GObject;
    loop {
        // SAFETY: the socket is alive; its qdata under our quark is a
        // Queue reference, which cannot go away before the socket does.
        unsafe {
            let p = gobject::g_object_get_qdata(obj, quark()) as *const Queue;
            if !p.is_null() {
                Arc::increment_strong_count(p);
                return Arc::from_raw(p);
            }
            let q =
                Arc::new(Queue { socket, inner: Mutex::new(Inner { calls: VecDeque::new(), drivers: Vec::new() }) });
            let raw = Arc::into_raw(Arc::clone(&q)) as glib::gpointer;
            // Another thread may be doing the same: only one wins.
            if gobject::g_object_replace_qdata(obj, quark(), null_mut(), raw, Some(drop_queue), null_mut()) != 0 {
                return q;
            }
            drop(Arc::from_raw(raw as *const Queue));
        }
    }
}

unsafe extern "C" fn cancelled_noop(_c: *mut gio::GCancellable, _data: glib::gpointer) -> glib::gboolean {
    // The parent (the driver) is dispatched with it and does the work.
    glib::GTRUE
}

/// Queues `call` on `socket` (the task is made, arguments checked).
///
/// # Safety
/// `socket` is a live GSocket; the call's pointers follow its contract.
unsafe fn enqueue(socket: *mut gio::GSocket, mut call: Call, priority: c_int) {
    // SAFETY: per the contract.
    unsafe {
        let timeout = socket::timeout(socket);
        if timeout > 0 {
            call.deadline = Some(glib::g_get_monotonic_time().saturating_add(i64::from(timeout) * 1_000_000));
        }
        crate::stats::async_queued(socket, 1);
        let q = queue_for(socket);
        let context = glib::g_main_context_ref_thread_default();
        call.context = context;
        let mut g = q.lock();
        let source = match g.drivers.iter().find(|d| d.context == context) {
            Some(d) => {
                glib::g_main_context_unref(context);
                if priority < glib::g_source_get_priority(d.source) {
                    glib::g_source_set_priority(d.source, priority);
                }
                glib::g_source_set_ready_time(d.source, 0);
                d.source
            }
            None => {
                let source = new_driver(&q, priority, context);
                g.drivers.push(Drv { context, source, fd_tag: null_mut() });
                source
            }
        };
        if !call.cancellable.is_null() {
            call.cancel_source = watch_cancellable(source, call.cancellable);
        }
        g.calls.push_back(call);
    }
}

/// A child source of `driver` that dispatches it when `cancellable` is
/// cancelled (owned reference).
///
/// # Safety
/// `driver` is a live, attached driver; `cancellable` a GCancellable.
unsafe fn watch_cancellable(driver: *mut glib::GSource, cancellable: *mut gio::GCancellable) -> *mut glib::GSource {
    // SAFETY: per the contract.
    unsafe {
        let child = gio::g_cancellable_source_new(cancellable);
        // SAFETY: a cancellable source calls a GCancellableSourceFunc.
        let f: unsafe extern "C" fn(*mut gio::GCancellable, glib::gpointer) -> glib::gboolean = cancelled_noop;
        glib::g_source_set_callback(
            child,
            Some(std::mem::transmute::<
                unsafe extern "C" fn(*mut gio::GCancellable, glib::gpointer) -> glib::gboolean,
                unsafe extern "C" fn(glib::gpointer) -> glib::gboolean,
            >(f)),
            null_mut(),
            None,
        );
        glib::g_source_add_child_source(driver, child);
        child
    }
}

/// Ends the calls whose fate is known without sending: all sent, nothing
/// to send, cancelled, past their deadline, or the socket closed.
///
/// # Safety
/// The queue's socket is alive (the calls hold references to it).
unsafe fn sweep(socket: *mut gio::GSocket, g: &mut Inner, now: i64, done: &mut Vec<(Call, Outcome)>) {
    // SAFETY: the socket is alive.
    let closed = unsafe { gio::g_socket_is_closed(socket) } != 0;
    let mut i = 0;
    while i < g.calls.len() {
        let c = &g.calls[i];
        let outcome = if c.sent == c.n {
            Some(Outcome::Count(c.sent))
        } else if closed {
            Some(count_or(c.sent, gio::G_IO_ERROR_CLOSED, "Socket is already closed"))
        // SAFETY: an owned cancellable reference.
        } else if !c.cancellable.is_null() && unsafe { gio::g_cancellable_is_cancelled(c.cancellable) } != 0 {
            Some(if c.sent > 0 {
                Outcome::Count(c.sent)
            } else {
                let mut e = null_mut();
                // SAFETY: the cancellable is cancelled: this sets `e`.
                unsafe { gio::g_cancellable_set_error_if_cancelled(c.cancellable, &mut e) };
                Outcome::Error(e)
            })
        } else if c.deadline.is_some_and(|d| now >= d) {
            Some(count_or(c.sent, gio::G_IO_ERROR_TIMED_OUT, "Socket I/O timed out"))
        } else {
            None
        };
        match outcome {
            Some(o) => {
                let call = g.calls.remove(i).expect("index in range");
                done.push((call, o));
            }
            None => i += 1,
        }
    }
}

/// The count if some were sent, else a `G_IO_ERROR` with `code`.
fn count_or(sent: usize, code: c_int, text: &str) -> Outcome {
    if sent > 0 {
        return Outcome::Count(sent);
    }
    let mut e = null_mut();
    // SAFETY: `e` is a valid, unset location.
    unsafe { set_io_error(&mut e, code, text) };
    Outcome::Error(e)
}

/// One call's part of a batch: where its unsent datagrams start in the
/// batch, and what the engine needs to describe them.
#[derive(Clone, Copy)]
struct Span {
    start: usize,
    first: usize,
    what: SpanKind,
}

#[derive(Clone, Copy)]
enum SpanKind {
    Datagrams { address: *mut gio::GSocketAddress, bytes: *const *mut glib::GBytes },
    Messages { messages: *mut gio::GOutputMessage },
}

/// What one send of the queue's head group achieved.
enum Step {
    /// Something was sent or a call ended: look again.
    Again,
    /// The socket is full.
    Full,
}

/// Sends what the head of the queue can: the leading calls with the head's
/// flags, as one batch, without waiting.
///
/// # Safety
/// The socket is alive; the calls' pointers follow their contracts.
unsafe fn send_head(
    socket: *mut gio::GSocket,
    g: &mut Inner,
    budget: &mut usize,
    done: &mut Vec<(Call, Outcome)>,
) -> Step {
    let flags = g.calls[0].flags;
    let (style, _) = g.calls[0].kind.style_and_tag();
    let mut spans = Vec::new();
    let mut n = 0usize;
    for c in g.calls.iter().take_while(|c| c.flags == flags) {
        if n >= *budget {
            break;
        }
        let what = match &c.kind {
            Kind::Datagrams { address, bytes } => SpanKind::Datagrams { address: *address, bytes: bytes.as_ptr() },
            Kind::Messages { messages } => SpanKind::Messages { messages: *messages },
        };
        spans.push(Span { start: n, first: c.sent, what });
        n += c.n - c.sent;
    }
    let n = n.min(*budget);
    let mut error: *mut GError = null_mut();
    let span_of = |i: usize| &spans[spans.partition_point(|s| s.start <= i) - 1];
    // SAFETY: the spans' pointers are the calls' own (owned references or
    // the caller's arrays, alive until completion); error is a valid,
    // unset location.
    let res = unsafe {
        run(
            socket,
            n,
            flags,
            Some(0),
            null_mut(),
            &mut error,
            style,
            |i, s, memo: &mut AddrMemo| {
                let sp = span_of(i);
                let k = sp.first + (i - sp.start);
                match sp.what {
                    SpanKind::Datagrams { address, bytes } => {
                        message::describe_datagram(s, memo, address, *bytes.add(k))
                    }
                    SpanKind::Messages { messages } => message::describe(s, memo, &*messages.add(k)),
                }
            },
            |i, bytes| {
                let sp = span_of(i);
                if let SpanKind::Messages { messages } = sp.what {
                    (*messages.add(sp.first + (i - sp.start))).bytes_sent = bytes as c_uint;
                }
            },
        )
    };
    match res {
        Res::Sent(k) => {
            *budget = budget.saturating_sub(k.max(1));
            let mut left = k;
            // SAFETY: a plain clock read.
            let now = unsafe { glib::g_get_monotonic_time() };
            for c in g.calls.iter_mut() {
                if left == 0 {
                    break;
                }
                let take = left.min(c.n - c.sent);
                c.sent += take;
                left -= take;
                // Progress: a call that waits again waits a whole timeout.
                if let Some(d) = c.deadline.as_mut() {
                    // SAFETY: the socket is alive.
                    *d = now.saturating_add(i64::from(unsafe { socket::timeout(socket) }) * 1_000_000);
                }
            }
            Step::Again
        }
        Res::WouldBlock => Step::Full,
        Res::Failed => {
            // Nothing of the batch was sent: the failure is the head's.
            let head = g.calls.pop_front().expect("a head");
            let outcome = if head.sent > 0 {
                if !error.is_null() {
                    // SAFETY: we own it.
                    unsafe { glib::g_error_free(error) };
                }
                Outcome::Count(head.sent)
            } else if error.is_null() {
                // A critical was emitted (a message changed after the
                // call checked it): still, the call must end.
                count_or(0, gio::G_IO_ERROR_INVALID_ARGUMENT, "Invalid message")
            } else {
                Outcome::Error(error)
            };
            done.push((head, outcome));
            Step::Again
        }
    }
}

/// The driver's work: ends what can be ended, sends what fits, and decides
/// what to wait for. Returns whether the driver stays.
///
/// # Safety
/// Called from the driver's dispatch.
unsafe fn flush(q: &Queue, source: *mut glib::GSource) -> bool {
    let mut done = Vec::new();
    let keep;
    {
        let mut g = q.lock();
        // SAFETY: `source` is this dispatch's driver; the socket is alive
        // while calls are pending, and when none are the loop ends before
        // using it; the drivers' pointers are owned references.
        unsafe {
            glib::g_source_set_ready_time(source, -1);
            let mut budget = BUDGET;
            let mut full = false;
            loop {
                sweep(q.socket, &mut g, glib::g_get_monotonic_time(), &mut done);
                if g.calls.is_empty() {
                    break;
                }
                if budget == 0 {
                    // Let the context run others; come back at once.
                    glib::g_source_set_ready_time(source, 0);
                    break;
                }
                match send_head(q.socket, &mut g, &mut budget, &mut done) {
                    Step::Again => {}
                    Step::Full => {
                        full = true;
                        break;
                    }
                }
            }
            // A context with no call of its own left keeps no driver.
            let Inner { calls, drivers } = &mut *g;
            drivers.retain(|d| {
                let needed = calls.iter().any(|c| c.context == d.context);
                if !needed {
                    glib::g_source_destroy(d.source);
                    glib::g_source_unref(d.source);
                    glib::g_main_context_unref(d.context);
                }
                needed
            });
            keep = drivers.iter().any(|d| d.source == source);
            if full {
                // Every remaining driver waits for room (and the earliest
                // deadline): whichever context runs first sends.
                let fd = socket::state(q.socket).fd;
                let deadline = calls.iter().filter_map(|c| c.deadline).min();
                for d in drivers.iter_mut() {
                    if d.fd_tag.is_null() {
                        if fd >= 0 {
                            d.fd_tag = glib::g_source_add_unix_fd(d.source, fd, glib::G_IO_OUT);
                        }
                    } else {
                        glib::g_source_modify_unix_fd(d.source, d.fd_tag, glib::G_IO_OUT);
                    }
                    if let Some(t) = deadline {
                        glib::g_source_set_ready_time(d.source, t);
                    }
                }
            } else if let Some(d) = drivers.iter().find(|d| d.source == source) {
                if !d.fd_tag.is_null() {
                    glib::g_source_modify_unix_fd(source, d.fd_tag, 0);
                }
            }
        }
    }
    // SAFETY: the calls were taken out of the queue; the lock is released.
    unsafe { complete(done) };
    keep
}

/// Ends each call: drops its references (so a callback sees them gone),
/// then returns its task.
///
/// # Safety
/// The calls are out of any queue.
unsafe fn complete(done: Vec<(Call, Outcome)>) {
    for (call, outcome) in done {
        // SAFETY: the call owns its task and references.
        unsafe {
            let task = call.task;
            drop(call);
            match outcome {
                Outcome::Count(k) => gio::g_task_return_int(task, k.min(c_int::MAX as usize) as isize),
                Outcome::Error(e) => gio::g_task_return_error(task, e),
            }
            gobject::g_object_unref(task.cast());
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        // SAFETY: owned references, each released once.
        unsafe {
            if !self.cancel_source.is_null() {
                glib::g_source_destroy(self.cancel_source);
                glib::g_source_unref(self.cancel_source);
            }
            if !self.cancellable.is_null() {
                gobject::g_object_unref(self.cancellable.cast());
            }
            if let Kind::Datagrams { address, bytes } = &self.kind {
                for b in bytes {
                    glib::g_bytes_unref(*b);
                }
                if !address.is_null() {
                    gobject::g_object_unref(address.cast());
                }
            }
        }
    }
}

/// Makes the task and the call around `kind` and queues it on `socket`
/// (the arguments were checked).
///
/// # Safety
/// `socket` is a GSocket; `cancellable` NULL or a GCancellable; `kind`'s
/// pointers follow its contract.
#[allow(clippy::too_many_arguments)]
unsafe fn start(
    socket: *mut gio::GSocket,
    kind: Kind,
    n: usize,
    flags: c_int,
    priority: c_int,
    cancellable: *mut gio::GCancellable,
    callback: gio::GAsyncReadyCallback,
    user_data: glib::gpointer,
) {
    let (_, tag) = kind.style_and_tag();
    // SAFETY: per the contract.
    unsafe {
        let task = gio::g_task_new(socket.cast(), cancellable, callback, user_data);
        gio::g_task_set_source_tag(task, tag as glib::gpointer);
        gio::g_task_set_priority(task, priority);
        // The count-or-error rule decides, not GTask: a call that sent
        // some datagrams and was then cancelled returns its count.
        gio::g_task_set_check_cancellable(task, glib::GFALSE);
        if !cancellable.is_null() {
            gobject::g_object_ref(cancellable.cast());
        }
        let call = Call {
            task,
            kind,
            n,
            sent: 0,
            flags,
            cancellable,
            cancel_source: null_mut(),
            context: null_mut(),
            deadline: None,
        };
        enqueue(socket, call, priority);
    }
}

/// See `gsend_socket_send_datagrams_async`.
///
/// # Safety
/// `datagrams` is NULL or points to `n_datagrams` GBytes pointers; the
/// other arguments follow GIO's conventions.
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn socket_send_datagrams_async(
    socket: *mut gio::GSocket,
    address: *mut gio::GSocketAddress,
    datagrams: *mut *mut glib::GBytes,
    n_datagrams: c_uint,
    flags: c_int,
    io_priority: c_int,
    cancellable: *mut gio::GCancellable,
    callback: gio::GAsyncReadyCallback,
    user_data: glib::gpointer,
) {
    let style = DATAGRAMS;
    // SAFETY: pointers are checked before they are read.
    unsafe {
        glue::guard(null_mut(), false, || {
            let n = n_datagrams as usize;
            if !batch_preconditions(&style, socket, !datagrams.is_null(), n, cancellable, null_mut()) {
                return false;
            }
            return_val_if_fail!(style, false, "address == NULL || G_IS_SOCKET_ADDRESS (address)" =>
                address.is_null() || is_a(address.cast(), gio::g_socket_address_get_type()));
            return_val_if_fail!(style, false, "datagrams[i] != NULL" => (0..n).all(|i| !(*datagrams.add(i)).is_null()));
            let bytes: Vec<_> = (0..n).map(|i| glib::g_bytes_ref(*datagrams.add(i))).collect();
            if !address.is_null() {
                gobject::g_object_ref(address.cast());
            }
            start(socket, Kind::Datagrams { address, bytes }, n, flags, io_priority, cancellable, callback, user_data);
            true
        });
    }
}

/// See `gsend_socket_send_messages_async`.
///
/// # Safety
/// `messages` is NULL or points to `num_messages` GOutputMessages that stay
/// valid until the callback; the other arguments follow GIO's conventions.
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn socket_send_messages_async(
    socket: *mut gio::GSocket,
    messages: *mut gio::GOutputMessage,
    num_messages: c_uint,
    flags: c_int,
    io_priority: c_int,
    cancellable: *mut gio::GCancellable,
    callback: gio::GAsyncReadyCallback,
    user_data: glib::gpointer,
) {
    let style = MESSAGES;
    // SAFETY: pointers are checked before they are read.
    unsafe {
        glue::guard(null_mut(), false, || {
            let n = num_messages as usize;
            if !batch_preconditions(&style, socket, !messages.is_null(), n, cancellable, null_mut()) {
                return false;
            }
            if n > 0 {
                if let Err(DescribeError::Programming(expr)) = message::precheck(messages, n) {
                    style.critical(expr);
                    return false;
                }
            }
            return_val_if_fail!(style, false, "messages[i].address == NULL || G_IS_SOCKET_ADDRESS (messages[i].address)" =>
            (0..n).all(|i| {
                let a = (*messages.add(i)).address;
                a.is_null() || is_a(a.cast(), gio::g_socket_address_get_type())
            }));
            start(socket, Kind::Messages { messages }, n, flags, io_priority, cancellable, callback, user_data);
            true
        });
    }
}

/// The finish of either async function.
///
/// # Safety
/// GIO's conventions for `_finish` functions.
unsafe fn finish(
    socket: *mut gio::GSocket,
    result: *mut gio::GAsyncResult,
    error: *mut *mut GError,
    tag: *const u8,
    style: Style,
) -> c_int {
    // SAFETY: pointers are checked before they are read.
    unsafe {
        glue::guard(error, -1, || {
            return_val_if_fail!(style, -1, "G_IS_SOCKET (socket)" => is_a(socket.cast(), socket_type()));
            return_val_if_fail!(style, -1, "g_task_is_valid (result, socket)" =>
                gio::g_task_is_valid(result.cast(), socket.cast()) != 0);
            return_val_if_fail!(style, -1, "g_task_get_source_tag (G_TASK (result)) == the _async function" =>
                gio::g_task_get_source_tag(result.cast()) == tag as glib::gpointer);
            return_val_if_fail!(style, -1, "error == NULL || *error == NULL" => error.is_null() || (*error).is_null());
            gio::g_task_propagate_int(result.cast(), error) as c_int
        })
    }
}

/// See `gsend_socket_send_datagrams_finish`.
///
/// # Safety
/// GIO's conventions for `_finish` functions.
pub unsafe extern "C" fn socket_send_datagrams_finish(
    socket: *mut gio::GSocket,
    result: *mut gio::GAsyncResult,
    error: *mut *mut GError,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { finish(socket, result, error, &TAG_DATAGRAMS, DATAGRAMS_FINISH) }
}

/// See `gsend_socket_send_messages_finish`.
///
/// # Safety
/// GIO's conventions for `_finish` functions.
pub unsafe extern "C" fn socket_send_messages_finish(
    socket: *mut gio::GSocket,
    result: *mut gio::GAsyncResult,
    error: *mut *mut GError,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { finish(socket, result, error, &TAG_MESSAGES, MESSAGES_FINISH) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_or_prefers_the_count() {
        assert!(matches!(count_or(3, gio::G_IO_ERROR_CLOSED, "x"), Outcome::Count(3)));
        match count_or(0, gio::G_IO_ERROR_TIMED_OUT, "Socket I/O timed out") {
            Outcome::Error(e) => {
                // SAFETY: an owned, set GError.
                unsafe {
                    assert_eq!((*e).code, gio::G_IO_ERROR_TIMED_OUT);
                    glib::g_error_free(e);
                }
            }
            Outcome::Count(_) => panic!("no count expected"),
        }
    }

    #[test]
    fn the_tags_differ() {
        assert_ne!(std::ptr::addr_of!(TAG_DATAGRAMS), std::ptr::addr_of!(TAG_MESSAGES));
    }

    #[test]
    fn quark_is_stable() {
        assert_eq!(quark(), quark());
        assert_ne!(quark(), 0);
    }
}
