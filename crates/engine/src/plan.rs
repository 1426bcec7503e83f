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

use crate::addrcache::AddrCache;
use crate::cmsg;
use crate::control::ControlBuf;
pub use crate::sockaddr::SockAddr;

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

/// Destination code of an entry: an address index, a cache slot with this
/// bit set, or `CONNECTED`.
const CONNECTED: u32 = u32::MAX;
const CACHED: u32 = 1 << 31;

fn dest_code(d: Dest) -> u32 {
    match d {
        Dest::Connected => CONNECTED,
        Dest::Addr(a) => a & !CACHED,
        Dest::Cached(slot) => slot | CACHED,
    }
}

/// The native address behind a destination code (not `CONNECTED`).
#[inline(always)]
fn addr_of<'a>(addrs: &'a [SockAddr], cache: &'a AddrCache, code: u32) -> &'a SockAddr {
    if code & CACHED != 0 {
        cache.slot(code & !CACHED)
    } else {
        &addrs[code as usize]
    }
}

/// The header name of a destination code.
#[inline(always)]
fn name_of(addrs: &[SockAddr], cache: &AddrCache, code: u32) -> (*mut libc::c_void, libc::socklen_t) {
    if code == CONNECTED {
        (std::ptr::null_mut(), 0)
    } else {
        addr_of(addrs, cache, code).name()
    }
}

/// Whether destination `b` is the same as the open run's, `a` (whose
/// length and first eight bytes are `run.namelen` and `run.head`).
#[inline(always)]
fn same_addr(addrs: &[SockAddr], cache: &AddrCache, run: &Run, a: u32, b: u32) -> bool {
    if a == b {
        return true;
    }
    if a == CONNECTED || b == CONNECTED {
        return false;
    }
    let y = addr_of(addrs, cache, b);
    // Family, port and (for IPv4) the address are in the first 8 bytes:
    // different destinations almost always differ there.
    y.len == run.namelen && y.head() == run.head && y.bytes() == addr_of(addrs, cache, a).bytes()
}

/// Largest GSO segment: `UDP_SEGMENT` takes a 16-bit size.
const MAX_SEGMENT: usize = u16::MAX as usize;

/// Bytes of a `UDP_SEGMENT` block: `CMSG_SPACE(2)`.
const SEGMENT_SPACE: usize = cmsg::space(2);

/// The `UDP_SEGMENT` control block of a GSO send: one `cmsghdr` and its
/// 16-bit segment size, padded to `CMSG_SPACE(2)`, as [`cmsg::encode`]
/// lays it out; aligned for the header.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct SegmentCmsg([u8; SEGMENT_SPACE]);

impl SegmentCmsg {
    #[inline(always)]
    fn new(seg: u16) -> SegmentCmsg {
        let mut b = [0; SEGMENT_SPACE];
        cmsg::encode(&mut b, libc::SOL_UDP, libc::UDP_SEGMENT, &seg.to_ne_bytes());
        SegmentCmsg(b)
    }

    fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

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

/// The limits of a run's growth (see `take_segments`).
#[derive(Clone, Copy)]
struct Segments {
    /// Segment size.
    seg: usize,
    /// Payload bytes the run may still take.
    budget: usize,
    /// Full segments that fit in the budget (at most `most`).
    full: usize,
    /// Messages the run may still take.
    most: usize,
}

/// Takes the messages `peek` describes as segments of a run: full-size
/// ones while they fit, then perhaps a shorter last one. Without `COPY` a
/// vector joins only where it lies, at `next` (following the run's); with
/// `COPY` it may lie anywhere and is copied into `spare`. Returns how many
/// were taken and the shorter last one's length (0: none).
///
/// # Safety
/// As for [`Scratch::extend_simple`]: a non-null pointer from `peek` points
/// to a readable vector. Without `COPY`, `next` is not null.
#[inline(always)]
unsafe fn take_segments<const COPY: bool>(
    mut peek: impl FnMut(usize) -> Option<*const libc::iovec>,
    mut next: *const libc::iovec,
    spare: &mut [std::mem::MaybeUninit<libc::iovec>],
    l: Segments,
) -> (usize, usize) {
    // Only readable pointers join: non-null ones, or ones equal to `next`.
    let joins = |p: *const libc::iovec, next: *const libc::iovec| if COPY { !p.is_null() } else { p == next };
    let mut n = 0;
    if !COPY {
        // Four at a time while all four join (a uniform batch, the usual
        // case): the loop's own bookkeeping once per four messages.
        while n + 4 <= l.full {
            let all = (0..4).all(|j| {
                let want = next.wrapping_add(j);
                // SAFETY: `want` equals a pointer `peek` gave, so it is
                // readable (see `joins`).
                matches!(peek(n + j), Some(p) if p == want && unsafe { (*p).iov_len } == l.seg)
            });
            if !all {
                break;
            }
            n += 4;
            next = next.wrapping_add(4);
        }
    }
    while n < l.full {
        match peek(n) {
            // SAFETY: `joins` admits only readable pointers.
            Some(p) if joins(p, next) && unsafe { (*p).iov_len } == l.seg => {
                if COPY {
                    // SAFETY: as above.
                    spare[n].write(unsafe { *p });
                }
                n += 1;
                next = next.wrapping_add(1);
            }
            _ => break,
        }
    }
    if n < l.most {
        if let Some(p) = peek(n) {
            if joins(p, next) {
                // SAFETY: as above.
                let v = unsafe { *p };
                if v.iov_len != 0 && v.iov_len < l.seg && v.iov_len <= l.budget - n * l.seg {
                    if COPY {
                        spare[n].write(v);
                    }
                    return (n + 1, v.iov_len);
                }
            }
        }
    }
    (n, 0)
}

/// The `n` vectors a kernel header points at.
///
/// # Safety
/// `p` and `n` come from a header this planner wrote: its vector array is
/// the scratch copy or the caller's, valid per [`Scratch::push`]'s contract.
unsafe fn header_vectors<'a>(p: *const libc::iovec, n: usize) -> &'a [libc::iovec] {
    if n == 0 {
        return &[];
    }
    // SAFETY: per the contract.
    unsafe { std::slice::from_raw_parts(p, n) }
}

const EMPTY_HDR: libc::mmsghdr = libc::mmsghdr {
    msg_hdr: libc::msghdr {
        msg_name: std::ptr::null_mut(),
        msg_namelen: 0,
        msg_iov: std::ptr::null_mut(),
        msg_iovlen: 0,
        msg_control: std::ptr::null_mut(),
        msg_controllen: 0,
        msg_flags: 0,
    },
    msg_len: 0,
};

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
    /// Spare space for splitting runs (kept to avoid allocating).
    spare_entries: Vec<Entry>,
    spare_hdrs: Vec<libc::mmsghdr>,
    /// Native addresses remembered across calls (see `addrcache`).
    pub cache: AddrCache,
    /// Most messages this chunk may hold.
    limit: usize,
}

