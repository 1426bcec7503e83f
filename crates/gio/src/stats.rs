//! Send statistics: each socket's counters, the process totals, and the
//! `GSEND_STATS=1` report at exit.
//!
//! A socket's counters are a block of atomics ([`Counters`]) found from
//! the socket by GObject qdata, and, on the send path, from the thread's
//! memo in its scratch space (`Scratch::stats`): a hit costs one load and
//! one compare (the block's `owner` is the socket). Blocks are never
//! freed: when a socket is finalized its counts move to the totals of
//! sockets gone, its block is zeroed and marked free, and the next new
//! socket takes it. So a memo that outlives its socket points at a live
//! block, whose `owner` no longer matches (or matches a new socket at the
//! same address, whose block it then is). Every block is on one list,
//! pushed without a lock, which the totals walk.
//!
//! What is counted (the definitions the documentation gives):
//! - datagrams sent: datagrams the kernel accepted;
//! - kernel send calls: `sendmsg`/`sendmmsg` calls that sent or failed
//!   (a full socket's `EAGAIN` included); a call interrupted by a signal
//!   and retried is not counted;
//! - datagrams in segmentation-offload runs: of the datagrams sent, those
//!   that went out as part of a segmented send;
//! - offload refusals: times the kernel refused a segmented send (after
//!   which the socket sends plainly, see docs/behaviour.md "Segmentation
//!   offload");
//! - waits: times a send found the socket full and waited for room;
//! - async sends queued: calls the async path queued ([`async_queued`]).

use std::ptr::null_mut;
use std::sync::atomic::{AtomicPtr, Ordering};

use gio_sys as gio;
use glib_sys as glib;
use gobject_sys as gobject;
use gsend_engine::plan::Scratch;
use gsend_engine::stats::{Counters, Figures, Memo};

use crate::glue;

/// Counts of sockets that were finalized.
static GONE: Counters = Counters::new();
/// Counts of sockets that could not get a block (memory was short).
static ORPHANS: Counters = Counters::new();
/// Every block ever made.
static BLOCKS: AtomicPtr<Counters> = AtomicPtr::new(null_mut());

pub(crate) fn quark() -> glib::GQuark {
    static Q: glue::Cached = glue::Cached::new();
    // SAFETY: a static NUL-terminated string.
    Q.get(|| unsafe { glib::g_quark_from_static_string(c"gsend-stats".as_ptr()) } as usize) as glib::GQuark
}

/// The counters of `socket`, from the thread's memo when it is for this
/// socket, else from the socket (made on its first use) and memoized.
///
/// # Safety
/// `socket` is a live GSocket.
#[inline(always)]
pub(crate) unsafe fn of(s: &mut Scratch, socket: *mut gio::GSocket) -> &'static Counters {
    let c = s.stats.0;
    if c.owner.load(Ordering::Relaxed) == socket as usize {
        return c;
    }
    // SAFETY: per the contract.
    let c = unsafe { attach(socket) };
    s.stats = Memo(c);
    c
}

/// Counts a kernel call of the fast path, about to be made (it counts as a
/// datagram sent unless [`fast_unsent`] says otherwise).
#[inline(always)]
pub(crate) fn fast_call(c: &Counters) {
    c.fast.fetch_add(1, Ordering::Relaxed);
}

