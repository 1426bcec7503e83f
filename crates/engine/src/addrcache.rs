//! A small set-associative cache from caller-chosen keys to native
//! addresses, kept in the per-thread scratch space so that an address used
//! call after call is converted once.
//!
//! The engine does not know what a key stands for. The caller that inserts
//! a key guarantees it keeps standing for the same address while cached (the
//! C edge keys on immutable address objects and moves the cache to a new
//! generation, see [`AddrCache::sync`], when one is finalized). The cache
//! owns nothing a key stands for: evicting or dropping one is forgetting it.

use crate::sockaddr::SockAddr;

const WAYS: usize = 4;
/// 128 sets of 4: a batch to 64 distinct addresses (a common fan-out) fits
/// without a set overflowing but rarely (64 sets overflowed about one run
/// in four, and an overflowing set misses on every call). 512 entries of
/// about 136 bytes: some 70 KiB per sending thread, allocated at its first
/// cached address.
const SET_BITS: u32 = 7;
const SETS: usize = 1 << SET_BITS;

/// Keys to native addresses. Key 0 is never stored.
///
/// Entries looked up or inserted since the last [`AddrCache::begin_epoch`]
/// are pinned: kernel headers of the chunk being planned point at them, so
/// they are not evicted (an insert that would need to evict one is
/// skipped instead).
#[derive(Default)]
pub struct AddrCache {
    keys: Vec<usize>,
    vals: Vec<SockAddr>,
    used: Vec<u32>,
    next: Vec<u8>,
    epoch: u32,
    /// The caller's validity generation the entries belong to (see
    /// [`AddrCache::sync`]).
    generation: u64,
}

#[inline(always)]
fn set_of(key: usize) -> usize {
    ((key >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - SET_BITS)) % SETS
}

impl AddrCache {
    /// Starts a new chunk: entries are no longer pinned.
    pub fn begin_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.used.iter_mut().for_each(|u| *u = 0);
            self.epoch = 1;
        }
    }

    /// Forgets every entry if `generation` is not the
    /// one the entries were made under. The caller bumps its generation
    /// whenever a key may have stopped standing for its address (for the C
    /// edge: an address object it cached was finalized, so its pointer may
    /// be reused), and calls this before looking anything up. Not while a
    /// chunk is being planned: it unpins nothing, it drops everything.
    #[inline]
    pub fn sync(&mut self, generation: u64) {
        if generation != self.generation {
            self.generation = generation;
            self.forget_all();
        }
    }

    #[cold]
    fn forget_all(&mut self) {
        self.keys.fill(0);
    }

    /// Where `key` is cached, if it is.
    #[inline(always)]
    fn find(&self, key: usize) -> Option<usize> {
        if self.keys.is_empty() || key == 0 {
            return None;
        }
        let base = set_of(key) * WAYS;
        (base..base + WAYS).find(|&i| self.keys[i] == key)
    }

    /// The slot of `key`, pinned for this epoch.
    #[inline(always)]
    pub fn lookup(&mut self, key: usize) -> Option<u32> {
        let i = self.find(key)?;
        self.used[i] = self.epoch;
        Some(i as u32)
    }

    /// The address in `slot` (from `lookup` or `insert`).
    #[inline(always)]
    pub fn slot(&self, slot: u32) -> &SockAddr {
        &self.vals[slot as usize]
    }

    /// The address cached under `key` (not pinned).
    pub fn get(&self, key: usize) -> Option<&SockAddr> {
        self.find(key).map(|i| &self.vals[i])
    }

    /// Caches `addr` under `key` (not cached yet), evicting an unpinned key
    /// of the same set if it is full. Returns false, and keeps nothing, if
    /// every entry of the set is pinned.
    pub fn insert(&mut self, key: usize, addr: &SockAddr) -> bool {
        if key == 0 {
            return false;
        }
        if self.keys.is_empty() && !self.allocate() {
            return false;
        }
        let set = set_of(key);
        let Some(way) = (0..WAYS).map(|w| (self.next[set] as usize + w) % WAYS).find(|&w| {
            let i = set * WAYS + w;
            self.keys[i] == 0 || self.used[i] != self.epoch
        }) else {
            return false;
        };
        self.next[set] = ((way + 1) % WAYS) as u8;
        let i = set * WAYS + way;
        self.keys[i] = key;
        self.vals[i] = *addr;
        self.used[i] = self.epoch;
        true
    }

    /// Allocates the table; false (and nothing kept) if the memory cannot
    /// be had: the cache is only a shortcut, a send goes on without it.
    #[cold]
    fn allocate(&mut self) -> bool {
        fn filled<T: Clone>(n: usize, v: T) -> Option<Vec<T>> {
            let mut x = Vec::new();
            x.try_reserve_exact(n).ok()?;
            x.resize(n, v);
            Some(x)
        }
        let (Some(vals), Some(used), Some(next), Some(keys)) = (
            filled(SETS * WAYS, SockAddr::default()),
            filled(SETS * WAYS, 0u32),
            filled(SETS, 0u8),
            filled(SETS * WAYS, 0usize),
        ) else {
            return false;
        };
        (self.keys, self.vals, self.used, self.next) = (keys, vals, used, next);
        true
    }

    /// Bytes of memory the cache holds (0 until its first insert).
    pub fn heap_bytes(&self) -> usize {
        self.keys.capacity() * std::mem::size_of::<usize>()
            + self.vals.capacity() * std::mem::size_of::<SockAddr>()
            + self.used.capacity() * std::mem::size_of::<u32>()
            + self.next.capacity()
    }

    /// Keys cached (for tests).
    pub fn len(&self) -> usize {
        self.keys.iter().filter(|&&k| k != 0).count()
    }

    /// True if nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn hits_and_evicts() {
        let mut c = AddrCache::default();
        let a = SockAddr { len: 7, ..Default::default() };
        assert!(c.get(16).is_none());
        for k in 1..=1000usize {
            c.begin_epoch();
            assert!(c.insert(k * 16, &a));
        }
        assert_eq!(c.get(1000 * 16).map(|x| x.len), Some(7));
        // 1000 keys in 512 entries: the older ones were evicted.
        assert_eq!(c.len(), SETS * WAYS);
        assert!(c.get(16).is_none());
    }

    #[test]
    fn a_new_generation_forgets_everything() {
        let mut c = AddrCache::default();
        c.sync(5);
        c.begin_epoch();
        let a = SockAddr { len: 3, ..Default::default() };
        assert!(c.insert(32, &a));
        c.sync(5);
        assert!(c.get(32).is_some(), "same generation keeps entries");
        c.sync(6);
        assert!(c.get(32).is_none(), "a new generation drops them");
        assert!(c.is_empty());
    }

    #[test]
    fn pinned_entries_are_not_evicted() {
        let mut c = AddrCache::default();
        c.begin_epoch();
        // Keys that all fall in one set: the set fills, then refuses.
        let set = set_of(16);
        let keys: Vec<usize> = (1..100_000usize).map(|k| k * 16).filter(|&k| set_of(k) == set).take(6).collect();
        let a = SockAddr::default();
        let inserted: Vec<bool> = keys.iter().map(|&k| c.insert(k, &a)).collect();
        assert_eq!(inserted, vec![true, true, true, true, false, false]);
        assert!(c.lookup(keys[0]).is_some());
        c.begin_epoch();
        // A new chunk: the set may be reused.
        assert!(c.insert(keys[5], &a));
        assert_eq!(c.len(), 4);
    }
}
