//! Reporting: the bytes the kernel took for each message of the entries it
//! accepted (a run's messages each get their own length back).

use super::*;

impl Scratch {
    /// How many messages of the chunk, all sent (`sent` of them), are in
    /// segmented sends. As planned (the usual case) no entry need be read:
    /// each run has one segment block, and a run of `c` messages is
    /// `c - 1` more messages than entries.
    #[inline]
    pub(crate) fn run_messages(&self, sent: usize) -> usize {
        if !self.runs_undone {
            debug_assert_eq!(sent - self.entries.len() + self.segs.len(), self.run_messages_of(0..self.entries.len()));
            return sent - self.entries.len() + self.segs.len();
        }
        self.run_messages_of(0..self.entries.len())
    }

    /// How many messages of the entries `range` are in segmented sends,
    /// read from the entries.
    #[cold]
    pub(crate) fn run_messages_of(&self, range: std::ops::Range<usize>) -> usize {
        let mut n = 0;
        for e in &self.entries[range] {
            if e.count > 1 {
                n += e.count;
            }
        }
        n
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::*;

    #[test]
    fn a_run_reports_each_message_length() {
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let v: Vec<_> = [50, 50, 50, 20].iter().map(|&l| iov(1, l)).collect();
        push_each(&mut s, Dest::Connected, &v);
        s.plan();
        let mut got = Vec::new();
        assert_eq!(s.sent(0..1, 0, &mut |i, b| got.push((i, b))), 4);
        assert_eq!(s.run_messages(4), 4);
        assert_eq!(s.run_messages_of(0..1), 4);
        assert_eq!(got, vec![(0, 50), (1, 50), (2, 50), (3, 20)]);
    }

    #[test]
    fn plain_entries_report_the_kernels_count_and_a_base_shifts_indexes() {
        let mut s = Scratch::default();
        s.begin();
        let v = [iov(1, 30), iov(2, 40)];
        push_each(&mut s, Dest::Connected, &v);
        s.plan();
        // What the kernel wrote back, not the planned length, is reported.
        s.hdrs[0].msg_len = 29;
        s.hdrs[1].msg_len = 41;
        let mut got = Vec::new();
        assert_eq!(s.sent(0..2, 100, &mut |i, b| got.push((i, b))), 2);
        assert_eq!(got, vec![(100, 29), (101, 41)]);
    }
}
