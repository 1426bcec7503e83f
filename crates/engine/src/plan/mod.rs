//! Planning: a batch of datagram descriptions becomes an array of kernel
//! message headers (`mmsghdr`), with runs of equal datagrams to the same
//! destination coalesced into one UDP GSO send.
//!
//! Headers are written as messages are pushed, in one pass: there is no
//! second pass over the batch before it is sent. A header points at
//! - the caller's own array of gather vectors (`iovec`s) for a message on
//!   its own, and for a run whose messages' vectors follow one another in
//!   the caller's memory (the usual layout: one array of vectors for the
//!   batch); only a run whose vectors are scattered gets them copied into
//!   the scratch space, so that they are contiguous;
//! - a destination address in the scratch space or the cross-call cache;
//! - control data in the scratch space: the message's own, or a run's
//!   `UDP_SEGMENT` block.
//!
//! The payload buffers are opaque to Rust: their addresses are handed to the
//! kernel and never dereferenced here. The vector arrays are read only to
//! copy a scattered run or to split a run the kernel refused; that is why
//! [`Scratch::push`] is `unsafe`: the arrays must outlive the chunk.
//!
//! Where a scratch buffer grows while a chunk is planned, the headers that
//! point into it are moved along with it (vectors and `UDP_SEGMENT` blocks
//! at once, addresses and control data before the chunk is sent, in
//! [`Scratch::plan`]).
//!
//! Memory: what a chunk of [`CHUNK`] messages needs in any case (headers,
//! entries, segment blocks, [`CHUNK`] copied vectors) is reserved before the
//! chunk, fallibly ([`Scratch::try_reserve_chunk`]); splitting a run takes
//! no memory. What depends on the messages grows while they are pushed,
//! fallibly too (`crate::grow`): addresses, control data, vectors copied
//! beyond the first [`CHUNK`]. A vector copy that would only have let a
//! message join a run is skipped (the message gets a header of its own); a
//! message that cannot be planned without the memory is not added, and
//! [`Scratch::ran_short`] tells the send loop to end the chunk before it.
//!
//! The planner is split by concern; every part adds its own `impl Scratch`
//! block and unit tests:
//! - this file: the types (`Dest`, `Message`, `GsoPolicy`, `Entry`, `Run`,
//!   `Scratch`) and a chunk's life (begin, reserve, limits);
//! - `plan/dest.rs`: destination codes and the addresses behind them;
//! - `plan/header.rs`: kernel headers, `UDP_SEGMENT` blocks, keeping pointers right;
//! - `plan/run.rs`: pushing messages and growing runs (the hot path);
//! - `plan/uniform.rs`: uniform batches planned at once;
//! - `plan/split.rs`: splitting refused runs into plain headers;
//! - `plan/report.rs`: the bytes sent per message;
//! - `plan/view.rs`: the test view of a finished plan.

use crate::addrcache::AddrCache;
use crate::cmsg;
use crate::control::ControlBuf;
pub use crate::sockaddr::SockAddr;

mod dest;
mod header;
mod report;
mod run;
mod split;
#[cfg(test)]
mod testkit;
mod uniform;
mod view;

use dest::{addr_of, dest_code, name_of, same_addr, CACHED, CONNECTED};
use header::{header_vectors, SegmentCmsg, EMPTY_HDR};
pub use view::{HeaderView, Plan};

/// Most messages planned at once (the kernel's `UIO_MAXIOV`, which also
/// bounds `sendmmsg`'s vector and one message's gather vectors).
pub const CHUNK: usize = 1024;

/// Where a datagram goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    /// The socket's connected peer (no address in the header).
    Connected,
    /// An address stored in the scratch space, by index.
    Addr(u32),
    /// An address in the cross-call cache, by slot (see
    /// [`Scratch::cached_addr`]).
    Cached(u32),
}

/// One datagram to plan.
pub struct Message<'a> {
    /// Destination.
    pub dest: Dest,
    /// Gather vectors, in order. The kernel header points at this array
    /// (see [`Scratch::push`] for how long it must live).
    pub iov: &'a [libc::iovec],
    /// This message's control data: `(offset, length)` in the scratch
    /// [`ControlBuf`], or `None`.
    pub control: Option<(usize, usize)>,
    /// Total payload bytes (sum of the vectors' lengths; the caller checked
    /// that it does not overflow).
    pub len: usize,
}

/// When runs may be coalesced into GSO sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GsoPolicy {
    /// Coalescing allowed at all (a UDP socket with GSO not turned off).
    pub enabled: bool,
    /// Most segments in one send (the kernel's `UDP_MAX_SEGMENTS`).
    pub max_segments: usize,
    /// Most payload bytes in one send (an IP datagram's limit).
    pub max_bytes: usize,
}

