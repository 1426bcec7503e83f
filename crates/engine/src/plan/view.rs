//! The test view: a finished plan read back header by header from what the
//! kernel would see, checking that every pointer leads to the planner's
//! own copies (for the unit and property tests and fuzzing).

use super::*;

/// Read access to a finished plan, for tests and fuzzing.
pub struct Plan<'s> {
    scratch: &'s Scratch,
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

impl Scratch {
    /// The finished plan.
    pub fn view(&self) -> Plan<'_> {
        Plan { scratch: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::*;

    #[test]
    fn a_header_is_described_from_what_the_kernel_sees() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let d = s.push_addr(addr(9));
        let (off, _) = s.control.push_cmsg(libc::SOL_SOCKET, 1, 4).expect("memory");
        let v = [iov(0x10, 5), iov(0x20, 7), iov(0x30, 7)];
        // SAFETY: `v` outlives the plan.
        unsafe {
            s.push(Message { dest: d, iov: &v[..1], control: Some((off, crate::cmsg::space(4))), len: 5 });
        }
        push_each(&mut s, Dest::Connected, &v[1..]);
        s.plan();
        let p = s.view();
        assert_eq!(p.len(), 2);
        assert!(!p.is_empty());
        let h = p.header(0);
        assert_eq!((h.first, h.count, h.segment), (0, 1, None));
        assert_eq!(h.dest, addr(9).bytes());
        assert_eq!(h.iov, vec![(0x10, 5)]);
        assert_eq!(h.control, s.control.bytes()[off..off + crate::cmsg::space(4)]);
        let h = p.header(1);
        assert_eq!((h.first, h.count, h.segment), (1, 2, Some(7)));
        assert!(h.dest.is_empty());
        assert_eq!(h.iov, vec![(0x20, 7), (0x30, 7)]);
        assert_eq!(h.control.len(), crate::cmsg::space(2));
    }
}
