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
    fn bytes(&self) -> &[u8] {
        let len = (self.len as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
        // SAFETY: sockaddr_storage is plain old data of at least `len` bytes.
        unsafe { std::slice::from_raw_parts((&self.storage as *const libc::sockaddr_storage).cast::<u8>(), len) }
    }
}

impl Default for SockAddr {
    fn default() -> Self {
        // SAFETY: an all-zero sockaddr_storage is a valid value.
        SockAddr { storage: unsafe { std::mem::zeroed() }, len: 0 }
    }
}

/// Destination code of a message record: an address index, or this.
const CONNECTED: u32 = u32::MAX;

fn dest_code(d: Dest) -> u32 {
    match d {
        Dest::Connected => CONNECTED,
        Dest::Addr(a) => a,
    }
}

#[derive(Clone, Copy, Debug)]
struct MsgRec {
    len: usize,
    dest: u32,
    iov_off: u32,
    iov_len: u32,
    ctrl_off: u32,
    ctrl_len: u32,
}

/// One kernel header's worth: `count` consecutive messages from `first`.
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
    /// Its first vector in the scratch copy.
    iov_off: u32,
    /// Control data: the message's own, or the `UDP_SEGMENT` block.
    control: Option<(u32, u32)>,
}

impl Entry {
    /// Whether this entry is a coalesced GSO send.
    pub fn is_gso(&self) -> bool {
        self.count > 1
    }

    fn single(i: usize, m: &MsgRec) -> Entry {
        Entry {
            first: i,
            count: 1,
            seg: m.len,
            total: m.len,
            closed: false,
            dest: m.dest,
            iov_off: m.iov_off,
            control: (m.ctrl_len > 0).then_some((m.ctrl_off, m.ctrl_len)),
        }
    }
}

#[inline(always)]
fn same_addr(addrs: &[SockAddr], a: u32, b: u32) -> bool {
    a == b || (a != CONNECTED && b != CONNECTED && addrs[a as usize].bytes() == addrs[b as usize].bytes())
}

/// Adds message `i` to entry `e` if it may join it as a GSO segment.
#[inline(always)]
fn join(e: &mut Entry, addrs: &[SockAddr], gso: &GsoPolicy, i: usize, m: &MsgRec) -> bool {
    if !gso.enabled
        || e.first + e.count != i
        || e.closed
        || m.ctrl_len != 0
        || (e.count == 1 && e.control.is_some())
        || m.len == 0
        || m.len > e.seg
        || e.count >= gso.max_segments
        || e.total + m.len > gso.max_bytes
        || (m.iov_off + m.iov_len - e.iov_off) as usize > CHUNK
        || !same_addr(addrs, e.dest, m.dest)
    {
        return false;
    }
    e.count += 1;
    e.total += m.len;
    e.closed = m.len < e.seg;
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
    msgs: Vec<MsgRec>,
    pub(crate) entries: Vec<Entry>,
    pub(crate) hdrs: Vec<libc::mmsghdr>,
    gso: GsoPolicy,
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
        self.msgs.clear();
        self.entries.clear();
        self.hdrs.clear();
        self.gso = gso;
    }

    /// Stores a native address and returns its destination handle.
    pub fn push_addr(&mut self, addr: SockAddr) -> Dest {
        self.addrs.push(addr);
        Dest::Addr((self.addrs.len() - 1) as u32)
    }

    /// Stores a copy of the used bytes of `addr` and returns its handle.
    pub fn push_addr_bytes(&mut self, addr: &SockAddr) -> Dest {
        let (dest, slot) = self.addr_slot();
        let n = (addr.len as usize).min(std::mem::size_of::<libc::sockaddr_storage>());
        // SAFETY: both are sockaddr_storage, at least `n` bytes long.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (&addr.storage as *const libc::sockaddr_storage).cast::<u8>(),
                (&mut slot.storage as *mut libc::sockaddr_storage).cast::<u8>(),
                n,
            )
        };
        slot.len = addr.len;
        dest
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
        let i = self.msgs.len();
        let iov_off = self.iov.len() as u32;
        if let [one] = m.iov {
            self.iov.push(*one);
        } else {
            self.iov.extend_from_slice(m.iov);
        }
        let (ctrl_off, ctrl_len) = m.control.map_or((0, 0), |(o, l)| (o as u32, l as u32));
        let rec =
            MsgRec { len: m.len, dest: dest_code(m.dest), iov_off, iov_len: m.iov.len() as u32, ctrl_off, ctrl_len };
        self.msgs.push(rec);
        self.group(i, &rec);
    }

    #[inline(always)]
    fn group(&mut self, i: usize, rec: &MsgRec) {
        let gso = self.gso;
        let joined = match self.entries.last_mut() {
            Some(e) => join(e, &self.addrs, &gso, i, rec),
            None => false,
        };
        if !joined {
            self.entries.push(Entry::single(i, rec));
        }
    }

    /// Messages in the chunk.
    pub fn messages(&self) -> usize {
        self.msgs.len()
    }

    /// Payload length of message `i` of the chunk.
    pub fn message_len(&self, i: usize) -> usize {
        self.msgs[i].len
    }

    /// Groups messages `from..` again under the current policy (entries
    /// that end before `from` are kept).
    fn regroup(&mut self, from: usize) {
        for i in from..self.msgs.len() {
            let rec = self.msgs[i];
            self.group(i, &rec);
        }
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
        for k in from..self.entries.len() {
            let e = self.entries[k];
            let last = self.msgs[e.first + e.count - 1];
            // SAFETY: an all-zero mmsghdr is a valid value.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            if e.dest != CONNECTED {
                let a = &mut self.addrs[e.dest as usize];
                h.msg_hdr.msg_name = (&mut a.storage as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen = a.len;
            }
            let iov_len = (last.iov_off + last.iov_len - e.iov_off) as usize;
            if iov_len > 0 {
                h.msg_hdr.msg_iov = self.iov[e.iov_off as usize..].as_mut_ptr();
            }
            h.msg_hdr.msg_iovlen = iov_len as _;
            if let Some((off, len)) = e.control {
                h.msg_hdr.msg_control = self.control.ptr_at(off as usize);
                h.msg_hdr.msg_controllen = len as _;
            }
            self.hdrs.push(h);
        }
    }

    /// Plans the whole chunk with `gso` (regrouping the messages if they
    /// were pushed under another policy).
    pub fn plan(&mut self, gso: &GsoPolicy) {
        if *gso != self.gso {
            self.gso = *gso;
            self.entries.clear();
            self.regroup(0);
        }
        self.add_segment_control(0);
        self.link(0);
    }

    /// Re-plans entries from `k` on without GSO (the kernel refused it).
    pub(crate) fn replan_plain(&mut self, k: usize) {
        let from = self.entries[k].first;
        self.entries.truncate(k);
        self.gso = GsoPolicy::OFF;
        self.regroup(from);
        self.link(k);
    }

    /// Reports the bytes the kernel accepted for each message of entry `k`
    /// (chunk-relative message indexes).
    #[inline]
    pub(crate) fn sent(&self, k: usize, mut report: impl FnMut(usize, usize)) {
        let e = &self.entries[k];
        if e.count > 1 {
            for (j, m) in self.msgs[e.first..e.first + e.count].iter().enumerate() {
                report(e.first + j, m.len);
            }
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
        let dest = if e.dest == CONNECTED { Vec::new() } else { s.addrs[e.dest as usize].bytes().to_vec() };
        let head = e.iov_off as usize;
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
}