impl GsoPolicy {
    /// No coalescing.
    pub const OFF: GsoPolicy = GsoPolicy { enabled: false, max_segments: 1, max_bytes: 0 };
    /// The kernel's limits for UDP over IPv4 and IPv6 (64 segments, the
    /// largest IPv4 UDP payload).
    pub const UDP: GsoPolicy = GsoPolicy { enabled: true, max_segments: 64, max_bytes: 65507 };
}

impl Default for GsoPolicy {
    fn default() -> Self {
        GsoPolicy::OFF
    }
}

/// Largest GSO segment: `UDP_SEGMENT` takes a 16-bit size.
const MAX_SEGMENT: usize = u16::MAX as usize;

/// `Entry::ctl` when the header carries no control data.
const NO_CTL: u32 = u32::MAX;

/// What the planner keeps of one kernel header: `count` consecutive
/// messages from `first`.
///
/// A GSO entry (`count > 1`) keeps no record of its messages: they all
/// have `seg` bytes but the last, which has what is left of `total`, and
/// their vectors are consecutive in the header's vector array.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// Index (within the chunk) of the first message.
    pub first: usize,
    /// How many messages (more than one only for a GSO send).
    pub count: usize,
    /// Segment size of a GSO send (the first message's length).
    seg: usize,
    /// Payload bytes of all its messages.
    total: usize,
    /// Destination code of its messages.
    dest: u32,
    /// Control data: for a GSO send the slot of its `UDP_SEGMENT` block,
    /// for a single message the offset of its own in the [`ControlBuf`]
    /// (`NO_CTL`: none).
    ctl: u32,
}

impl Entry {
    /// Whether this entry is a coalesced GSO send.
    pub fn is_gso(&self) -> bool {
        self.count > 1
    }

    /// Payload bytes of its `j`th message.
    fn message_len(&self, j: usize) -> usize {
        if j + 1 < self.count {
            self.seg
        } else {
            self.total - self.seg * (self.count - 1)
        }
    }
}

/// The state of the last entry as a run that may grow.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    /// More segments may join it.
    open: bool,
    /// Its vectors were copied to the end of the scratch copy (they are the
    /// caller's otherwise).
    copied: bool,
    /// Payload bytes it may still take.
    budget: usize,
    /// Its destination's length and first eight bytes (see `same_addr`),
    /// so that a message to another destination is told apart without
    /// looking the run's up.
    namelen: libc::socklen_t,
    head: u64,
}

/// Reusable per-thread space for planning and sending one chunk.
#[derive(Default)]
pub struct Scratch {
    /// Native destination addresses, by [`Dest::Addr`] index.
    pub addrs: Vec<SockAddr>,
    /// Control data of the chunk.
    pub control: ControlBuf,
    /// Copied vectors of scattered runs.
    iov: Vec<libc::iovec>,
    /// `UDP_SEGMENT` blocks of the runs.
    segs: Vec<SegmentCmsg>,
    n_msgs: usize,
    pub(crate) entries: Vec<Entry>,
    pub(crate) hdrs: Vec<libc::mmsghdr>,
    gso: GsoPolicy,
    run: Run,
    /// Where `addrs` and `control` were when the headers' pointers into
    /// them were last known good (see [`Scratch::plan`]).
    addrs_base: usize,
    control_base: usize,
    /// Native addresses remembered across calls (see `addrcache`).
    pub cache: AddrCache,
    /// Most messages this chunk may hold.
    limit: usize,
    /// The counters of the socket this thread last sent on: the edge's
    /// memo (checked against the socket by `Counters::owner`).
    pub stats: crate::stats::Memo,
    /// Some run of the chunk was split up since it was planned (its
    /// segment block is still there).
    runs_undone: bool,
    /// What the sends of this thread noted for debug messages, until the
    /// edge takes it (see [`crate::stats::Notes`]).
    pub notes: crate::stats::Notes,
    /// Memory ran out for a message of this chunk (see
    /// [`Scratch::ran_short`]).
    short: bool,
}

impl Scratch {
    /// Starts a new chunk planned without coalescing: forgets everything,
    /// keeps the memory.
    pub fn begin(&mut self) {
        self.begin_with(GsoPolicy::OFF);
    }

    /// Starts a new chunk that will be planned with `gso`; messages are
    /// grouped as they are pushed.
    #[inline]
    pub fn begin_with(&mut self, gso: GsoPolicy) {
        self.addrs.clear();
        self.control.clear();
        self.iov.clear();
        self.segs.clear();
        self.n_msgs = 0;
        self.entries.clear();
        self.hdrs.clear();
        if self.hdrs.capacity() < CHUNK {
            self.entries.reserve(CHUNK);
            self.hdrs.reserve(CHUNK);
            self.segs.reserve(CHUNK / 2);
        }
        self.gso = gso;
        self.run = Run::default();
        self.addrs_base = self.addrs.as_ptr() as usize;
        self.control_base = self.control.base() as usize;
        self.limit = CHUNK;
        self.runs_undone = false;
        self.short = false;
        self.cache.begin_epoch();
    }