/// Read access to a finished plan, for tests and fuzzing.
pub struct Plan<'s> {
    scratch: &'s Scratch,
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
        self.entries.try_reserve_exact(CHUNK).is_ok()
            && self.segs.try_reserve_exact(CHUNK / 2 + 1).is_ok()
            && self.iov.try_reserve_exact(CHUNK).is_ok()
            && self.hdrs.try_reserve_exact(CHUNK).is_ok()
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
            + bytes(&self.spare_entries)
            + bytes(&self.spare_hdrs)
            + self.cache.heap_bytes()
    }

    /// How many more messages this chunk may hold.
    pub fn room(&self) -> usize {
        self.limit.saturating_sub(self.n_msgs)
    }

    /// Stores a native address and returns its destination handle.
    pub fn push_addr(&mut self, addr: SockAddr) -> Dest {
        self.addrs.push(addr);
        Dest::Addr((self.addrs.len() - 1) as u32)
    }

    /// The destination of the address cached under `key`, if any. The
    /// cache entry stays put until the chunk is sent, and the kernel header
    /// points at it: nothing is copied.
    #[inline]
    pub fn cached_addr(&mut self, key: usize) -> Option<Dest> {
        self.cache.lookup(key).map(Dest::Cached)
    }

    /// A slot for an address the caller fills in place; returns its handle
    /// and the slot, or `None` if the memory for it cannot be had.
    pub fn addr_slot(&mut self) -> Option<(Dest, &mut SockAddr)> {
        // Headers point into `addrs` by offset until `plan` (see
        // `addrs_base`): growing it here is fine.
        self.addrs.try_reserve(1).ok()?;
        self.addrs.push(SockAddr::default());
        let i = self.addrs.len() - 1;
        Some((Dest::Addr(i as u32), &mut self.addrs[i]))
    }

    /// Drops the most recent address (its conversion failed; no message
    /// refers to it).
    pub fn pop_addr(&mut self) {
        self.addrs.pop();
    }

    /// Adds a message to the chunk: it joins the run before it if it can,
    /// or gets a header of its own.
    ///
    /// # Safety
    /// The array `m.iov` (not only the buffers its vectors point to) must
    /// stay valid and unchanged until the chunk is sent or the next
    /// [`Scratch::begin_with`]: the kernel header points at it, and
    /// planning may read it again (to copy or split a run).
    #[inline(always)]
    pub unsafe fn push(&mut self, m: Message<'_>) {
        // SAFETY: forwarded contract.
        unsafe { self.push_code(dest_code(m.dest), m.iov, m.control, m.len) }
    }

    /// [`Scratch::push`] with a destination code.
    ///
    /// # Safety
    /// As for [`Scratch::push`].
    #[inline(always)]
    unsafe fn push_code(&mut self, dest: u32, iov: &[libc::iovec], control: Option<(usize, usize)>, len: usize) {
        if control.is_none() && self.run.open && self.try_join::<true>(dest, iov, len) {
            return;
        }
        let ctl = self.ctl_fields(control);
        self.push_entry(dest, iov.as_ptr(), iov.len(), ctl, len);
    }

    /// Adds a message whose vector array lives no longer than this call:
    /// its vectors are copied into the scratch space.
    pub fn push_copied(&mut self, m: Message<'_>) {
        let dest = dest_code(m.dest);
        if m.control.is_none() && self.run.open && self.try_join::<false>(dest, m.iov, m.len) {
            return;
        }
        let ctl = self.ctl_fields(m.control);
        self.reserve_iov(m.iov.len());
        let start = self.iov.len();
        self.iov.extend_from_slice(m.iov);
        let copy = self.iov[start..].as_ptr();
        self.push_entry(dest, copy, m.iov.len(), ctl, m.len);
        // Its vectors are the last of the copy: a run may grow there.
        self.run.copied = true;
    }

    /// Whether this chunk coalesces runs (its policy has GSO on).
    pub fn coalesces(&self) -> bool {
        self.gso.enabled && self.gso.max_segments > 1
    }

    /// Adds `n` messages of the most common batch shape at once, as the
    /// first messages of the chunk: all to `dest`, without control data,
    /// message `i` made of the one vector `iov[i]` (the vectors lie one
    /// after the other), each `seg` bytes long but the last, which is
    /// `last` bytes. The plan is the same as pushing them one by one, for
    /// a fraction of the work: runs are cut by arithmetic, not message by
    /// message. Returns false, adding nothing, when the chunk is not empty,
    /// does not coalesce, has no room for `n`, or the sizes do not make runs
    /// (`0 < last <= seg`, at least two segments per run): push them one by
    /// one then.
    ///
    /// # Safety
    /// `iov` points to `n` readable vectors whose lengths are as stated,
    /// and the array stays valid as for [`Scratch::push`].
    #[inline(always)]
    pub unsafe fn push_uniform(
        &mut self,
        dest: Dest,
        iov: *const libc::iovec,
        n: usize,
        seg: usize,
        last: usize,
    ) -> bool {
        let gso = self.gso;
        let cap = gso.max_bytes.checked_div(seg).map_or(0, |full| full.min(gso.max_segments));
        if self.n_msgs != 0
            || !gso.enabled
            || n < 2
            || n > self.room()
            || last == 0
            || last > seg
            || seg > MAX_SEGMENT
            || cap < 2
        {
            return false;
        }
        // At most one segment block per two messages; headers point at
        // them, so they must not move while runs are added.
        self.segs.reserve(n / 2 + 1);
        let code = dest_code(dest);
        let (name, namelen, head) = if code == CONNECTED {
            (std::ptr::null_mut(), 0, 0)
        } else {
            let a = addr_of(&self.addrs, &self.cache, code);
            let (name, namelen) = a.name();
            (name, namelen, a.head())
        };
        // The messages of full size (all if the last is too).
        let full = if last == seg { n } else { n - 1 };
        let mut first = 0;
        let (mut count, mut total, mut len) = (0, 0, 0);
        while first < n {
            // Full segments while they fit, then the shorter last one if
            // it comes next and fits (as `try_join` decides one by one).
            let take = cap.min(full - first.min(full));
            (count, total, len) = if take == 0 {
                (1, last, last)
            } else if first + take + 1 == n && full < n && take < gso.max_segments && last <= gso.max_bytes - take * seg
            {
                (take + 1, take * seg + last, seg)
            } else {
                (take, take * seg, seg)
            };
            let mut hdr = EMPTY_HDR;
            hdr.msg_hdr.msg_name = name;
            hdr.msg_hdr.msg_namelen = namelen;
            hdr.msg_hdr.msg_iov = iov.wrapping_add(first).cast_mut();
            hdr.msg_hdr.msg_iovlen = count;
            let mut ctl = NO_CTL;
            if count > 1 {
                ctl = self.segs.len() as u32;
                // Reserved above: the blocks do not move.
                self.segs.push(SegmentCmsg::new(len as u16));
                hdr.msg_hdr.msg_control = (self.segs.last().expect("pushed") as *const SegmentCmsg).cast_mut().cast();
                hdr.msg_hdr.msg_controllen = std::mem::size_of::<SegmentCmsg>();
            }
            self.entries.push(Entry { first, count, seg: len, total, dest: code, ctl });
            self.hdrs.push(hdr);
            first += count;
        }
        self.n_msgs = n;
        if self.room() == 0 {
            // Nothing more joins this chunk.
            self.run.open = false;
            return true;
        }
        // The last run stays open as `try_join` would leave it: a run of
        // one, or one that neither ended shorter nor reached the count.
        let ended_short = count > 1 && total < count * len;
        self.run = Run {
            open: count == 1 || (!ended_short && count < gso.max_segments),
            copied: false,
            budget: gso.max_bytes.saturating_sub(total),
            namelen,
            head,
        };
        true
    }

    /// [`Scratch::push_uniform`] for vectors that lie anywhere, taking the
    /// longest uniform start of `n` messages: `vector(i)` gives message
    /// `i`'s one vector, or `None` if the message is not of the shape. The
    /// vectors are copied into the scratch space as they come, as long as
    /// they are as long as the first; a shorter one (not empty) is taken
    /// and ends the batch. Returns how many messages were added: 0 when
    /// fewer than two are uniform or where `push_uniform` refuses.
    pub fn push_uniform_copied(
        &mut self,
        dest: Dest,
        n: usize,
        mut vector: impl FnMut(usize) -> Option<libc::iovec>,
    ) -> usize {
        if self.n_msgs != 0 || !self.coalesces() || n < 2 || n > self.room() {
            return 0;
        }
        self.reserve_iov(n);
        let base = self.iov.len();
        // Written into reserved space, the length set once (`Vec::push`
        // here measured ~7 more instructions per message, callgrind).
        let spare = &mut self.iov.spare_capacity_mut()[..n];
        let Some(head) = vector(0) else { return 0 };
        let seg = head.iov_len;
        spare[0].write(head);
        let mut taken = 1;
        for slot in &mut spare[1..] {
            match vector(taken) {
                Some(v) if v.iov_len == seg => {
                    slot.write(v);
                    taken += 1;
                }
                Some(v) if v.iov_len < seg && v.iov_len > 0 => {
                    slot.write(v);
                    taken += 1;
                    break;
                }
                _ => break,
            }
        }
        // SAFETY: the first `taken` spare elements were written above.
        unsafe { self.iov.set_len(base + taken) };
        let last = self.iov[base + taken - 1].iov_len;
        let copy = self.iov[base..].as_ptr();
        // SAFETY: `copy` holds the `taken` vectors just read, each as long
        // as stated; it stays until the next `begin_with` (headers pointing
        // into it move with it: `reserve_iov`).
        if taken >= 2 && unsafe { self.push_uniform(dest, copy, taken, seg, last) } {
            // The last run's vectors end the copy: it may grow there.
            self.run.copied = true;
            taken
        } else {
            self.iov.truncate(base);
            0
        }
    }

    /// The header fields of a message's own control data.
    #[inline(always)]
    fn ctl_fields(&mut self, control: Option<(usize, usize)>) -> Option<(u32, *mut libc::c_void, usize)> {
        control.map(|(off, len)| (off as u32, self.control.ptr_at(off), len))
    }

    /// Writes a header of its own for the next message (a run of one).
    #[inline(always)]
    fn push_entry(
        &mut self,
        dest: u32,
        iov: *const libc::iovec,
        iov_len: usize,
        ctl: Option<(u32, *mut libc::c_void, usize)>,
        len: usize,
    ) {
        let first = self.n_msgs;
        self.n_msgs += 1;
        let addr = (dest != CONNECTED).then(|| addr_of(&self.addrs, &self.cache, dest));
        let (name, namelen) = addr.map_or((std::ptr::null_mut(), 0), SockAddr::name);
        let (ctl_code, control, controllen) = ctl.unwrap_or((NO_CTL, std::ptr::null_mut(), 0));
        self.entries.push(Entry { first, count: 1, seg: len, total: len, dest, ctl: ctl_code });
        self.hdrs.push(libc::mmsghdr {
            msg_hdr: libc::msghdr {
                msg_name: name,
                msg_namelen: namelen,
                msg_iov: if iov_len > 0 { iov.cast_mut() } else { std::ptr::null_mut() },
                msg_iovlen: iov_len,
                msg_control: control,
                msg_controllen: controllen,
                msg_flags: 0,
            },
            msg_len: 0,
        });
        let gso = &self.gso;
        if gso.enabled && ctl.is_none() && len > 0 && len <= MAX_SEGMENT && gso.max_segments > 1 {
            self.run = Run {
                open: true,
                copied: false,
                budget: gso.max_bytes.saturating_sub(len),
                namelen,
                head: addr.map_or(0, SockAddr::head),
            };
        } else {
            // Nothing may join it: the rest of the run state is not read.
            self.run.open = false;
        }
    }

    /// Adds a message (`len` bytes, vectors `iov`, no control data, to
    /// `dest`) to the open run if it may join it as a GSO segment. With
    /// `POINT` the run may point at `iov` where it lies (see
    /// [`Scratch::append_iov`]).
    #[inline(always)]
    fn try_join<const POINT: bool>(&mut self, dest: u32, iov: &[libc::iovec], len: usize) -> bool {
        let k = self.entries.len() - 1;
        let e = &self.entries[k];
        // The destination first: in a batch to many addresses it is what
        // differs.
        if !same_addr(&self.addrs, &self.cache, &self.run, e.dest, dest)
            || len == 0
            || len > e.seg
            || len > self.run.budget
            || self.hdrs[k].msg_hdr.msg_iovlen + iov.len() > CHUNK
        {
            return false;
        }
        self.append_iov::<POINT>(k, iov);
        self.n_msgs += 1;
        self.run.budget -= len;
        let e = &mut self.entries[k];
        e.count += 1;
        e.total += len;
        let (count, seg) = (e.count, e.seg);
        if count == 2 {
            self.attach_segment(k);
        }
        if len < seg || count >= self.gso.max_segments {
            self.run.open = false;
        }
        true
    }

    /// Appends `iov` to the vectors of run `k` (the last entry). With
    /// `POINT`, when the run's vectors are the caller's and `iov` follows
    /// them in memory, the run simply takes them in; otherwise they are
    /// copied.
    fn append_iov<const POINT: bool>(&mut self, k: usize, iov: &[libc::iovec]) {
        let h = self.hdrs[k].msg_hdr;
        if POINT && !self.run.copied && std::ptr::eq(iov.as_ptr(), h.msg_iov.wrapping_add(h.msg_iovlen)) {
            // The caller's vectors go on where the run's end.
            self.hdrs[k].msg_hdr.msg_iovlen += iov.len();
            return;
        }
        self.reserve_iov(h.msg_iovlen + iov.len());
        if !self.run.copied {
            // Move the run's vectors (the caller's) to the end of the copy.
            let start = self.iov.len();
            // SAFETY: the run's header, written by this planner.
            self.iov.extend_from_slice(unsafe { header_vectors(h.msg_iov, h.msg_iovlen) });
            self.hdrs[k].msg_hdr.msg_iov = self.iov[start..].as_mut_ptr();
            self.run.copied = true;
        }
        self.iov.extend_from_slice(iov);
        self.hdrs[k].msg_hdr.msg_iovlen += iov.len();
    }

    /// Makes room for `n` more copied vectors, moving the headers that point
    /// into the copy if it moves.
    fn reserve_iov(&mut self, n: usize) {
        if self.iov.capacity() - self.iov.len() >= n {
            return;
        }
        let old = self.iov.as_ptr() as usize;
        let old_bytes = self.iov.len() * std::mem::size_of::<libc::iovec>();
        self.iov.reserve(n.max(CHUNK));
        let new = self.iov.as_mut_ptr();
        if new as usize != old {
            for h in &mut self.hdrs {
                let off = (h.msg_hdr.msg_iov as usize).wrapping_sub(old);
                if off < old_bytes {
                    h.msg_hdr.msg_iov = new.wrapping_byte_add(off);
                }
            }
        }
    }

    /// Gives run `k` its `UDP_SEGMENT` block.
    fn attach_segment(&mut self, k: usize) {
        let slot = self.segs.len();
        let moves = slot == self.segs.capacity();
        self.segs.push(SegmentCmsg::new(self.entries[k].seg as u16));
        self.entries[k].ctl = slot as u32;
        let point = |segs: &[SegmentCmsg], e: &Entry, h: &mut libc::mmsghdr| {
            h.msg_hdr.msg_control = (&segs[e.ctl as usize] as *const SegmentCmsg).cast_mut().cast();
            h.msg_hdr.msg_controllen = std::mem::size_of::<SegmentCmsg>();
        };
        if moves {
            for (e, h) in self.entries.iter().zip(self.hdrs.iter_mut()) {
                if e.count > 1 {
                    point(&self.segs, e, h);
                }
            }
        } else {
            point(&self.segs, &self.entries[k], &mut self.hdrs[k]);
        }
    }

    /// Adds the messages that follow the last one pushed, as long as each
    /// has one vector and no control data (the usual shape): `peek(k)`
    /// gives the `k`th following message's destination key and where its
    /// only vector is, or `None` for a message of another shape (left to
    /// [`Scratch::push`]). A key stands for a destination within the chunk:
    /// equal keys, the same destination. `head_key` is the last pushed
    /// message's; key 0 is the connected peer; any other key is looked up
    /// in the cross-call cache (see [`Scratch::cached_addr`]), and a key it
    /// does not hold stops the walk (the caller converts that address).
    /// A null vector pointer stops too. Messages are grouped exactly as
    /// [`Scratch::push`] would group them. Returns how many were added (at
    /// most [`Scratch::room`]).
    ///
    /// This is the hot path: per message of a run, nothing but its key,
    /// where its vector lies and its length is checked.
    ///
    /// # Safety
    /// A non-null pointer from `peek` points to a readable `iovec`, which,
    /// as for [`Scratch::push`], stays valid and unchanged until the chunk
    /// is sent.
    #[inline(always)]
    pub unsafe fn extend_simple(
        &mut self,
        head_key: usize,
        mut peek: impl FnMut(usize) -> Option<(usize, *const libc::iovec)>,
    ) -> usize {
        let Some(last) = self.entries.last() else { return 0 };
        let (mut key, mut dest) = (head_key, last.dest);
        // Every message added takes one place of the room.
        let room = self.room();
        let mut done = 0;
        while done < room {
            let Some((next_key, p)) = peek(done) else { break };
            if p.is_null() {
                break;
            }
            if next_key == key {
                if self.run.open {
                    let same = |k: usize| match peek(done + k) {
                        Some((kk, p)) if kk == key => Some(p),
                        _ => None,
                    };
                    // SAFETY: forwarded contract.
                    let grown = unsafe { self.grow_run(same) };
                    if grown > 0 {
                        done += grown;
                        continue;
                    }
                }
            } else {
                dest = if next_key == 0 {
                    CONNECTED
                } else {
                    match self.cache.lookup(next_key) {
                        Some(slot) => slot | CACHED,
                        None => break,
                    }
                };
                key = next_key;
            }
            // SAFETY: not null, so a readable vector that stays valid, per
            // the contract.
            let one = unsafe { std::slice::from_raw_parts(p, 1) };
            if one[0].iov_len > isize::MAX as usize {
                // Too large for the kernel: the caller reports it.
                break;
            }
            // SAFETY: as above.
            unsafe { self.push_code(dest, one, None, one[0].iov_len) };
            done += 1;
        }
        done
    }

    /// Grows the open run with the messages `peek` describes (see
    /// [`Scratch::extend_simple`]; here all of them go to the run's
    /// destination) as long as they join it as segments and their vectors
    /// follow one another (or the run's vectors are a copy already).
    /// Returns how many joined.
    ///
    /// # Safety
    /// As for [`Scratch::extend_simple`].
    #[inline(always)]
    unsafe fn grow_run(&mut self, peek: impl FnMut(usize) -> Option<*const libc::iovec>) -> usize {
        if !self.run.open {
            return 0;
        }
        let k = self.entries.len() - 1;
        let (seg, count) = (self.entries[k].seg, self.entries[k].count);
        let iovlen = self.hdrs[k].msg_hdr.msg_iovlen;
        let budget = self.run.budget;
        let most = self.room().min(self.gso.max_segments.saturating_sub(count)).min(CHUNK.saturating_sub(iovlen));
        // Full segments that fit in the byte budget; a shorter last one
        // may still fit after them.
        let full = most.min(budget / seg);
        let limits = Segments { seg, budget, full, most };
        let (n, short) = if !self.run.copied {
            // The caller's vectors, as long as they follow one another
            // (`next` is not null: the run has vectors).
            let next = self.hdrs[k].msg_hdr.msg_iov.wrapping_add(iovlen).cast_const();
            // SAFETY: forwarded contract.
            unsafe { take_segments::<false>(peek, next, &mut [], limits) }
        } else {
            // Written into reserved space rather than pushed: `Vec::push`
            // here measured ~10 more instructions per message (callgrind).
            self.reserve_iov(most);
            let base = self.iov.len();
            let spare = &mut self.iov.spare_capacity_mut()[..most];
            // SAFETY: forwarded contract.
            let taken = unsafe { take_segments::<true>(peek, std::ptr::null(), spare, limits) };
            // SAFETY: take_segments initialized the first `taken.0`
            // elements of the spare capacity.
            unsafe { self.iov.set_len(base + taken.0) };
            taken
        };
        if n == 0 {
            return 0;
        }
        let bytes = if short > 0 { (n - 1) * seg + short } else { n * seg };
        self.hdrs[k].msg_hdr.msg_iovlen += n;
        self.n_msgs += n;
        self.run.budget -= bytes;
        let e = &mut self.entries[k];
        e.count += n;
        e.total += bytes;
        let now = e.count;
        if count == 1 {
            self.attach_segment(k);
        }
        if short > 0 || now >= self.gso.max_segments {
            self.run.open = false;
        }
        n
    }

    /// Whether some planned entry coalesces several messages.
    pub fn has_runs(&self) -> bool {
        self.entries.len() < self.n_msgs
    }

    /// Messages in the chunk.
    pub fn messages(&self) -> usize {
        self.n_msgs
    }

    /// Splits the GSO entries `from..to` into one entry per message
    /// (entries after `to` are kept as they are). A run's vectors are cut
    /// where each message's bytes are complete (a zero-length vector at a
    /// cut may go to either side: it sends nothing); the pieces stay where
    /// the run's vectors are.
    fn split_range(&mut self, from: usize, to: usize) {
        let mut es = std::mem::take(&mut self.spare_entries);
        let mut hs = std::mem::take(&mut self.spare_hdrs);
        es.clear();
        hs.clear();
        es.extend(self.entries.drain(from..));
        hs.extend(self.hdrs.drain(from..));
        for (idx, (e, h)) in es.iter().zip(hs.iter()).enumerate() {
            if e.count == 1 || from + idx >= to {
                self.entries.push(*e);
                self.hdrs.push(*h);
                continue;
            }
            let base = h.msg_hdr.msg_iov;
            let end = h.msg_hdr.msg_iovlen;
            // SAFETY: the run's header, written by this planner.
            let vectors = unsafe { header_vectors(base, end) };
            let mut v = 0;
            for j in 0..e.count {
                let len = e.message_len(j);
                let start = v;
                if j + 1 == e.count {
                    v = end;
                } else {
                    let mut acc = 0;
                    while acc < len && v < end {
                        acc += vectors[v].iov_len;
                        v += 1;
                    }
                }
                self.entries.push(Entry {
                    first: e.first + j,
                    count: 1,
                    seg: len,
                    total: len,
                    dest: e.dest,
                    ctl: NO_CTL,
                });
                let mut one = EMPTY_HDR;
                one.msg_hdr.msg_name = h.msg_hdr.msg_name;
                one.msg_hdr.msg_namelen = h.msg_hdr.msg_namelen;
                if v > start {
                    one.msg_hdr.msg_iov = base.wrapping_add(start);
                    one.msg_hdr.msg_iovlen = v - start;
                }
                self.hdrs.push(one);
            }
        }
        self.run.open = false;
        self.spare_entries = es;
        self.spare_hdrs = hs;
    }

    /// Points the headers at the addresses and control data again if their
    /// buffers moved while the chunk was planned.
    fn repoint(&mut self) {
        let addrs_base = self.addrs.as_ptr() as usize;
        let control_base = self.control.base() as usize;
        if addrs_base == self.addrs_base && control_base == self.control_base {
            return;
        }
        for (e, h) in self.entries.iter().zip(self.hdrs.iter_mut()) {
            if e.dest != CONNECTED && e.dest & CACHED == 0 {
                h.msg_hdr.msg_name = self.addrs[e.dest as usize].name().0;
            }
            if e.count == 1 && e.ctl != NO_CTL {
                h.msg_hdr.msg_control = self.control.ptr_at(e.ctl as usize);
            }
        }
        self.addrs_base = addrs_base;
        self.control_base = control_base;
    }

    /// Finishes the chunk: the headers are ready for the kernel. Nothing
    /// may be added to the scratch space after this until the chunk is
    /// sent.
    #[inline]
    pub fn plan(&mut self) {
        self.run.open = false;
        self.repoint();
    }

    /// Re-plans entry `k` alone without GSO (the kernel could not take that
    /// run, e.g. `EMSGSIZE` over a path MTU); later runs keep theirs.
    pub(crate) fn replan_entry_plain(&mut self, k: usize) {
        self.split_range(k, k + 1);
    }

    /// Re-plans entries from `k` on without GSO (the kernel refused it).
    pub(crate) fn replan_plain(&mut self, k: usize) {
        self.gso = GsoPolicy::OFF;
        self.split_range(k, usize::MAX);
    }

    /// Reports the bytes the kernel accepted for each message of the
    /// entries `range` (which it accepted), as `report(base + index, bytes)`
    /// with chunk-relative indexes; returns how many messages they hold.
    #[inline(always)]
    pub(crate) fn sent(
        &self,
        range: std::ops::Range<usize>,
        base: usize,
        report: &mut impl FnMut(usize, usize),
    ) -> usize {
        let mut messages = 0;
        for (e, h) in self.entries[range.clone()].iter().zip(&self.hdrs[range]) {
            let first = base + e.first;
            if e.count == 1 {
                report(first, h.msg_len as usize);
                messages += 1;
                continue;
            }
            // Every segment but the last has the segment size: eight at a
            // time (a run is up to 64 messages).
            let (last, seg) = (first + e.count - 1, e.seg);
            let mut i = first;
            while i + 8 <= last {
                for j in 0..8 {
                    report(i + j, seg);
                }
                i += 8;
            }
            if i + 4 <= last {
                for j in 0..4 {
                    report(i + j, seg);
                }
                i += 4;
            }
            while i < last {
                report(i, seg);
                i += 1;
            }
            report(last, e.message_len(e.count - 1));
            messages += e.count;
        }
        messages
    }

    /// The finished plan.
    pub fn view(&self) -> Plan<'_> {
        Plan { scratch: self }
    }
}

