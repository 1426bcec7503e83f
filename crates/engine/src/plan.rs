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
#[derive(Clone, Copy, Debug)]
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

#[derive(Clone, Copy, Debug)]
struct MsgRec {
    dest: Dest,
    iov_off: usize,
    iov_len: usize,
    control: Option<(usize, usize)>,
    len: usize,
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
    /// Control data: the message's own, or the `UDP_SEGMENT` block.
    control: Option<(usize, usize)>,
}

impl Entry {
    /// Whether this entry is a coalesced GSO send.
    pub fn is_gso(&self) -> bool {
        self.count > 1
    }
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
}

/// Read access to a finished plan, for tests and fuzzing.
pub struct Plan<'s> {
    scratch: &'s Scratch,
}

impl Scratch {
    /// Starts a new chunk: forgets everything, keeps the memory.
    pub fn begin(&mut self) {
        self.addrs.clear();
        self.control.clear();
        self.iov.clear();
        self.msgs.clear();
        self.entries.clear();
        self.hdrs.clear();
    }

    /// Stores a native address and returns its destination handle.
    pub fn push_addr(&mut self, addr: SockAddr) -> Dest {
        self.addrs.push(addr);
        Dest::Addr((self.addrs.len() - 1) as u32)
    }

    /// A slot for an address the caller fills in place (avoids copying 128
    /// bytes); returns its handle and the slot.
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
    pub fn push(&mut self, m: Message<'_>) {
        let iov_off = self.iov.len();
        self.iov.extend_from_slice(m.iov);
        self.msgs.push(MsgRec { dest: m.dest, iov_off, iov_len: m.iov.len(), control: m.control, len: m.len });
    }

    /// Messages in the chunk.
    pub fn messages(&self) -> usize {
        self.msgs.len()
    }

    /// Payload length of message `i` of the chunk.
    pub fn message_len(&self, i: usize) -> usize {
        self.msgs[i].len
    }

    fn same_dest(&self, a: Dest, b: Dest) -> bool {
        match (a, b) {
            (Dest::Connected, Dest::Connected) => true,
            (Dest::Addr(x), Dest::Addr(y)) => {
                x == y || self.addrs[x as usize].bytes() == self.addrs[y as usize].bytes()
            }
            _ => false,
        }
    }

    /// Whether message `m` can join GSO entry `e`.
    fn joins(&self, e: &Entry, m: &MsgRec, gso: &GsoPolicy) -> bool {
        if !gso.enabled || e.closed || m.control.is_some() || m.len == 0 || m.len > e.seg {
            return false;
        }
        let head = &self.msgs[e.first];
        head.control.is_none()
            && e.count < gso.max_segments
            && e.total + m.len <= gso.max_bytes
            && m.iov_off + m.iov_len - head.iov_off <= CHUNK
            && self.same_dest(head.dest, m.dest)
    }

    /// Builds the entries for messages `from..` (entries before are kept).
    pub(crate) fn build(&mut self, from: usize, gso: &GsoPolicy) {
        for i in from..self.msgs.len() {
            let m = self.msgs[i];
            if let Some(e) = self.entries.last() {
                if e.first + e.count == i && self.joins(e, &m, gso) {
                    let e = self.entries.last_mut().expect("checked above");
                    e.count += 1;
                    e.total += m.len;
                    e.closed = m.len < e.seg;
                    continue;
                }
            }
            self.entries.push(Entry {
                first: i,
                count: 1,
                seg: m.len,
                total: m.len,
                closed: false,
                control: m.control,
            });
        }
        // Runs get their UDP_SEGMENT control block once they are known.
        for e in self.entries.iter_mut().skip_while(|e| e.first < from) {
            if e.count > 1 {
                let (off, data) = self.control.push_cmsg(sys::SOL_UDP, sys::UDP_SEGMENT, 2);
                self.control.bytes_mut()[data..data + 2].copy_from_slice(&(e.seg as u16).to_ne_bytes());
                e.control = Some((off, self.control.len() - off));
            }
        }
    }

    /// Fills the kernel headers for entries `from..`. Nothing may be added to
    /// the scratch space after this until the chunk is sent.
    pub(crate) fn link(&mut self, from: usize) {
        self.hdrs.truncate(from);
        for k in from..self.entries.len() {
            let e = self.entries[k];
            let head = self.msgs[e.first];
            let last = self.msgs[e.first + e.count - 1];
            // SAFETY: an all-zero mmsghdr is a valid value.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            if let Dest::Addr(a) = head.dest {
                let a = &mut self.addrs[a as usize];
                h.msg_hdr.msg_name = (&mut a.storage as *mut libc::sockaddr_storage).cast();
                h.msg_hdr.msg_namelen = a.len;
            }
            let iov_len = last.iov_off + last.iov_len - head.iov_off;
            if iov_len > 0 {
                h.msg_hdr.msg_iov = self.iov[head.iov_off..].as_mut_ptr();
            }
            h.msg_hdr.msg_iovlen = iov_len as _;
            if let Some((off, len)) = e.control {
                h.msg_hdr.msg_control = self.control.ptr_at(off);
                h.msg_hdr.msg_controllen = len as _;
            }
            self.hdrs.push(h);
        }
    }

    /// Plans the whole chunk.
    pub fn plan(&mut self, gso: &GsoPolicy) {
        self.entries.clear();
        self.build(0, gso);
        self.link(0);
    }

    /// Re-plans entries from `k` on without GSO (the kernel refused it).
    pub(crate) fn replan_plain(&mut self, k: usize) {
        let from = self.entries[k].first;
        self.entries.truncate(k);
        self.build(from, &GsoPolicy::OFF);
        self.link(k);
    }

    /// Bytes the kernel accepted for message `i` of entry `k` just sent.
    pub(crate) fn sent_bytes(&self, k: usize, i: usize) -> usize {
        let e = &self.entries[k];
        if e.count > 1 {
            self.msgs[i].len
        } else {
            self.hdrs[k].msg_len as usize
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
        let dest = match s.msgs[e.first].dest {
            Dest::Connected => Vec::new(),
            Dest::Addr(a) => s.addrs[a as usize].bytes().to_vec(),
        };
        let head = s.msgs[e.first].iov_off;
        let iov = s.iov[head..head + h.msg_iovlen].iter().map(|v| (v.iov_base as usize, v.iov_len)).collect();
        let control = match e.control {
            Some((off, len)) => s.control.bytes()[off..off + len].to_vec(),
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
        s.entries.clear();
        s.build(0, &GsoPolicy::UDP);
        s.link(0);
        s.replan_plain(1);
        assert_eq!(s.view().len(), 6);
    }
}