/// Corrects the count of a fast-path call that sent nothing: it failed
/// (an error, a full socket), or a signal interrupted it (then it is no
/// kernel call either).
///
/// # Safety
/// `socket` is a live GSocket.
#[cold]
pub(crate) unsafe fn fast_unsent(socket: *mut gio::GSocket, interrupted: bool) {
    gsend_engine::with_scratch(|s| {
        // SAFETY: per the contract.
        let c = unsafe { of(s, socket) };
        if interrupted {
            c.fast.fetch_sub(1, Ordering::Relaxed);
        } else {
            c.fast_unsent.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// Counts `n` async sends queued on `socket` (the async path calls this
/// when it queues a call).
///
/// # Safety
/// `socket` is a live GSocket.
pub(crate) unsafe fn async_queued(socket: *mut gio::GSocket, n: u64) {
    // SAFETY: per the contract.
    gsend_engine::with_scratch(|s| unsafe { of(s, socket) }.async_queued.fetch_add(n, Ordering::Relaxed));
}

/// The block of `socket`, made and attached on first use.
///
/// # Safety
/// `socket` is a live GSocket.
#[cold]
#[inline(never)]
unsafe fn attach(socket: *mut gio::GSocket) -> &'static Counters {
    let q = quark();
    // SAFETY: socket is a GObject.
    let found = unsafe { gobject::g_object_get_qdata(socket.cast(), q) } as *const Counters;
    if !found.is_null() {
        // SAFETY: only blocks (never freed) are stored under this quark.
        return unsafe { &*found };
    }
    let Some(block) = claim(socket as usize) else { return &ORPHANS };
    // SAFETY: socket is a GObject; the notifier runs at its finalization
    // (or at once if this value is replaced, which compare-and-replace
    // from NULL never does).
    let stored = unsafe {
        gobject::g_object_replace_qdata(
            socket.cast(),
            q,
            null_mut(),
            (block as *const Counters).cast_mut().cast(),
            Some(retire),
            null_mut(),
        )
    } != 0;
    if stored {
        return block;
    }
    // Another thread attached one meanwhile: give ours back, use theirs.
    block.owner.store(0, Ordering::Release);
    // SAFETY: as above.
    let theirs = unsafe { gobject::g_object_get_qdata(socket.cast(), q) } as *const Counters;
    // SAFETY: as above.
    unsafe { theirs.as_ref() }.unwrap_or(&ORPHANS)
}

/// A free block, now owned by `owner`: a block of a socket gone, else a
/// new one (None if memory is short).
fn claim(owner: usize) -> Option<&'static Counters> {
    let mut p = BLOCKS.load(Ordering::Acquire);
    // SAFETY: every block on the list is a leaked, never-freed Counters.
    while let Some(b) = unsafe { p.as_ref() } {
        if b.owner.compare_exchange(0, owner, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
            return Some(b);
        }
        p = b.next.load(Ordering::Acquire);
    }
    let layout = std::alloc::Layout::new::<Counters>();
    // SAFETY: a non-zero-sized layout; a fallible allocation (Box::new
    // would abort when memory is short).
    let b = unsafe { std::alloc::alloc(layout) }.cast::<Counters>();
    if b.is_null() {
        return None;
    }
    // SAFETY: fresh memory of the right layout.
    unsafe { b.write(Counters::new()) };
    // SAFETY: initialized above, never freed.
    let block = unsafe { &*b };
    block.owner.store(owner, Ordering::Relaxed);
    let mut head = BLOCKS.load(Ordering::Acquire);
    loop {
        block.next.store(head, Ordering::Relaxed);
        match BLOCKS.compare_exchange_weak(head, b, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Some(block),
            Err(now) => head = now,
        }
    }
}

/// The qdata notifier: the socket is being finalized. Its counts join the
/// totals of sockets gone, and its block becomes free.
unsafe extern "C" fn retire(p: glib::gpointer) {
    // SAFETY: only blocks are stored under the quark.
    let b = unsafe { &*(p as *const Counters) };
    GONE.add(&b.take());
    b.owner.store(0, Ordering::Release);
}

/// The counts of `socket` (all zero before its first send).
///
/// # Safety
/// `socket` is a live GSocket.
pub unsafe fn socket_figures(socket: *mut gio::GSocket) -> Figures {
    // SAFETY: per the contract.
    let p = unsafe { gobject::g_object_get_qdata(socket.cast(), quark()) } as *const Counters;
    // SAFETY: only blocks are stored under the quark.
    unsafe { p.as_ref() }.map(Counters::figures).unwrap_or_default()
}

/// The process totals: every socket, open or gone.
pub fn totals() -> Figures {
    let mut f = GONE.figures();
    f += ORPHANS.figures();
    let mut p = BLOCKS.load(Ordering::Acquire);
    // SAFETY: every block on the list is a leaked, never-freed Counters.
    while let Some(b) = unsafe { p.as_ref() } {
        f += b.figures();
        p = b.next.load(Ordering::Acquire);
    }
    f
}

/// Words of `GSendStats`: the counters in their public order, then
/// reserved zeros.
pub const STATS_WORDS: usize = 16;

/// See `gsend_socket_get_stats`.
///
/// # Safety
/// `socket` is NULL or a GObject instance; `out` is NULL or points to
/// [`STATS_WORDS`] writable words.
pub unsafe extern "C" fn socket_get_stats(socket: *mut gio::GSocket, out: *mut [u64; STATS_WORDS]) {
    // SAFETY: socket is type-checked before use; out is checked for NULL.
    unsafe {
        glue::guard(null_mut(), (), || {
            if !socket.is_null() && !glue::is_a(socket.cast(), crate::socket::socket_type()) {
                glue::critical(glue::DOMAIN, c"gsend_socket_get_stats", c"socket == NULL || G_IS_SOCKET (socket)");
                return;
            }
            if out.is_null() {
                glue::critical(glue::DOMAIN, c"gsend_socket_get_stats", c"stats != NULL");
                return;
            }
            let f = if socket.is_null() { totals() } else { socket_figures(socket) };
            let mut words = [0u64; STATS_WORDS];
            words[..6].copy_from_slice(&[
                f.datagrams,
                f.calls,
                f.gso_datagrams,
                f.gso_refusals,
                f.waits,
                f.async_queued,
            ]);
            out.write(words);
        })
    }
}

/// Whether `GSEND_STATS=1` asks for the report at exit (read at load).
pub fn report_wanted() -> bool {
    static ON: glue::Cached = glue::Cached::new();
    glue::env_switch(&ON, c"GSEND_STATS", |v| v == c"1")
}

/// A fixed buffer that `write!` fills without allocating.
struct Line {
    buf: [u8; 512],
    len: usize,
}

impl std::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The report line for `f`, from the library `library`.
fn report_line(library: &str, f: &Figures) -> Line {
    use std::fmt::Write;
    let mut l = Line { buf: [0; 512], len: 0 };
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let _ = writeln!(
        l,
        "{library}[{pid}]: {} datagrams sent in {} kernel send calls; {} in segmentation-offload runs; \
         {} offload refusals; {} waits for a full socket; {} async sends queued",
        f.datagrams, f.calls, f.gso_datagrams, f.gso_refusals, f.waits, f.async_queued
    );
    l
}

/// Prints the process totals to stderr if `GSEND_STATS=1`: called from the
/// library's destructor, when the program exits (from any thread) or the
/// library is unloaded. Reads atomics and writes one line with `write(2)`:
/// no lock, no allocation.
pub fn report_at_exit(library: &str) {
    if !report_wanted() {
        return;
    }
    let l = report_line(library, &totals());
    // SAFETY: a valid buffer of the given length.
    let _ = unsafe { libc::write(2, l.buf.as_ptr().cast(), l.len) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_block_is_reused_after_its_socket_is_gone_and_totals_keep_its_counts() {
        // SAFETY: sockets of our own.
        unsafe {
            let s = gio::g_socket_new(
                gio::G_SOCKET_FAMILY_IPV4,
                gio::G_SOCKET_TYPE_DATAGRAM,
                gio::G_SOCKET_PROTOCOL_UDP,
                null_mut(),
            );
            assert_eq!(socket_figures(s), Figures::default());
            let before = GONE.figures();
            let c = gsend_engine::with_scratch(|sc| of(sc, s));
            assert_eq!(c.owner.load(Ordering::Relaxed), s as usize);
            for _ in 0..3 {
                fast_call(c);
            }
            fast_unsent(s, false);
            fast_unsent(s, true);
            async_queued(s, 2);
            let f = socket_figures(s);
            assert_eq!((f.datagrams, f.calls, f.async_queued), (1, 2, 2));
            gobject::g_object_unref(s.cast());
            assert_eq!(c.owner.load(Ordering::Relaxed), 0);
            // Counts of sockets gone only ever grow (other tests run at once).
            let after = GONE.figures();
            assert!(after.datagrams > before.datagrams && after.calls >= before.calls + 2);
            assert!(totals().async_queued >= 2);
        }
    }

    #[test]
    fn the_report_line_names_every_counter() {
        let f = Figures { datagrams: 1, calls: 2, gso_datagrams: 3, gso_refusals: 4, waits: 5, async_queued: 6 };
        let l = report_line("gsend", &f);
        let text = std::str::from_utf8(&l.buf[..l.len]).unwrap();
        assert!(text.starts_with("gsend["), "{text}");
        assert!(text.ends_with(
            ": 1 datagrams sent in 2 kernel send calls; 3 in segmentation-offload runs; \
             4 offload refusals; 5 waits for a full socket; 6 async sends queued\n"
        ));
    }
}