/// What one kernel header of a plan says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderView {
    /// Chunk-relative index of the first message.
    pub first: usize,
    /// Messages it carries.
    pub count: usize,
    /// GSO segment size, if coalesced.
    pub segment: Option<u16>,
    /// The destination bytes (empty for the connected peer).
    pub dest: Vec<u8>,
    /// The gather vectors as (base address, length).
    pub iov: Vec<(usize, usize)>,
    /// The control data bytes.
    pub control: Vec<u8>,
}

impl Plan<'_> {
    /// Headers planned.
    pub fn len(&self) -> usize {
        self.scratch.hdrs.len()
    }

    /// True if nothing is planned.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Describes header `k` from the header itself (what the kernel sees),
    /// after checking that its pointers lead to the planner's own copies of
    /// the address and control data.
    pub fn header(&self, k: usize) -> HeaderView {
        let s = self.scratch;
        let e = &s.entries[k];
        let h = &s.hdrs[k].msg_hdr;
        let (name, namelen) = name_of(&s.addrs, &s.cache, e.dest);
        assert!(h.msg_name == name && h.msg_namelen == namelen, "header {k}: stale destination pointer");
        let dest = if e.dest == CONNECTED { Vec::new() } else { addr_of(&s.addrs, &s.cache, e.dest).bytes().to_vec() };
        // SAFETY: a header this planner wrote.
        let iov = unsafe { header_vectors(h.msg_iov, h.msg_iovlen) }
            .iter()
            .map(|v| (v.iov_base as usize, v.iov_len))
            .collect();
        let control = if e.count > 1 {
            let seg = &s.segs[e.ctl as usize];
            assert!(h.msg_control == (seg as *const SegmentCmsg).cast_mut().cast(), "header {k}: stale UDP_SEGMENT");
            assert_eq!(h.msg_controllen, std::mem::size_of::<SegmentCmsg>());
            seg.as_bytes().to_vec()
        } else if e.ctl != NO_CTL {
            let off = e.ctl as usize;
            let base = s.control.bytes().as_ptr() as usize;
            assert_eq!(h.msg_control as usize, base + off, "header {k}: stale control pointer");
            s.control.bytes()[off..off + h.msg_controllen].to_vec()
        } else {
            assert!(h.msg_control.is_null() && h.msg_controllen == 0);
            Vec::new()
        };
        let segment = (e.count > 1).then_some(e.seg as u16);
        HeaderView { first: e.first, count: e.count, segment, dest, iov, control }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iov(base: usize, len: usize) -> libc::iovec {
        libc::iovec { iov_base: base as *mut libc::c_void, iov_len: len }
    }

    fn addr(port: u16) -> SockAddr {
        let mut a = SockAddr::default();
        // SAFETY: sockaddr_in fits in sockaddr_storage.
        let sin = unsafe { &mut *(&mut a.storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
        sin.sin_family = libc::AF_INET as _;
        sin.sin_port = port.to_be();
        a.len = std::mem::size_of::<libc::sockaddr_in>() as _;
        a
    }

    /// An IPv6 destination: `last` is the address's last byte.
    fn addr6(port: u16, last: u8, scope_id: u32, flowinfo: u32) -> SockAddr {
        let mut a = SockAddr::default();
        // SAFETY: sockaddr_in6 fits in sockaddr_storage.
        let sin = unsafe { &mut *(&mut a.storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
        sin.sin6_family = libc::AF_INET6 as _;
        sin.sin6_port = port.to_be();
        sin.sin6_flowinfo = flowinfo.to_be();
        sin.sin6_addr.s6_addr = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last];
        sin.sin6_scope_id = scope_id;
        a.len = std::mem::size_of::<libc::sockaddr_in6>() as _;
        a
    }

    /// Pushes one message per vector of `v` (which outlives the plan).
    fn push_each(s: &mut Scratch, dest: Dest, v: &[libc::iovec]) {
        for k in 0..v.len() {
            // SAFETY: `v` outlives the plan in every test.
            unsafe { s.push(Message { dest, iov: &v[k..k + 1], control: None, len: v[k].iov_len }) };
        }
    }

    fn shape(s: &Scratch) -> Vec<(usize, usize)> {
        let p = s.view();
        (0..p.len()).map(|k| (p.header(k).first, p.header(k).count)).collect()
    }

    /// A header, the reports of its messages (index, bytes) and their count.
    type Said = (HeaderView, Vec<(usize, usize)>, usize);

    /// Everything a finished plan tells the kernel and the reporter, for
    /// comparing two plans of one batch.
    fn everything(s: &Scratch) -> Vec<Said> {
        let p = s.view();
        (0..p.len())
            .map(|k| {
                let mut sent = Vec::new();
                let n = s.sent(k..k + 1, 0, &mut |i, b| sent.push((i, b)));
                (p.header(k), sent, n)
            })
            .collect()
    }

    #[test]
    fn uniform_batches_plan_as_if_pushed_one_by_one() {
        let policies = [
            GsoPolicy::UDP,
            GsoPolicy { enabled: true, max_segments: 2, max_bytes: 65507 },
            GsoPolicy { enabled: true, max_segments: 5, max_bytes: 1000 },
            GsoPolicy { enabled: true, max_segments: 80, max_bytes: 65535 },
            GsoPolicy { enabled: true, max_segments: 1, max_bytes: 65507 },
            GsoPolicy::OFF,
        ];
        let mut cases = 0;
        let mut taken = 0;
        for policy in policies {
            for n in [1, 2, 3, 4, 5, 7, 54, 55, 56, 63, 64, 65, 129, 200, 1024] {
                for seg in [0usize, 1, 3, 100, 333, 1200, 1472, 32753, 32754, 65507, 65535, 65536] {
                    for last in [0, 1, seg / 2, seg.saturating_sub(1), seg, seg + 1] {
                        for connected in [false, true] {
                            // Messages pushed after the batch go to its destination (0),
                            // to another address object of the same bytes (1), or to
                            // another address (2).
                            for (extra, later) in [(0, 0), (1, 0), (1, 1), (1, 2), (3, 0), (3, 1), (3, 2)] {
                                if n + extra > CHUNK {
                                    continue;
                                }
                                cases += 1;
                                let v: Vec<libc::iovec> = (0..n + extra)
                                    .map(|i| iov(0x10 * (i + 1), if i + 1 == n { last } else { seg }))
                                    .collect();
                                // 0: one by one; 1: whole, pointing at `v`; 2: copied, as
                                // many as are uniform.
                                let plan = |how: u8| {
                                    let mut s = Scratch::default();
                                    s.begin_with(policy);
                                    s.set_limit(n + extra);
                                    let d = if connected { Dest::Connected } else { s.push_addr(addr(9)) };
                                    let d_later = match later {
                                        0 => d,
                                        1 if connected => d,
                                        1 => s.push_addr(addr(9)),
                                        _ => s.push_addr(addr(10)),
                                    };
                                    let done = match how {
                                        0 => 0,
                                        // SAFETY: `v` outlives the plan.
                                        1 => n * usize::from(unsafe { s.push_uniform(d, v.as_ptr(), n, seg, last) }),
                                        _ => s.push_uniform_copied(d, n, |k| Some(v[k])),
                                    };
                                    assert_eq!(s.messages(), done);
                                    if done == 0 {
                                        assert_eq!(s.iov.len(), 0);
                                    }
                                    push_each(&mut s, d, &v[done..n]);
                                    push_each(&mut s, d_later, &v[n..]);
                                    s.plan();
                                    (everything(&s), done)
                                };
                                let (one_by_one, _) = plan(0);
                                let (at_once, whole) = plan(1);
                                let (copied, done_copied) = plan(2);
                                // (Not assert_eq: a plan of 1024 messages prints long.)
                                let case =
                                    format!("n {n} seg {seg} last {last} extra {extra} later {later} {policy:?}");
                                assert!(at_once == one_by_one, "{case}");
                                assert!(copied == one_by_one, "copied: {case}");
                                // The copy takes at least what is taken whole.
                                assert!(done_copied >= whole, "{case}");
                                taken += usize::from(whole == n);
                            }
                        }
                    }
                }
            }
        }
        // Many shapes (a fifth here: most sizes above are edge cases) are
        // taken whole: the comparison is not vacuous.
        assert!(taken * 5 > cases, "{taken} of {cases}");
    }

    #[test]
    fn uniform_copy_takes_the_uniform_start() {
        let v: Vec<libc::iovec> = (0..8).map(|i| iov(0x10 * (i + 1), if i == 5 { 99 } else { 100 })).collect();
        let fresh = |limit: usize| {
            let mut s = Scratch::default();
            s.begin_with(GsoPolicy::UDP);
            s.set_limit(limit);
            s
        };
        // Message 1 is not of the shape: fewer than two, nothing is added,
        // nothing is left in the copy.
        let mut s = fresh(8);
        assert_eq!(s.push_uniform_copied(Dest::Connected, 8, |k| (k != 1).then_some(v[k])), 0);
        assert_eq!((s.messages(), s.iov.len()), (0, 0));
        // Message 3 is not: the three before it.
        let mut s = fresh(8);
        assert_eq!(s.push_uniform_copied(Dest::Connected, 8, |k| (k != 3).then_some(v[k])), 3);
        assert_eq!((s.messages(), s.iov.len()), (3, 3));
        // The shorter message 5 ends the batch.
        let mut s = fresh(8);
        assert_eq!(s.push_uniform_copied(Dest::Connected, 8, |k| Some(v[k])), 6);
        s.plan();
        assert_eq!(shape(&s), vec![(0, 6)]);
        // The header points at the copy, not at `v`.
        assert_eq!(s.hdrs[0].msg_hdr.msg_iov.cast_const(), s.iov.as_ptr());
    }

    #[test]
    fn uniform_batch_needs_a_fresh_chunk_and_room() {
        let v: Vec<libc::iovec> = (0..8).map(|i| iov(0x10 * (i + 1), 100)).collect();
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        s.set_limit(7);
        // SAFETY: `v` outlives the plan.
        assert!(!unsafe { s.push_uniform(Dest::Connected, v.as_ptr(), 8, 100, 100) });
        push_each(&mut s, Dest::Connected, &v[..1]);
        // SAFETY: as above.
        assert!(!unsafe { s.push_uniform(Dest::Connected, v[1..].as_ptr(), 6, 100, 100) });
        assert_eq!(s.messages(), 1);
    }

    #[test]
    fn segment_block_has_the_kernel_layout() {
        // SAFETY: pure arithmetic.
        let (len, space) = unsafe { (libc::CMSG_LEN(2) as usize, libc::CMSG_SPACE(2) as usize) };
        assert!(std::mem::align_of::<SegmentCmsg>() >= std::mem::align_of::<libc::cmsghdr>());
        assert_eq!(std::mem::size_of::<SegmentCmsg>(), space);
        let b = SegmentCmsg::new(0x1234);
        assert_eq!(&b.as_bytes()[len - 2..len], &0x1234u16.to_ne_bytes());
    }

    #[test]
    fn equal_messages_to_one_destination_become_one_gso_send() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let d = s.push_addr(addr(9));
        let v: Vec<_> = (0..10).map(|i| iov(0x1000 * (i + 1), 100)).collect();
        push_each(&mut s, d, &v);
        s.plan();
        let p = s.view();
        assert_eq!(p.len(), 1);
        let h = p.header(0);
        assert_eq!((h.first, h.count, h.segment), (0, 10, Some(100)));
        assert_eq!(h.iov.len(), 10);
        assert_eq!(h.iov[3], (0x4000, 100));
        assert!(!h.control.is_empty());
        // The caller's vectors follow one another: the header points at
        // them, nothing is copied.
        assert_eq!(s.hdrs[0].msg_hdr.msg_iov.cast_const(), v.as_ptr());
    }

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

    #[test]
    fn scattered_vectors_are_copied_for_a_run() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let d = s.push_addr(addr(9));
        // Every other vector of an array: they do not follow one another.
        let v: Vec<libc::iovec> = (0..10).map(|i| iov(0x100 * (i + 1), 40)).collect();
        for k in 0..5 {
            // SAFETY: `v` outlives the plan.
            unsafe { s.push(Message { dest: d, iov: &v[2 * k..2 * k + 1], control: None, len: 40 }) };
        }
        s.plan();
        let h = s.view().header(0);
        assert_eq!(h.count, 5);
        assert_eq!(h.iov, (0..5).map(|i| (0x200 * i + 0x100, 40)).collect::<Vec<_>>());
        let at = s.hdrs[0].msg_hdr.msg_iov as usize;
        let (lo, hi) = (v.as_ptr() as usize, v.as_ptr() as usize + std::mem::size_of_val(&v[..]));
        assert!(!(lo..hi).contains(&at), "a scattered run points at the caller's array");
    }

    #[test]
    fn extend_simple_follows_then_copies() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let d = s.push_addr(addr(9));
        // Messages 0..4 contiguous, 4..8 elsewhere, then a shorter one.
        let a: Vec<_> = (0..4).map(|i| iov(0x10 + i, 50)).collect();
        let b: Vec<[libc::iovec; 1]> = (0..4).map(|i| [iov(0x90 + i, 50)]).collect();
        let short = [iov(0x99, 7)];
        let all: Vec<&libc::iovec> = a.iter().chain(b.iter().map(|x| &x[0])).chain([&short[0]]).collect();
        // SAFETY: every array outlives the plan.
        unsafe {
            s.push(Message { dest: d, iov: &a[..1], control: None, len: 50 });
            let mut i = 1;
            while i < all.len() {
                let added = s.extend_simple(1, |k| all.get(i + k).map(|v| (1, *v as *const libc::iovec)));
                if added == 0 {
                    let one = std::slice::from_ref(all[i]);
                    s.push(Message { dest: d, iov: one, control: None, len: one[0].iov_len });
                    i += 1;
                } else {
                    i += added;
                }
            }
        }
        s.plan();
        assert_eq!(shape(&s), vec![(0, 9)]);
        let h = s.view().header(0);
        assert_eq!(h.iov, all.iter().map(|v| (v.iov_base as usize, v.iov_len)).collect::<Vec<_>>());
        let mut got = Vec::new();
        s.sent(0..1, 0, &mut |i, b| got.push((i, b)));
        assert_eq!(got.last(), Some(&(8, 7)));
        assert_eq!(got.iter().map(|x| x.1).sum::<usize>(), 8 * 50 + 7);
    }

    #[test]
    fn a_shorter_message_ends_the_run_and_larger_one_starts_another() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let d = s.push_addr(addr(9));
        let v: Vec<_> = [100, 100, 60, 100, 200, 200].iter().map(|&l| iov(0x10, l)).collect();
        push_each(&mut s, d, &v);
        s.plan();
        assert_eq!(shape(&s), vec![(0, 3), (3, 1), (4, 2)]);
    }

    #[test]
    fn different_destinations_and_control_data_break_runs() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let a = s.push_addr(addr(1));
        let b = s.push_addr(addr(2));
        let same_as_a = s.push_addr(addr(1));
        let v = [iov(1, 10)];
        let (off, _) = s.control.push_cmsg(1, 1, 4);
        let ctl = Some((off, s.control.len() - off));
        // SAFETY: `v` outlives the plan.
        unsafe {
            for (dest, control) in [
                (a, None),
                (same_as_a, None),
                (b, None),
                (b, ctl),
                (b, None),
                (Dest::Connected, None),
                (Dest::Connected, None),
            ] {
                s.push(Message { dest, iov: &v, control, len: 10 });
            }
        }
        s.plan();
        assert_eq!(shape(&s), vec![(0, 2), (2, 1), (3, 1), (4, 1), (5, 2)]);
        let h = s.view().header(2);
        assert_eq!((h.first, h.control.len()), (3, 24), "{h:?}");
    }

    /// IPv6 destinations with the same port whose bytes differ only past
    /// the first eight (the address's last byte, the scope id) or in the
    /// flow information are different destinations: a run never spans two
    /// of them, however the messages are added (one by one, whole, through
    /// the cache, walked by `extend_simple`); another address of the same
    /// bytes does join.
    #[test]
    fn ipv6_destinations_differing_late_break_runs() {
        let base = addr6(9, 1, 0, 0);
        let others = [
            ("last address byte", addr6(9, 2, 0, 0)),
            ("scope id", addr6(9, 1, 3, 0)),
            ("flow info", addr6(9, 1, 0, 5)),
        ];
        let v: Vec<libc::iovec> = (0..12).map(|i| iov(0x10 * (i + 1), 100)).collect();
        for (what, other) in others {
            for how in ["one by one", "uniform start", "cached", "extend_simple"] {
                let mut s = Scratch::default();
                s.begin_with(GsoPolicy::UDP);
                let (a, same, b) = if how == "cached" || how == "extend_simple" {
                    assert!(s.cache.insert(16, &base) && s.cache.insert(32, &base) && s.cache.insert(48, &other));
                    let slot = |s: &mut Scratch, k| s.cached_addr(k).expect("cached");
                    (slot(&mut s, 16), slot(&mut s, 32), slot(&mut s, 48))
                } else {
                    (s.push_addr(base), s.push_addr(base), s.push_addr(other))
                };
                // 3 to base, 3 to another address of base's bytes, 3 to
                // the other destination, 3 to base again.
                let dests = [a, a, a, same, same, same, b, b, b, a, a, a];
                let keys = [16usize, 16, 16, 32, 32, 32, 48, 48, 48, 16, 16, 16];
                match how {
                    "uniform start" => {
                        // SAFETY: `v` outlives the plan.
                        assert!(unsafe { s.push_uniform(a, v.as_ptr(), 3, 100, 100) });
                        for k in 3..12 {
                            push_each(&mut s, dests[k], &v[k..k + 1]);
                        }
                    }
                    "extend_simple" => {
                        push_each(&mut s, a, &v[..1]);
                        // SAFETY: `v` outlives the plan.
                        let added = unsafe {
                            s.extend_simple(16, |k| keys.get(1 + k).map(|&key| (key, &v[1 + k] as *const _)))
                        };
                        assert_eq!(added, 11, "{what}");
                    }
                    _ => {
                        for k in 0..12 {
                            push_each(&mut s, dests[k], &v[k..k + 1]);
                        }
                    }
                }
                s.plan();
                assert_eq!(shape(&s), vec![(0, 6), (6, 3), (9, 3)], "{what}, {how}");
                assert_eq!(s.view().header(1).dest, other.bytes(), "{what}, {how}");
            }
        }
    }

    /// A policy of one segment per send coalesces nothing, however
    /// uniform the batch: no run, no `UDP_SEGMENT` block.
    #[test]
    fn one_segment_policy_never_coalesces() {
        let policy = GsoPolicy { max_segments: 1, ..GsoPolicy::UDP };
        let v: Vec<libc::iovec> = (0..10).map(|i| iov(0x10 * (i + 1), 100)).collect();
        let plain: Vec<(usize, usize)> = (0..10).map(|i| (i, 1)).collect();
        for how in 0..4 {
            let mut s = Scratch::default();
            s.begin_with(policy);
            assert!(!s.coalesces());
            let d = s.push_addr(addr(9));
            match how {
                0 => push_each(&mut s, d, &v),
                1 => {
                    // SAFETY: `v` outlives the plan.
                    assert!(!unsafe { s.push_uniform(d, v.as_ptr(), 10, 100, 100) });
                    push_each(&mut s, d, &v);
                }
                2 => {
                    assert_eq!(s.push_uniform_copied(d, 10, |k| Some(v[k])), 0);
                    push_each(&mut s, Dest::Connected, &v);
                }
                _ => {
                    assert!(s.cache.insert(16, &addr(9)));
                    let c = s.cached_addr(16).expect("cached");
                    push_each(&mut s, c, &v[..1]);
                    // SAFETY: `v` outlives the plan.
                    let added = unsafe { s.extend_simple(16, |k| v.get(1 + k).map(|x| (16, x as *const _))) };
                    assert_eq!(added, 9);
                }
            }
            s.plan();
            assert!(!s.has_runs(), "way {how}");
            assert_eq!(shape(&s), plain, "way {how}");
            assert!((0..10).all(|k| s.view().header(k).segment.is_none() && s.view().header(k).control.is_empty()));
        }
    }

    #[test]
    fn growing_buffers_carry_the_headers_along() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let v = [iov(1, 10)];
        // Many addresses and control blocks: both buffers reallocate
        // after headers already point into them.
        for i in 0..600u16 {
            let d = s.push_addr(addr(1000 + i));
            let control = if i % 2 == 0 {
                let (off, _) = s.control.push_cmsg(1, 1, 100);
                Some((off, s.control.len() - off))
            } else {
                None
            };
            // SAFETY: `v` outlives the plan.
            unsafe { s.push(Message { dest: d, iov: &v, control, len: 10 }) };
        }
        s.plan();
        let p = s.view();
        assert_eq!(p.len(), 600);
        for k in 0..600 {
            // `header` checks every pointer against the buffers.
            let h = p.header(k);
            assert_eq!(h.dest, addr(1000 + k as u16).bytes());
            // SAFETY: pure arithmetic.
            let space = unsafe { libc::CMSG_SPACE(100) } as usize;
            assert_eq!(h.control.len(), if k % 2 == 0 { space } else { 0 });
        }
    }

    #[test]
    fn limits_split_runs() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let d = s.push_addr(addr(9));
        let v = vec![iov(1, 1000); 130];
        push_each(&mut s, d, &v);
        s.plan();
        assert_eq!(shape(&s).iter().map(|x| x.1).collect::<Vec<_>>(), vec![64, 64, 2]);
        s.begin_with(GsoPolicy::UDP);
        let d = s.push_addr(addr(9));
        let v = vec![iov(1, 30000); 10];
        push_each(&mut s, d, &v);
        s.plan();
        assert_eq!(shape(&s).iter().map(|x| x.1).collect::<Vec<_>>(), vec![2, 2, 2, 2, 2]);
    }

    #[test]
    fn gso_off_and_empty_datagrams_stay_plain() {
        let v: Vec<_> = [0, 0, 0, 5, 5, 5].iter().map(|&l| iov(1, l)).collect();
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        push_each(&mut s, Dest::Connected, &v);
        s.plan();
        assert_eq!(s.view().len(), 4);
        s.begin();
        push_each(&mut s, Dest::Connected, &v);
        s.plan();
        assert_eq!(s.view().len(), 6);
        s.begin_with(GsoPolicy::UDP);
        push_each(&mut s, Dest::Connected, &v);
        s.plan();
        s.replan_plain(1);
        assert_eq!(s.view().len(), 6);
    }

    #[test]
    fn splitting_a_run_gives_each_message_its_own_vectors() {
        for contiguous in [false, true] {
            let mut s = Scratch::default();
            s.begin_with(GsoPolicy::UDP);
            let d = s.push_addr(addr(7));
            // Three 10-byte messages with zero-length vectors around the
            // cuts, and a shorter last one.
            let msgs: Vec<Vec<libc::iovec>> = vec![
                vec![iov(0x100, 4), iov(0x200, 0), iov(0x300, 6)],
                vec![iov(0x400, 0), iov(0x500, 10)],
                vec![iov(0x600, 3), iov(0x700, 7), iov(0x800, 0)],
                vec![iov(0x900, 2)],
            ];
            let flat: Vec<libc::iovec> = msgs.concat();
            let mut at = 0;
            for m in &msgs {
                let len = m.iter().map(|v| v.iov_len).sum();
                let iov = if contiguous { &flat[at..at + m.len()] } else { &m[..] };
                at += m.len();
                // SAFETY: `msgs` and `flat` outlive the plan.
                unsafe { s.push(Message { dest: d, iov, control: None, len }) };
            }
            s.plan();
            assert_eq!(s.view().len(), 1);
            assert_eq!(s.view().header(0).segment, Some(10));
            assert_eq!(s.hdrs[0].msg_hdr.msg_iov.cast_const() == flat.as_ptr(), contiguous);
            s.replan_plain(0);
            let p = s.view();
            assert_eq!(p.len(), 4);
            for (k, m) in msgs.iter().enumerate() {
                let h = p.header(k);
                assert_eq!((h.first, h.count, h.segment), (k, 1, None));
                let bytes =
                    |v: &[(usize, usize)]| -> Vec<(usize, usize)> { v.iter().copied().filter(|x| x.1 > 0).collect() };
                let want: Vec<(usize, usize)> = m.iter().map(|v| (v.iov_base as usize, v.iov_len)).collect();
                assert_eq!(bytes(&h.iov), bytes(&want), "message {k}");
                assert!(h.control.is_empty());
            }
            let mut got = Vec::new();
            for k in 0..4 {
                s.sent(k..k + 1, 0, &mut |i, b| got.push((i, b)));
            }
            // Plain headers report what the kernel wrote (nothing yet: zero).
            assert_eq!(got.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        }
    }

    #[test]
    fn splitting_one_run_keeps_the_others() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let a = s.push_addr(addr(1));
        let b = s.push_addr(addr(2));
        let v = [iov(1, 10); 6];
        push_each(&mut s, a, &v[..3]);
        push_each(&mut s, b, &v[3..]);
        s.plan();
        assert_eq!(shape(&s), vec![(0, 3), (3, 3)]);
        s.replan_entry_plain(0);
        assert_eq!(shape(&s), vec![(0, 1), (1, 1), (2, 1), (3, 3)]);
        assert_eq!(s.view().header(3).segment, Some(10));
    }

    #[test]
    fn a_run_reports_each_message_length() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let v: Vec<_> = [50, 50, 50, 20].iter().map(|&l| iov(1, l)).collect();
        push_each(&mut s, Dest::Connected, &v);
        s.plan();
        let mut got = Vec::new();
        s.sent(0..1, 0, &mut |i, b| got.push((i, b)));
        assert_eq!(got, vec![(0, 50), (1, 50), (2, 50), (3, 20)]);
    }
}
