//! Planning: a batch of datagram descriptions becomes an array of kernel
//! message headers (`mmsghdr`), with runs of equal datagrams to the same
//! destination coalesced into one UDP GSO send.
//!
//! Everything the headers point to, except the payload buffers themselves,
//! lives in [`Scratch`]: destination addresses, a copy of every message's
//! gather vectors (`iovec`s, so consecutive messages' vectors are
//! contiguous and a GSO run is simply a longer slice), and control data.
//! The payload buffers are opaque to Rust: their addresses are handed to the
//! kernel and never dereferenced here.
//!
//! Messages are grouped as they are pushed, so that planning a batch is one
//! pass over it.

use crate::addrcache::AddrCache;
use crate::control::ControlBuf;
use crate::sys;

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
    /// Gather vectors, in order. They are copied; the buffers they point to
    /// must stay valid until the send returns.
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

/// A socket address in native form.
#[derive(Clone, Copy)]
pub struct SockAddr {
    /// The address bytes.
    pub storage: libc::sockaddr_storage,
    /// How many of them are used.
    pub len: libc::socklen_t,
}

impl SockAddr {
    /// All the storage's bytes.
    fn storage_bytes(&self) -> &[u8; std::mem::size_of::<libc::sockaddr_storage>()] {
        // SAFETY: sockaddr_storage is plain old data of exactly this size.
        unsafe { &*(&self.storage as *const libc::sockaddr_storage).cast() }
    }

