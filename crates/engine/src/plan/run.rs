//! Run growth: messages pushed one by one, each joining the open run as a
//! GSO segment when it may (same destination, no control data, not longer
//! than the run's segment, within its limits), and the hot path that grows
//! a run from the caller's array without looking at more than each
//! message's key, vector and length (`Scratch::extend_simple`).

use super::*;

/// The limits of a run's growth (see `take_segments`).
#[derive(Clone, Copy)]
pub(super) struct Segments {
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
pub(super) unsafe fn take_segments<const COPY: bool>(
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

impl Scratch {
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
    pub(super) unsafe fn push_code(
        &mut self,
        dest: u32,
        iov: &[libc::iovec],
        control: Option<(usize, usize)>,
        len: usize,
    ) {
        if control.is_none() && self.run.open && self.try_join::<true>(dest, iov, len) {
            return;
        }
        let ctl = self.ctl_fields(control);
        self.push_entry(dest, iov.as_ptr(), iov.len(), ctl, len);
    }

    /// Adds a message whose vector array lives no longer than this call:
    /// its vectors are copied into the scratch space. Returns false, adding
    /// nothing, if the copy cannot grow for them (see
    /// [`Scratch::ran_short`]).
    #[must_use]
    pub fn push_copied(&mut self, m: Message<'_>) -> bool {
        let dest = dest_code(m.dest);
        if m.control.is_none() && self.run.open && self.try_join::<false>(dest, m.iov, m.len) {
            return true;
        }
        if !self.reserve_iov(m.iov.len()) {
            self.short = true;
            return false;
        }
        let ctl = self.ctl_fields(m.control);
        let start = self.iov.len();
        // Within the room just made sure of: no allocation.
        self.iov.extend_from_slice(m.iov);
        let copy = self.iov[start..].as_ptr();
        self.push_entry(dest, copy, m.iov.len(), ctl, m.len);
        // Its vectors are the last of the copy: a run may grow there.
        self.run.copied = true;
        true
    }

    /// Adds a message (`len` bytes, vectors `iov`, no control data, to
    /// `dest`) to the open run if it may join it as a GSO segment. With
    /// `POINT` the run may point at `iov` where it lies (see
    /// [`Scratch::append_iov`]). A message that could join only by a copy
    /// of vectors for which memory cannot be had does not join.
    #[inline(always)]
    pub(super) fn try_join<const POINT: bool>(&mut self, dest: u32, iov: &[libc::iovec], len: usize) -> bool {
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
        if !self.append_iov::<POINT>(k, iov) {
            return false;
        }
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
    /// copied. Returns false, changing nothing, if the copy cannot grow.
    pub(super) fn append_iov<const POINT: bool>(&mut self, k: usize, iov: &[libc::iovec]) -> bool {
        let h = self.hdrs[k].msg_hdr;
        if POINT && !self.run.copied && std::ptr::eq(iov.as_ptr(), h.msg_iov.wrapping_add(h.msg_iovlen)) {
            // The caller's vectors go on where the run's end.
            self.hdrs[k].msg_hdr.msg_iovlen += iov.len();
            return true;
        }
        // The run's own vectors are copied too if they are not yet.
        let moved = if self.run.copied { 0 } else { h.msg_iovlen };
        if !self.reserve_iov(moved + iov.len()) {
            return false;
        }
        // Within the room just made sure of: no allocation.
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
        true
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
    pub(super) unsafe fn grow_run(&mut self, peek: impl FnMut(usize) -> Option<*const libc::iovec>) -> usize {
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
            // Without the memory for the copy nothing joins here (the
            // caller pushes the message with a header of its own). Limits
            // of 0 rather than an early return: that measured ~2 more
            // instructions per message of other batches (callgrind).
            let most = if self.reserve_iov(most) { most } else { 0 };
            let limits = Segments { full: full.min(most), most, ..limits };
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::*;

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
        unsafe { s.push(Message { dest: d, iov: &a[..1], control: None, len: 50 }) };
        let mut i = 1;
        while i < all.len() {
            // SAFETY: as above.
            let added = unsafe { s.extend_simple(1, |k| all.get(i + k).map(|v| (1, *v as *const libc::iovec))) };
            if added == 0 {
                let one = std::slice::from_ref(all[i]);
                // SAFETY: as above.
                unsafe { s.push(Message { dest: d, iov: one, control: None, len: one[0].iov_len }) };
                i += 1;
            } else {
                i += added;
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
        let (off, _) = s.control.push_cmsg(1, 1, 4).expect("memory");
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

    /// The vectors of messages `first..first + count` of `msgs`, in order.
    fn vectors_of(msgs: &[Vec<libc::iovec>], first: usize, count: usize) -> Vec<(usize, usize)> {
        msgs[first..first + count].iter().flatten().map(|v| (v.iov_base as usize, v.iov_len)).collect()
    }

    #[test]
    fn a_refused_copy_gives_the_message_a_header_of_its_own() {
        // A chunk of messages of four vectors each, in arrays of their own:
        // every run copies its vectors, four times as many as the chunk
        // reserves. With growth refused, runs grow while the copy has room,
        // then messages go with their own headers, pointing at the
        // caller's arrays; every message is planned, nothing allocated.
        let msgs: Vec<Vec<libc::iovec>> =
            (0..CHUNK).map(|i| (0..4).map(|k| iov(0x10000 * (i + 1) + 0x100 * k, 8)).collect()).collect();
        for refused in [false, true] {
            let mut s = Scratch::default();
            assert!(s.try_reserve_chunk());
            s.begin_with(GsoPolicy::UDP);
            let held = s.heap_bytes();
            let push_all = |s: &mut Scratch| {
                for m in &msgs {
                    // SAFETY: `msgs` outlives the plan.
                    unsafe { s.push(Message { dest: Dest::Connected, iov: m, control: None, len: 32 }) };
                }
            };
            if refused {
                crate::grow::refused_in(|| push_all(&mut s));
            } else {
                push_all(&mut s);
            }
            s.plan();
            assert_eq!((s.messages(), s.ran_short()), (CHUNK, false));
            let p = s.view();
            let mut next = 0;
            for k in 0..p.len() {
                let h = p.header(k);
                assert_eq!(h.first, next, "header {k}");
                assert_eq!(h.iov, vectors_of(&msgs, h.first, h.count), "header {k}");
                next += h.count;
            }
            assert_eq!(next, CHUNK);
            let alone = (0..p.len()).filter(|&k| p.header(k).count == 1).count();
            if refused {
                assert_eq!(s.heap_bytes(), held, "nothing grew");
                // The copy holds CHUNK vectors: four runs of 64 messages
                // of four; after them nothing joins any more.
                assert_eq!((p.len(), alone), (4 + (CHUNK - 256), CHUNK - 256));
                assert!((0..4).all(|k| p.header(k).count == 64));
                let last = p.header(p.len() - 1);
                assert_eq!(s.hdrs[p.len() - 1].msg_hdr.msg_iov.cast_const(), msgs[last.first].as_ptr());
            } else {
                assert_eq!((p.len(), alone), (CHUNK / 64, 0), "runs of 64");
                assert!(s.heap_bytes() > held, "the copy grew");
            }
        }
    }

    #[test]
    fn a_refused_copy_stops_a_run_growing_from_extend_simple() {
        // The copy filled by two runs of four-vector messages that lie
        // apart (a shorter message ends the first), the second still open;
        // then single-vector messages that lie apart: with growth refused
        // they do not join the copied run, nor one another, and are
        // planned one by one.
        let four = |i: usize, len: usize| -> Vec<libc::iovec> {
            (0..4).map(|k| iov(0x10000 * (i + 1) + 0x100 * k, len)).collect()
        };
        let wide: Vec<Vec<libc::iovec>> = (0..256).map(|i| four(i, if i == 128 { 4 } else { 8 })).collect();
        // Every other element: the vectors do not follow one another.
        let single: Vec<libc::iovec> = (0..16).map(|i| iov(0x900_0000 + 0x100 * i, 32)).collect();
        let mut s = Scratch::default();
        assert!(s.try_reserve_chunk());
        s.begin_with(GsoPolicy { enabled: true, max_segments: CHUNK, max_bytes: usize::MAX });
        for m in &wide {
            let len = m.iter().map(|v| v.iov_len).sum();
            // SAFETY: `wide` outlives the plan.
            unsafe { s.push(Message { dest: Dest::Connected, iov: m, control: None, len }) };
        }
        assert_eq!(shape(&s), vec![(0, 129), (129, 127)]);
        assert_eq!((s.iov.len(), s.iov.capacity()), (CHUNK, CHUNK), "the copy is full");
        assert!(s.run.open && s.run.copied);
        let held = s.heap_bytes();
        let added = crate::grow::refused_in(|| {
            // SAFETY: `single` outlives the plan.
            unsafe { s.extend_simple(0, |k| (k < 8).then(|| (0, &single[2 * k] as *const libc::iovec))) }
        });
        assert_eq!(added, 8);
        s.plan();
        assert_eq!((s.ran_short(), s.heap_bytes()), (false, held));
        let want: Vec<(usize, usize)> = [(0, 129), (129, 127)].into_iter().chain((256..264).map(|i| (i, 1))).collect();
        assert_eq!(shape(&s), want);
        let p = s.view();
        for k in 0..8 {
            assert_eq!(p.header(2 + k).iov, vec![(single[2 * k].iov_base as usize, 32)]);
        }
        // With the memory, they join the open run.
        s.begin_with(GsoPolicy { enabled: true, max_segments: CHUNK, max_bytes: usize::MAX });
        for m in &wide {
            let len = m.iter().map(|v| v.iov_len).sum();
            // SAFETY: as above.
            unsafe { s.push(Message { dest: Dest::Connected, iov: m, control: None, len }) };
        }
        // SAFETY: as above.
        assert_eq!(unsafe { s.extend_simple(0, |k| (k < 8).then(|| (0, &single[2 * k] as *const libc::iovec))) }, 8);
        s.plan();
        assert_eq!(shape(&s), vec![(0, 129), (129, 135)]);
    }

    #[test]
    fn a_message_that_cannot_be_copied_is_not_added() {
        let v = [iov(0x10, 5), iov(0x20, 5)];
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        // Nothing reserved: the copy must grow, and may not.
        let added = crate::grow::refused_in(|| {
            s.push_copied(Message { dest: Dest::Connected, iov: &v, control: None, len: 10 })
        });
        assert!(!added);
        assert_eq!((s.messages(), s.view().len(), s.iov.len()), (0, 0, 0));
        assert!(s.ran_short());
        // The other scratch functions that grow for a message say so too.
        s.begin_with(GsoPolicy::UDP);
        assert!(!s.ran_short(), "a new chunk starts afresh");
        assert!(crate::grow::refused_in(|| s.addr_slot()).is_none());
        assert!(s.ran_short());
        s.begin_with(GsoPolicy::UDP);
        assert_eq!(crate::grow::refused_in(|| s.push_cmsg(1, 2, 4)), None);
        assert!(s.ran_short());
        // With the memory, it is copied.
        s.begin_with(GsoPolicy::UDP);
        assert!(s.push_copied(Message { dest: Dest::Connected, iov: &v, control: None, len: 10 }));
        assert_eq!(s.view().header(0).iov, vec![(0x10, 5), (0x20, 5)]);
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
}