    /// Makes sure the memory a chunk of [`CHUNK`] messages needs up front
    /// (kernel headers, entries, segment blocks, copied vectors) is there,
    /// without aborting when it cannot be had: false if it could not be
    /// allocated. Once it is, it is kept: nothing to do on later calls.
    #[inline]
    pub fn try_reserve_chunk(&mut self) -> bool {
        if self.hdrs.capacity() >= CHUNK && self.iov.capacity() >= CHUNK {
            return true;
        }
        self.try_reserve_chunk_slow()
    }

    #[cold]
    fn try_reserve_chunk_slow(&mut self) -> bool {
        // Empty between chunks (this runs before `begin_with`), so nothing
        // points into them yet and they may move.
        self.hdrs.clear();
        self.entries.clear();
        self.segs.clear();
        self.iov.clear();
        // A segment block per run of two messages or more: at most half
        // the chunk's messages (`push_uniform` asks for one more).
        let got = self.entries.try_reserve_exact(CHUNK).is_ok()
            && self.segs.try_reserve_exact(CHUNK / 2 + 1).is_ok()
            && self.iov.try_reserve_exact(CHUNK).is_ok()
            && self.hdrs.try_reserve_exact(CHUNK).is_ok();
        if !got {
            // What was had is of no use without the rest: given back, so
            // that the failure can still be reported.
            self.release();
        }
        got
    }

    /// Gives back the memory the planning buffers hold (not the address
    /// cache): done when a send ends for lack of memory, so that reporting
    /// it (GLib allocates the error) and whatever the program does next
    /// have it. The next chunk reserves it again.
    #[cold]
    pub fn release(&mut self) {
        // An empty chunk, as `begin_with` leaves it (which would reserve).
        self.addrs = Vec::new();
        self.control = ControlBuf::default();
        self.iov = Vec::new();
        self.segs = Vec::new();
        self.entries = Vec::new();
        self.hdrs = Vec::new();
        self.n_msgs = 0;
        self.gso = GsoPolicy::OFF;
        self.run = Run::default();
        self.addrs_base = self.addrs.as_ptr() as usize;
        self.control_base = self.control.base() as usize;
        self.runs_undone = false;
    }

    /// Whether memory ran out for a message of this chunk: a describer
    /// that then fails has added nothing of the message (the scratch
    /// functions that grow a buffer add a message whole or not at all), and
    /// the chunk ends before it (see [`crate::send()`]).
    #[inline]
    pub fn ran_short(&self) -> bool {
        self.short
    }

    /// Notes that memory ran out for the message being pushed (see
    /// [`Scratch::ran_short`]); always `None`, for `?`.
    #[cold]
    pub(crate) fn short_of_memory<T>(&mut self) -> Option<T> {
        self.short = true;
        None
    }

    /// Appends one control message of `data_len` bytes to the chunk's
    /// control data (see [`ControlBuf::push_cmsg`]): the offsets of its
    /// header and of its data, or `None` if the buffer cannot grow (see
    /// [`Scratch::ran_short`]).
    pub fn push_cmsg(&mut self, level: i32, ty: i32, data_len: usize) -> Option<(usize, usize)> {
        match self.control.push_cmsg(level, ty, data_len) {
            Some(at) => Some(at),
            None => self.short_of_memory(),
        }
    }

    /// Sets how many messages this chunk may hold (at most [`CHUNK`]).
    #[inline]
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(CHUNK);
    }

    /// Bytes of heap memory this scratch space holds, its address cache
    /// included (what a sending thread keeps between calls).
    pub fn heap_bytes(&self) -> usize {
        fn bytes<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        bytes(&self.addrs)
            + self.control.heap_bytes()
            + bytes(&self.iov)
            + bytes(&self.segs)
            + bytes(&self.entries)
            + bytes(&self.hdrs)
            + self.cache.heap_bytes()
    }

    /// How many more messages this chunk may hold.
    pub fn room(&self) -> usize {
        self.limit.saturating_sub(self.n_msgs)
    }

    /// Whether this chunk coalesces runs (its policy has GSO on).
    pub fn coalesces(&self) -> bool {
        self.gso.enabled && self.gso.max_segments > 1
    }

    /// Whether some planned entry coalesces several messages.
    pub fn has_runs(&self) -> bool {
        self.entries.len() < self.n_msgs
    }

    /// Messages in the chunk.
    pub fn messages(&self) -> usize {
        self.n_msgs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_memory_is_reserved_up_front_and_kept() {
        let mut s = Scratch::default();
        assert_eq!(s.heap_bytes(), 0, "nothing before the first send");
        assert!(s.try_reserve_chunk());
        let reserved = s.heap_bytes();
        assert!(reserved >= CHUNK * std::mem::size_of::<libc::mmsghdr>());
        s.begin();
        assert!(s.addr_slot().is_some());
        s.begin();
        assert!(s.try_reserve_chunk());
        assert!(s.heap_bytes() >= reserved, "kept across chunks");
    }
}
