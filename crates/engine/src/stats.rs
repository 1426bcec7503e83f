//! Send statistics: the counters of one socket, and why a batch was not
//! coalesced. The edge finds a socket's [`Counters`] and puts them in the
//! thread's [`Scratch`](crate::Scratch) (`Scratch::stats`, also its memo)
//! before a send; [`send`](crate::send()) counts into them as it goes,
//! and leaves in `Scratch::notes` what the edge's debug messages need.

use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Why datagrams of a batch were not coalesced into segmentation-offload
/// runs although the socket allowed it: bits of `Outcome::kept_apart`.
pub mod kept_apart {
    /// The flags carried `MSG_MORE` (the kernel joins what follows into
    /// one datagram, which a segmented send would cut up).
    pub const MSG_MORE: u8 = 1;
    /// The flags carried `MSG_ZEROCOPY` (one completion per send).
    pub const MSG_ZEROCOPY: u8 = 1 << 1;
    /// The socket has `UDP_CORK` on.
    pub const UDP_CORK: u8 = 1 << 2;
    /// The user set the `UDP_SEGMENT` option on the socket.
    pub const UDP_SEGMENT: u8 = 1 << 3;
    /// The socket has TX timestamps on (`SO_TIMESTAMPING`).
    pub const TX_TIMESTAMPS: u8 = 1 << 4;
    /// The socket's UDP options could not be read.
    pub const UNREADABLE: u8 = 1 << 5;
    /// Messages carried control messages (those are sent one by one).
    pub const CONTROL: u8 = 1 << 6;
    /// Every bit, in the order of [`NAMES`].
    pub const ALL: [u8; 7] = [MSG_MORE, MSG_ZEROCOPY, UDP_CORK, UDP_SEGMENT, TX_TIMESTAMPS, UNREADABLE, CONTROL];
    /// What each bit of [`ALL`] means, for messages.
    pub const NAMES: [&str; 7] = [
        "the flags carry MSG_MORE",
        "the flags carry MSG_ZEROCOPY",
        "the socket has UDP_CORK on",
        "the socket has a UDP_SEGMENT option of its own",
        "the socket has TX timestamps on (SO_TIMESTAMPING)",
        "the socket's UDP options cannot be read",
        "messages carry control messages",
    ];
}

/// The counters of one socket (or of sockets gone, or of the process).
/// Every field but `owner`, `noted` and `next` is a count; all are
/// updated with relaxed atomics (a reader sees each count exact, not a
/// snapshot of all of them at one instant).
#[derive(Debug, Default)]
pub struct Counters {
    /// Which socket these counters are now for (its address; 0: none).
    pub owner: AtomicUsize,
    /// Kernel calls of the one-datagram fast path (counted before the
    /// call: one taken back for a call a signal interrupted). Each is one
    /// datagram sent, but for those counted in `fast_unsent`.
    pub fast: AtomicU64,
    /// Calls of the fast path that sent nothing (an error, a full socket).
    pub fast_unsent: AtomicU64,
    /// Datagrams sent by other sends (the batch path).
    pub sent: AtomicU64,
    /// Kernel send calls of other sends, and fast-path calls that did not
    /// send (an error, or a full socket).
    pub calls: AtomicU64,
    /// Datagrams that went out in segmentation-offload runs.
    pub gso_datagrams: AtomicU64,
    /// Times the kernel refused segmentation offload on the socket.
    pub gso_refusals: AtomicU64,
    /// Times a send waited for room in a full socket.
    pub waits: AtomicU64,
    /// Async sends queued.
    pub async_queued: AtomicU64,
    /// Which one-time debug messages were given for this socket (bits
    /// of the edge's choosing).
    pub noted: AtomicU32,
    /// The edge's registry of counters: the next block.
    pub next: AtomicPtr<Counters>,
}

/// A plain copy of a [`Counters`]' counts, in the public order.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Figures {
    /// Datagrams sent.
    pub datagrams: u64,
    /// Kernel send calls (`sendmsg`/`sendmmsg` that sent or failed; a call
    /// interrupted by a signal is not counted).
    pub calls: u64,
    /// Datagrams sent in segmentation-offload runs.
    pub gso_datagrams: u64,
    /// Segmentation-offload refusals.
    pub gso_refusals: u64,
    /// Waits for a full socket.
    pub waits: u64,
    /// Async sends queued.
    pub async_queued: u64,
}

