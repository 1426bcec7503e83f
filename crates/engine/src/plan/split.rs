//! Splitting and replanning: a run the kernel refused (`EMSGSIZE`, GSO
//! not supported) becomes one plain header per message, its vectors cut
//! where each message's bytes end.

use super::*;

impl Scratch {
    /// Splits the GSO entries `from..to` into one entry per message
    /// (entries after `to` are kept as they are). A run's vectors are cut
    /// where each message's bytes are complete (a zero-length vector at a
    /// cut may go to either side: it sends nothing); the pieces stay where
    /// the run's vectors are.
    ///
    /// Done in place, without allocating: the entries end up one per
    /// message at most, within the capacity reserved for a chunk's
    /// messages, and are rewritten from the last back, each moving to a
    /// place at or after its own, so that none is overwritten before it is
    /// read.
    #[cold]
    #[inline(never)]
    pub(super) fn split_range(&mut self, from: usize, to: usize) {
        self.runs_undone = true;
        self.run.open = false;
        let old_len = self.entries.len();
        let to = to.min(old_len);
        let extra: usize = self.entries[from.min(to)..to].iter().map(|e| e.count - 1).sum();
        if extra == 0 {
            return;
        }
        let new_len = old_len + extra;
        debug_assert!(new_len <= self.n_msgs && new_len <= self.entries.capacity() && new_len <= self.hdrs.capacity());
        let blank = self.entries[from];
        self.entries.resize(new_len, blank);
        self.hdrs.resize(new_len, EMPTY_HDR);
        // Entries `from..=r` are still where they were; those after `r`
        // were moved to `w..`.
        let mut w = new_len;
        for r in (from..old_len).rev() {
            let (e, h) = (self.entries[r], self.hdrs[r]);
            if e.count == 1 || r >= to {
                w -= 1;
                self.entries[w] = e;
                self.hdrs[w] = h;
                continue;
            }
            w -= e.count;
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
                self.entries[w + j] =
                    Entry { first: e.first + j, count: 1, seg: len, total: len, dest: e.dest, ctl: NO_CTL };
                let mut one = EMPTY_HDR;
                one.msg_hdr.msg_name = h.msg_hdr.msg_name;
                one.msg_hdr.msg_namelen = h.msg_hdr.msg_namelen;
                if v > start {
                    one.msg_hdr.msg_iov = base.wrapping_add(start);
                    one.msg_hdr.msg_iovlen = v - start;
                }
                self.hdrs[w + j] = one;
            }
        }
        debug_assert_eq!(w, from);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::*;

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
    fn splitting_takes_no_memory_and_gives_the_plain_plan() {
        // A full chunk of runs of every length, single messages between
        // them (a longer one starts a new run, an empty one stays alone).
        let lens: Vec<usize> = (0..CHUNK).map(|i| [100, 100, 100, 0, 100, 200, 200, 50][i % 8] + i / 64).collect();
        let v: Vec<libc::iovec> = lens.iter().enumerate().map(|(i, &l)| iov(0x1000 * (i + 1), l)).collect();
        let plain = {
            let mut s = Scratch::default();
            s.begin();
            push_each(&mut s, Dest::Connected, &v);
            s.plan();
            (0..CHUNK).map(|k| s.view().header(k)).collect::<Vec<_>>()
        };
        for from in [0, 1, 7, 100] {
            let mut s = Scratch::default();
            assert!(s.try_reserve_chunk());
            s.begin_with(GsoPolicy::UDP);
            push_each(&mut s, Dest::Connected, &v);
            s.plan();
            let before = shape(&s);
            assert!(before.len() < CHUNK / 2, "mostly runs");
            let held = s.heap_bytes();
            crate::grow::refused_in(|| s.replan_plain(from));
            assert_eq!(s.heap_bytes(), held, "split in place");
            let p = s.view();
            // The entries before `from` kept, one per message after.
            let first_split = before[from].0;
            assert_eq!(p.len(), from + (CHUNK - first_split));
            assert_eq!(&before[..from], &shape(&s)[..from]);
            for k in from..p.len() {
                assert_eq!(p.header(k), plain[first_split + k - from], "from {from}, header {k}");
            }
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
}