    /// The first eight bytes, as one word.
    #[inline(always)]
    fn head(&self) -> u64 {
        let b = self.storage_bytes();
        u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    fn bytes(&self) -> &[u8] {
        &self.storage_bytes()[..(self.len as usize).min(std::mem::size_of::<libc::sockaddr_storage>())]
    }

    /// The name and its length for a kernel message header, which only
    /// reads it.
    #[inline(always)]
    pub(crate) fn name(&self) -> (*mut libc::c_void, libc::socklen_t) {
        ((&self.storage as *const libc::sockaddr_storage).cast_mut().cast(), self.len)
    }
}

impl Default for SockAddr {
    fn default() -> Self {
        // SAFETY: an all-zero sockaddr_storage is a valid value.
        SockAddr { storage: unsafe { std::mem::zeroed() }, len: 0 }
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

/// One kernel header's worth: `count` consecutive messages from `first`.
///
/// A GSO entry (`count > 1`) keeps no record of its messages: they all
/// have `seg` bytes but the last, which has what is left of `total`, and
/// their vectors are consecutive in the scratch copy.
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
    /// The last message was shorter than `seg`: the run is over.
    closed: bool,
    /// Destination code of its messages.
    dest: u32,
    /// Its vectors in the scratch copy.
    iov_off: u32,
    iov_len: u32,
    /// Control data: the message's own, or the `UDP_SEGMENT` block.
    control: Option<(u32, u32)>,
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

#[inline(always)]
fn same_addr(addrs: &[SockAddr], cache: &AddrCache, a: u32, b: u32) -> bool {
    if a == b {
        return true;
    }
    if a == CONNECTED || b == CONNECTED {
        return false;
    }
    let (x, y) = (addr_of(addrs, cache, a), addr_of(addrs, cache, b));
    // Family, port and (for IPv4) the address are in the first 8 bytes:
    // different destinations almost always differ there.
    x.len == y.len && x.head() == y.head() && x.bytes() == y.bytes()
}

/// Largest GSO segment: `UDP_SEGMENT` takes a 16-bit size.
const MAX_SEGMENT: usize = u16::MAX as usize;

/// Adds a message (`len` bytes, `iov_len` vectors, no control data, to
/// `dest`) to entry `e` if it may join it as a GSO segment.
#[inline(always)]
fn join(
    e: &mut Entry,
    (addrs, cache): (&[SockAddr], &AddrCache),
    gso: &GsoPolicy,
    len: usize,
    iov_len: u32,
    dest: u32,
) -> bool {
    if !gso.enabled
        || e.seg > MAX_SEGMENT
        || e.closed
        || e.control.is_some()
        || len == 0
        || len > e.seg
        || e.count >= gso.max_segments
        || e.total + len > gso.max_bytes
        || (e.iov_len + iov_len) as usize > CHUNK
        || !same_addr(addrs, cache, e.dest, dest)
    {
        return false;
    }
    e.count += 1;
    e.total += len;
    e.iov_len += iov_len;
    e.closed = len < e.seg;
    true
}

/// Reusable per-thread space for planning and sending one chunk.
#[derive(Default)]
pub struct Scratch {
    /// Native destination addresses, by [`Dest::Addr`] index.
    pub addrs: Vec<SockAddr>,
    /// Control data of the chunk.
    pub control: ControlBuf,
    iov: Vec<libc::iovec>,
    n_msgs: usize,
    pub(crate) entries: Vec<Entry>,
    pub(crate) hdrs: Vec<libc::mmsghdr>,
    gso: GsoPolicy,
    /// Spare space for regrouping (kept to avoid allocating).
    spare: Vec<Entry>,
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
    /// Starts a new chunk, to be planned without coalescing unless `plan`
    /// says otherwise: forgets everything, keeps the memory.
    pub fn begin(&mut self) {
        self.begin_with(GsoPolicy::OFF);
    }

    /// Starts a new chunk that will be planned with `gso`; messages are
    /// grouped as they are pushed.
    pub fn begin_with(&mut self, gso: GsoPolicy) {
        self.addrs.clear();
        self.control.clear();
        self.iov.clear();
        self.n_msgs = 0;
        self.entries.clear();
        self.hdrs.clear();
        self.gso = gso;
        self.limit = CHUNK;
        self.cache.begin_epoch();
    }

    /// Sets how many messages this chunk may hold (at most [`CHUNK`]).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(CHUNK);
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
    /// and the slot.
    pub fn addr_slot(&mut self) -> (Dest, &mut SockAddr) {
        self.addrs.push(SockAddr::default());
        let i = self.addrs.len() - 1;
        (Dest::Addr(i as u32), &mut self.addrs[i])
    }

    /// Drops the most recent address (its conversion failed).
    pub fn pop_addr(&mut self) {
        self.addrs.pop();
    }

    /// Adds a message to the chunk.
    #[inline(always)]
    pub fn push(&mut self, m: Message<'_>) {
        let first = self.n_msgs;
        self.n_msgs += 1;
        let iov_off = self.iov.len() as u32;
        if let [one] = m.iov {
            self.iov.push(*one);
        } else {
            self.iov.extend_from_slice(m.iov);
        }
        let iov_len = m.iov.len() as u32;
        let dest = dest_code(m.dest);
        if m.control.is_none() {
            if let Some(e) = self.entries.last_mut() {
                if join(e, (&self.addrs, &self.cache), &self.gso, m.len, iov_len, dest) {
                    return;
                }
            }
        }
        self.entries.push(Entry {
            first,
            count: 1,
            seg: m.len,
            total: m.len,
            closed: false,
            dest,
            iov_off,
            iov_len,
            control: m.control.map(|(o, l)| (o as u32, l as u32)),
        });
    }

    /// Extends the last entry, as GSO segments, with the messages that
    /// follow, when each has one vector (the usual shape): `peek(k)` gives
    /// the `k`th following message's only vector, or `None` to stop (a
    /// message of another shape is left to [`Scratch::push`], which still
    /// joins it to the run if it can). The caller vouches that every message
    /// it describes goes to the same destination as the last one pushed and
    /// carries no control data. Stops at the first message that cannot join
    /// (it is not consumed) and returns how many were added.
    ///
    /// This is the hot path for long runs: nothing but lengths and limits is
    /// checked per message.
    #[inline(always)]
    pub fn extend_run_single<'a>(&mut self, mut peek: impl FnMut(usize) -> Option<&'a libc::iovec>) -> usize {
        let gso = self.gso;
        let room = self.limit.saturating_sub(self.n_msgs);
        let Some(e) = self.entries.last_mut() else { return 0 };
        if !gso.enabled || room == 0 || e.closed || e.control.is_some() || e.seg == 0 || e.seg > MAX_SEGMENT {
            return 0;
        }
        let seg = e.seg;
        let most = room.min(gso.max_segments.saturating_sub(e.count)).min(CHUNK.saturating_sub(e.iov_len as usize));
        let start_budget = gso.max_bytes.saturating_sub(e.total);
        let mut budget = start_budget;
        // Written into reserved space rather than pushed: `Vec::push` here
        // measured ~10 more instructions per message (callgrind).
        self.iov.reserve(most);
        let base = self.iov.len();
        let spare = &mut self.iov.spare_capacity_mut()[..most];
        let mut k = 0;
        let mut closed = false;
        while k < spare.len() {
            let Some(v) = peek(k) else { break };
            let len = v.iov_len;
            // `len` in 1..=seg, within the byte limit.
            if len.wrapping_sub(1) >= seg || len > budget {
                break;
            }
            spare[k].write(*v);
            budget -= len;
            k += 1;
            if len < seg {
                closed = true;
                break;
            }
        }
        // SAFETY: the first `k` elements of the spare capacity were just
        // initialized above.
        unsafe { self.iov.set_len(base + k) };
        e.count += k;
        e.total += start_budget - budget;
        e.iov_len += k as u32;
        e.closed = closed;
        self.n_msgs += k;
        k
    }

    /// Whether messages may be coalesced in this chunk.
    pub fn coalescing(&self) -> bool {
        self.gso.enabled
    }

    /// Whether some planned entry coalesces several messages.
    pub fn has_runs(&self) -> bool {
        self.entries.len() < self.n_msgs
    }

    /// Messages in the chunk.
    pub fn messages(&self) -> usize {
        self.n_msgs
    }

    /// Splits the GSO entries from `k` on into one entry per message. A
    /// run's vectors are cut where each message's bytes are complete (a
    /// zero-length vector at a cut may go to either side: it sends nothing).
    fn split_from(&mut self, k: usize) {
        self.split_range(k, usize::MAX);
    }

    /// Splits the GSO entries `k..end` (entries after `end` are kept as
    /// they are).
    fn split_range(&mut self, k: usize, end: usize) {
        let mut runs = std::mem::take(&mut self.spare);
        runs.clear();
        runs.extend(self.entries.drain(k..));
        for (idx, &e) in runs.iter().enumerate() {
            if e.count == 1 || k + idx >= end {
                self.entries.push(e);
                continue;
            }
            let mut v = e.iov_off;
            let end = e.iov_off + e.iov_len;
            for j in 0..e.count {
                let len = e.message_len(j);
                let start = v;
                if j + 1 == e.count {
                    v = end;
                } else {
                    let mut acc = 0;
                    while acc < len && v < end {
                        acc += self.iov[v as usize].iov_len;
                        v += 1;
                    }
                }
                self.entries.push(Entry {
                    first: e.first + j,
                    count: 1,
                    seg: len,
                    total: len,
                    closed: false,
                    dest: e.dest,
                    iov_off: start,
                    iov_len: v - start,
                    control: None,
                });
            }
        }
        self.spare = runs;
    }

    /// Merges single entries from `k` on into GSO runs under `gso`.
    fn merge_from(&mut self, k: usize, gso: &GsoPolicy) {
        let mut singles = std::mem::take(&mut self.spare);
        singles.clear();
        singles.extend(self.entries.drain(k..));
        for &m in &singles {
            if m.control.is_none() {
                if let Some(e) = self.entries[k..].last_mut() {
                    if join(e, (&self.addrs, &self.cache), gso, m.total, m.iov_len, m.dest) {
                        continue;
                    }
                }
            }
            self.entries.push(m);
        }
        self.spare = singles;
    }

    /// Gives the GSO entries from `k` on their `UDP_SEGMENT` control block.
    fn add_segment_control(&mut self, k: usize) {
        for e in &mut self.entries[k..] {
            if e.count > 1 && e.control.is_none() {
                let (off, data) = self.control.push_cmsg(sys::SOL_UDP, sys::UDP_SEGMENT, 2);
                self.control.bytes_mut()[data..data + 2].copy_from_slice(&(e.seg as u16).to_ne_bytes());
                e.control = Some((off as u32, (self.control.len() - off) as u32));
            }
        }
    }

    /// Fills the kernel headers for entries `from..`. Nothing may be added to
    /// the scratch space after this until the chunk is sent.
    fn link(&mut self, from: usize) {
        self.hdrs.truncate(from);
        let (addrs, cache) = (&self.addrs, &self.cache);
        // Base pointers, offset per entry: the offsets were checked when
        // the entries were made (vectors and control data are in range).
        let iov_base = self.iov.as_mut_ptr();
        let control_base = self.control.ptr_at(0).cast::<u8>();
        self.hdrs.extend(self.entries[from..].iter().map(|e| {
            let (name, namelen) =
                if e.dest == CONNECTED { (std::ptr::null_mut(), 0) } else { addr_of(addrs, cache, e.dest).name() };
            let iov = if e.iov_len > 0 { iov_base.wrapping_add(e.iov_off as usize) } else { std::ptr::null_mut() };
            let (control, controllen) = match e.control {
                Some((off, len)) => (control_base.wrapping_add(off as usize).cast(), len as usize),
                None => (std::ptr::null_mut(), 0),
            };
            libc::mmsghdr {
                msg_hdr: libc::msghdr {
                    msg_name: name,
                    msg_namelen: namelen,
                    msg_iov: iov,
                    msg_iovlen: e.iov_len as usize,
                    msg_control: control,
                    msg_controllen: controllen,
                    msg_flags: 0,
                },
                msg_len: 0,
            }
        }));
    }

    /// Plans the whole chunk with `gso` (regrouping the messages if they
    /// were pushed under another policy).
    pub fn plan(&mut self, gso: &GsoPolicy) {
        if *gso != self.gso {
            self.gso = *gso;
            self.split_from(0);
            if gso.enabled {
                self.merge_from(0, gso);
            }
        }
        if self.has_runs() {
            self.add_segment_control(0);
        }
        self.link(0);
    }

    /// Re-plans entry `k` alone without GSO (the kernel could not take that
    /// run, e.g. `EMSGSIZE` over a path MTU); later runs keep theirs.
    pub(crate) fn replan_entry_plain(&mut self, k: usize) {
        self.split_range(k, k + 1);
        self.link(k);
    }

    /// Re-plans entries from `k` on without GSO (the kernel refused it).
    pub(crate) fn replan_plain(&mut self, k: usize) {
        self.gso = GsoPolicy::OFF;
        self.split_from(k);
        self.link(k);
    }

    /// Reports the bytes the kernel accepted for each message of entry `k`
    /// (chunk-relative message indexes).
    #[inline]
    pub(crate) fn sent(&self, k: usize, mut report: impl FnMut(usize, usize)) {
        let e = &self.entries[k];
        if e.count > 1 {
            for j in 0..e.count - 1 {
                report(e.first + j, e.seg);
            }
            report(e.first + e.count - 1, e.message_len(e.count - 1));
        } else {
            report(e.first, self.hdrs[k].msg_len as usize);
        }
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

    /// Describes header `k` from the header itself (what the kernel sees).
    pub fn header(&self, k: usize) -> HeaderView {
        let s = self.scratch;
        let e = &s.entries[k];
        let h = &s.hdrs[k].msg_hdr;
        let dest = if e.dest == CONNECTED { Vec::new() } else { addr_of(&s.addrs, &s.cache, e.dest).bytes().to_vec() };
        let head = e.iov_off as usize;
        debug_assert_eq!(h.msg_iovlen, e.iov_len as usize);
        let iov = s.iov[head..head + h.msg_iovlen].iter().map(|v| (v.iov_base as usize, v.iov_len)).collect();
        let control = match e.control {
            Some((off, len)) => s.control.bytes()[off as usize..(off + len) as usize].to_vec(),
            None => Vec::new(),
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

    fn push_simple(s: &mut Scratch, dest: Dest, len: usize, base: usize) {
        let v = [iov(base, len)];
        s.push(Message { dest, iov: &v, control: None, len });
    }

    #[test]
    fn equal_messages_to_one_destination_become_one_gso_send() {
        let mut s = Scratch::default();
        s.begin();
        let d = s.push_addr(addr(9));
        for i in 0..10 {
            push_simple(&mut s, d, 100, 0x1000 * (i + 1));
        }
        s.plan(&GsoPolicy::UDP);
        let p = s.view();
        assert_eq!(p.len(), 1);
        let h = p.header(0);
        assert_eq!((h.first, h.count, h.segment), (0, 10, Some(100)));
        assert_eq!(h.iov.len(), 10);
        assert_eq!(h.iov[3], (0x4000, 100));
        assert!(!h.control.is_empty());
    }

    #[test]
    fn a_shorter_message_ends_the_run_and_larger_one_starts_another() {
        let mut s = Scratch::default();
        s.begin();
        let d = s.push_addr(addr(9));
        for len in [100, 100, 60, 100, 200, 200] {
            push_simple(&mut s, d, len, 0x10);
        }
        s.plan(&GsoPolicy::UDP);
        let p = s.view();
        let got: Vec<_> = (0..p.len()).map(|k| (p.header(k).first, p.header(k).count)).collect();
        assert_eq!(got, vec![(0, 3), (3, 1), (4, 2)]);
    }

    #[test]
    fn different_destinations_and_control_data_break_runs() {
        let mut s = Scratch::default();
        s.begin();
        let a = s.push_addr(addr(1));
        let b = s.push_addr(addr(2));
        let same_as_a = s.push_addr(addr(1));
        push_simple(&mut s, a, 10, 1);
        push_simple(&mut s, same_as_a, 10, 1);
        push_simple(&mut s, b, 10, 1);
        let (off, _) = s.control.push_cmsg(1, 1, 4);
        let v = [iov(1, 10)];
        s.push(Message { dest: b, iov: &v, control: Some((off, s.control.len() - off)), len: 10 });
        push_simple(&mut s, b, 10, 1);
        push_simple(&mut s, Dest::Connected, 10, 1);
        push_simple(&mut s, Dest::Connected, 10, 1);
        s.plan(&GsoPolicy::UDP);
        let p = s.view();
        let got: Vec<_> = (0..p.len()).map(|k| (p.header(k).first, p.header(k).count)).collect();
        assert_eq!(got, vec![(0, 2), (2, 1), (3, 1), (4, 1), (5, 2)]);
        let h = p.header(2);
        assert_eq!((h.first, h.control.len()), (3, 24), "{h:?}");
    }

    #[test]
    fn limits_split_runs() {
        let mut s = Scratch::default();
        s.begin();
        let d = s.push_addr(addr(9));
        for _ in 0..130 {
            push_simple(&mut s, d, 1000, 1);
        }
        s.plan(&GsoPolicy::UDP);
        let p = s.view();
        let counts: Vec<_> = (0..p.len()).map(|k| p.header(k).count).collect();
        assert_eq!(counts, vec![64, 64, 2]);
        s.begin();
        let d = s.push_addr(addr(9));
        for _ in 0..10 {
            push_simple(&mut s, d, 30000, 1);
        }
        s.plan(&GsoPolicy::UDP);
        let counts: Vec<_> = (0..s.view().len()).map(|k| s.view().header(k).count).collect();
        assert_eq!(counts, vec![2, 2, 2, 2, 2]);
    }

    #[test]
    fn gso_off_and_empty_datagrams_stay_plain() {
        let mut s = Scratch::default();
        s.begin();
        for _ in 0..3 {
            push_simple(&mut s, Dest::Connected, 0, 1);
        }
        for _ in 0..3 {
            push_simple(&mut s, Dest::Connected, 5, 1);
        }
        s.plan(&GsoPolicy::UDP);
        assert_eq!(s.view().len(), 4);
        s.plan(&GsoPolicy::OFF);
        assert_eq!(s.view().len(), 6);
        s.plan(&GsoPolicy::UDP);
        s.replan_plain(1);
        assert_eq!(s.view().len(), 6);
    }

    #[test]
    fn splitting_a_run_gives_each_message_its_own_vectors() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let d = s.push_addr(addr(7));
        // Three 10-byte messages with zero-length vectors around the cuts,
        // and a shorter last one.
        let msgs: Vec<Vec<libc::iovec>> = vec![
            vec![iov(0x100, 4), iov(0x200, 0), iov(0x300, 6)],
            vec![iov(0x400, 0), iov(0x500, 10)],
            vec![iov(0x600, 3), iov(0x700, 7), iov(0x800, 0)],
            vec![iov(0x900, 2)],
        ];
        for m in &msgs {
            let len = m.iter().map(|v| v.iov_len).sum();
            s.push(Message { dest: d, iov: m, control: None, len });
        }
        s.plan(&GsoPolicy::UDP);
        assert_eq!(s.view().len(), 1);
        assert_eq!(s.view().header(0).segment, Some(10));
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
            s.sent(k, |i, b| got.push((i, b)));
        }
        // Plain headers report what the kernel wrote (nothing yet: zero).
        assert_eq!(got.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn a_run_reports_each_message_length() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        for len in [50, 50, 50, 20] {
            push_simple(&mut s, Dest::Connected, len, 1);
        }
        s.plan(&GsoPolicy::UDP);
        let mut got = Vec::new();
        s.sent(0, |i, b| got.push((i, b)));
        assert_eq!(got, vec![(0, 50), (1, 50), (2, 50), (3, 20)]);
    }
}