impl std::ops::AddAssign for Figures {
    fn add_assign(&mut self, o: Figures) {
        self.datagrams += o.datagrams;
        self.calls += o.calls;
        self.gso_datagrams += o.gso_datagrams;
        self.gso_refusals += o.gso_refusals;
        self.waits += o.waits;
        self.async_queued += o.async_queued;
    }
}

/// What sends noted for the edge's debug messages, kept in the thread's
/// scratch space (set only on the rare paths that note something; the
/// edge takes them after a send when it gives debug messages, else they
/// are never read).
#[derive(Clone, Copy, Debug, Default)]
pub struct Notes {
    /// The errno of the kernel's last refusal of a segmented send.
    pub refusal_errno: i32,
    /// Why the socket's options kept datagrams apart (bits of
    /// [`kept_apart`]).
    pub kept_apart: u8,
}

/// A thread's memo of the counters of the socket it last sent on (see
/// `Scratch::stats`); at first [`UNOWNED`].
#[derive(Clone, Copy, Debug)]
pub struct Memo(pub &'static Counters);

impl Default for Memo {
    fn default() -> Self {
        Memo(&UNOWNED)
    }
}

/// Counters that belong to no socket: the initial memo of every thread
/// (its `owner` is 0, which no socket is).
pub static UNOWNED: Counters = Counters::new();

impl Counters {
    /// All zero, for no socket.
    pub const fn new() -> Self {
        Counters {
            owner: AtomicUsize::new(0),
            fast: AtomicU64::new(0),
            fast_unsent: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            calls: AtomicU64::new(0),
            gso_datagrams: AtomicU64::new(0),
            gso_refusals: AtomicU64::new(0),
            waits: AtomicU64::new(0),
            async_queued: AtomicU64::new(0),
            noted: AtomicU32::new(0),
            next: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The counts now.
    pub fn figures(&self) -> Figures {
        let r = Ordering::Relaxed;
        let unsent = self.fast_unsent.load(r);
        let fast = self.fast.load(r);
        Figures {
            datagrams: fast.saturating_sub(unsent) + self.sent.load(r),
            calls: fast + self.calls.load(r),
            gso_datagrams: self.gso_datagrams.load(r),
            gso_refusals: self.gso_refusals.load(r),
            waits: self.waits.load(r),
            async_queued: self.async_queued.load(r),
        }
    }

    /// Adds `f` to these counters.
    pub fn add(&self, f: &Figures) {
        let r = Ordering::Relaxed;
        self.sent.fetch_add(f.datagrams, r);
        self.calls.fetch_add(f.calls, r);
        self.gso_datagrams.fetch_add(f.gso_datagrams, r);
        self.gso_refusals.fetch_add(f.gso_refusals, r);
        self.waits.fetch_add(f.waits, r);
        self.async_queued.fetch_add(f.async_queued, r);
    }

    /// Takes every count (leaving zeros) and the one-time notes.
    pub fn take(&self) -> Figures {
        let r = Ordering::Relaxed;
        let unsent = self.fast_unsent.swap(0, r);
        let fast = self.fast.swap(0, r);
        self.noted.store(0, r);
        Figures {
            datagrams: fast.saturating_sub(unsent) + self.sent.swap(0, r),
            calls: fast + self.calls.swap(0, r),
            gso_datagrams: self.gso_datagrams.swap(0, r),
            gso_refusals: self.gso_refusals.swap(0, r),
            waits: self.waits.swap(0, r),
            async_queued: self.async_queued.swap(0, r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_sends_count_as_datagrams_and_calls() {
        let c = Counters::new();
        c.fast.fetch_add(4, Ordering::Relaxed);
        c.fast_unsent.fetch_add(1, Ordering::Relaxed);
        c.add(&Figures { datagrams: 10, calls: 2, gso_datagrams: 8, gso_refusals: 1, waits: 4, async_queued: 5 });
        let f = c.figures();
        assert_eq!(
            f,
            Figures { datagrams: 13, calls: 6, gso_datagrams: 8, gso_refusals: 1, waits: 4, async_queued: 5 }
        );
        c.noted.store(7, Ordering::Relaxed);
        assert_eq!(c.take(), f);
        assert_eq!(c.figures(), Figures::default());
        assert_eq!(c.noted.load(Ordering::Relaxed), 0);
    }
}
