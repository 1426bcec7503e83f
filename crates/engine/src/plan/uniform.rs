//! Uniform batches: the most common shape (one vector per message, one
//! destination, equal sizes but perhaps the last) planned at once, runs cut
//! by arithmetic; the plan is the one pushing them one by one would give.

use super::*;

impl Scratch {
    /// Adds `n` messages of the most common batch shape at once, as the
    /// first messages of the chunk: all to `dest`, without control data,
    /// message `i` made of the one vector `iov[i]` (the vectors lie one
    /// after the other), each `seg` bytes long but the last, which is
    /// `last` bytes. The plan is the same as pushing them one by one, for
    /// a fraction of the work: runs are cut by arithmetic, not message by
    /// message. Returns false, adding nothing, when the chunk is not empty,
    /// does not coalesce, has no room for `n`, cannot have the memory for
    /// its segment blocks, or the sizes do not make runs
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
        // them, so they must not move while runs are added. (Reserved with
        // the chunk in a send; a refusal means pushing them one by one.)
        if !crate::grow::reserve(&mut self.segs, n / 2 + 1) {
            return false;
        }
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
        // The chunk's first messages: within the copy reserved for a chunk
        // (a refusal only means they are pushed one by one).
        if !self.reserve_iov(n) {
            return 0;
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::*;

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
}
