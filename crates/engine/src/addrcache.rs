//! A small set-associative cache from caller-chosen keys to native
//! addresses, kept in the per-thread scratch space so that an address used
//! call after call is converted once.
//!
//! The engine does not know what a key stands for. The caller that inserts
//! a key owns whatever the key keeps alive (the C edge holds a reference to
//! an immutable address object) and passes a release function that is
//! called for every key evicted or dropped with the cache.

use crate::plan::SockAddr;

const WAYS: usize = 4;
const SETS: usize = 64;

/// Keys to native addresses. Key 0 is never stored.
#[derive(Default)]
pub struct AddrCache {
    keys: Vec<usize>,
    vals: Vec<SockAddr>,
    next: Vec<u8>,
    release: Option<unsafe fn(usize)>,
}

fn set_of(key: usize) -> usize {
    ((key >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (usize::BITS - 6)) % SETS
}

impl AddrCache {
    /// The address cached under `key`.
    #[inline]
    pub fn get(&self, key: usize) -> Option<&SockAddr> {
        if self.keys.is_empty() || key == 0 {
            return None;
        }
        let base = set_of(key) * WAYS;
        (base..base + WAYS).find(|&i| self.keys[i] == key).map(|i| &self.vals[i])
    }

    /// Caches `addr` under `key`, evicting (and releasing) another key of
    /// the same set if it is full.
    ///
    /// # Safety
    /// `release` must be sound to call once for `key`, and for every key
    /// inserted before with it.
    pub unsafe fn insert(&mut self, key: usize, addr: &SockAddr, release: unsafe fn(usize)) {
        if key == 0 {
            return;
        }
        if self.keys.is_empty() {
            self.keys = vec![0; SETS * WAYS];
            self.vals = vec![SockAddr::default(); SETS * WAYS];
            self.next = vec![0; SETS];
        }
        self.release = Some(release);
        let set = set_of(key);
        let i = set * WAYS + self.next[set] as usize;
        self.next[set] = ((self.next[set] as usize + 1) % WAYS) as u8;
        let old = std::mem::replace(&mut self.keys[i], key);
        self.vals[i] = *addr;
        if old != 0 {
            // SAFETY: per the contract, `release` fits every inserted key.
            unsafe { release(old) };
        }
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

impl Drop for AddrCache {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            for &k in &self.keys {
                if k != 0 {
                    // SAFETY: per insert's contract.
                    unsafe { release(k) };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static RELEASED: AtomicUsize = AtomicUsize::new(0);

    unsafe fn count(_: usize) {
        RELEASED.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn hits_evicts_and_releases() {
        let mut c = AddrCache::default();
        let a = SockAddr { len: 7, ..Default::default() };
        assert!(c.get(16).is_none());
        for k in 1..=1000usize {
            // SAFETY: `count` is sound for any key.
            unsafe { c.insert(k * 16, &a, count) };
        }
        assert_eq!(c.get(1000 * 16).map(|x| x.len), Some(7));
        let evicted = RELEASED.load(Ordering::SeqCst);
        assert_eq!(evicted + c.len(), 1000);
        drop(c);
        assert_eq!(RELEASED.load(Ordering::SeqCst), 1000);
    }
}
