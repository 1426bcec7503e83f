//! Kernel headers: writing one `mmsghdr` per entry, the `UDP_SEGMENT`
//! block a run gets (encoded by `crate::cmsg`), and keeping the headers'
//! pointers right when a scratch buffer they point into moves.

use super::*;

/// Bytes of a `UDP_SEGMENT` block: `CMSG_SPACE(2)`.
pub(super) const SEGMENT_SPACE: usize = cmsg::space(2);

/// The `UDP_SEGMENT` control block of a GSO send: one `cmsghdr` and its
/// 16-bit segment size, padded to `CMSG_SPACE(2)`, as [`cmsg::encode`]
/// lays it out; aligned for the header.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
pub(super) struct SegmentCmsg([u8; SEGMENT_SPACE]);

impl SegmentCmsg {
    #[inline(always)]
    pub(super) fn new(seg: u16) -> SegmentCmsg {
        let mut b = [0; SEGMENT_SPACE];
        cmsg::encode(&mut b, libc::SOL_UDP, libc::UDP_SEGMENT, &seg.to_ne_bytes());
        SegmentCmsg(b)
    }

    pub(super) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The `n` vectors a kernel header points at.
///
/// # Safety
/// `p` and `n` come from a header this planner wrote: its vector array is
/// the scratch copy or the caller's, valid per [`Scratch::push`]'s contract.
pub(super) unsafe fn header_vectors<'a>(p: *const libc::iovec, n: usize) -> &'a [libc::iovec] {
    if n == 0 {
        return &[];
    }
    // SAFETY: per the contract.
    unsafe { std::slice::from_raw_parts(p, n) }
}

pub(super) const EMPTY_HDR: libc::mmsghdr = libc::mmsghdr {
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

impl Scratch {
    /// The header fields of a message's own control data.
    #[inline(always)]
    pub(super) fn ctl_fields(&mut self, control: Option<(usize, usize)>) -> Option<(u32, *mut libc::c_void, usize)> {
        control.map(|(off, len)| (off as u32, self.control.ptr_at(off), len))
    }

    /// Writes a header of its own for the next message (a run of one).
    #[inline(always)]
    pub(super) fn push_entry(
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

    /// Gives run `k` its `UDP_SEGMENT` block.
    ///
    /// Never allocates in a send: a run has two messages or more, so a
    /// chunk has at most `CHUNK / 2` of them, and
    /// [`Scratch::try_reserve_chunk`] reserved a block more than that.
    /// (A planner that did not reserve, in unit tests, grows here, moving
    /// the headers' pointers along.)
    pub(super) fn attach_segment(&mut self, k: usize) {
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

    /// Makes room for `n` more copied vectors, moving the headers that point
    /// into the copy if it moves; false if the memory cannot be had (the
    /// copy is left as it was).
    #[inline]
    #[must_use]
    pub(super) fn reserve_iov(&mut self, n: usize) -> bool {
        if self.iov.capacity() - self.iov.len() >= n {
            return true;
        }
        self.grow_iov(n)
    }

    #[cold]
    #[inline(never)]
    fn grow_iov(&mut self, n: usize) -> bool {
        let old = self.iov.as_ptr() as usize;
        let old_bytes = self.iov.len() * std::mem::size_of::<libc::iovec>();
        if !crate::grow::reserve(&mut self.iov, n.max(CHUNK)) && !crate::grow::reserve(&mut self.iov, n) {
            return false;
        }
        let new = self.iov.as_mut_ptr();
        if new as usize != old {
            for h in &mut self.hdrs {
                let off = (h.msg_hdr.msg_iov as usize).wrapping_sub(old);
                if off < old_bytes {
                    h.msg_hdr.msg_iov = new.wrapping_byte_add(off);
                }
            }
        }
        true
    }

    /// Points the headers at the addresses and control data again if their
    /// buffers moved while the chunk was planned.
    pub(super) fn repoint(&mut self) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::*;

    #[test]
    fn segment_block_has_the_kernel_layout() {
        // SAFETY: pure arithmetic.
        let len = unsafe { libc::CMSG_LEN(2) } as usize;
        // SAFETY: as above.
        let space = unsafe { libc::CMSG_SPACE(2) } as usize;
        assert!(std::mem::align_of::<SegmentCmsg>() >= std::mem::align_of::<libc::cmsghdr>());
        assert_eq!(std::mem::size_of::<SegmentCmsg>(), space);
        let b = SegmentCmsg::new(0x1234);
        assert_eq!(&b.as_bytes()[len - 2..len], &0x1234u16.to_ne_bytes());
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
                let (off, _) = s.control.push_cmsg(1, 1, 100).expect("memory");
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
}
