//! Destinations: the code an entry keeps for where its messages go (the
//! connected peer, an address of this chunk, or a slot of the cross-call
//! address cache), the native address behind a code, and how a run tells
//! whether a message goes where it goes.

use super::*;

/// Destination code of an entry: an address index, a cache slot with this
/// bit set, or `CONNECTED`.
pub(super) const CONNECTED: u32 = u32::MAX;

pub(super) const CACHED: u32 = 1 << 31;

pub(super) fn dest_code(d: Dest) -> u32 {
    match d {
        Dest::Connected => CONNECTED,
        Dest::Addr(a) => a & !CACHED,
        Dest::Cached(slot) => slot | CACHED,
    }
}

/// The native address behind a destination code (not `CONNECTED`).
#[inline(always)]
pub(super) fn addr_of<'a>(addrs: &'a [SockAddr], cache: &'a AddrCache, code: u32) -> &'a SockAddr {
    if code & CACHED != 0 {
        cache.slot(code & !CACHED)
    } else {
        &addrs[code as usize]
    }
}

/// The header name of a destination code.
#[inline(always)]
pub(super) fn name_of(addrs: &[SockAddr], cache: &AddrCache, code: u32) -> (*mut libc::c_void, libc::socklen_t) {
    if code == CONNECTED {
        (std::ptr::null_mut(), 0)
    } else {
        addr_of(addrs, cache, code).name()
    }
}

/// Whether destination `b` is the same as the open run's, `a` (whose
/// length and first eight bytes are `run.namelen` and `run.head`).
#[inline(always)]
pub(super) fn same_addr(addrs: &[SockAddr], cache: &AddrCache, run: &Run, a: u32, b: u32) -> bool {
    if a == b {
        return true;
    }
    if a == CONNECTED || b == CONNECTED {
        return false;
    }
    let y = addr_of(addrs, cache, b);
    // Family, port and (for IPv4) the address are in the first 8 bytes:
    // different destinations almost always differ there.
    y.len == run.namelen && y.head() == run.head && y.bytes() == addr_of(addrs, cache, a).bytes()
}

impl Scratch {
    /// Stores a native address and returns its destination handle. For
    /// tests: it ends the process if memory is short, where
    /// [`Scratch::addr_slot`], which the send path uses, does not.
    pub fn push_addr(&mut self, addr: SockAddr) -> Dest {
        self.addrs.push(addr);
        Dest::Addr((self.addrs.len() - 1) as u32)
    }

    /// The destination of the address cached under `key`, if any. The
    /// cache entry stays put until the chunk is sent, and the kernel header
    /// points at it: nothing is copied.
    #[inline]
    pub fn cached_addr(&mut self, key: usize) -> Option<Dest> {
        self.cache.lookup(key).map(Dest::Cached)
    }

    /// A slot for an address the caller fills in place; returns its handle
    /// and the slot, or `None` if the memory for it cannot be had (see
    /// [`Scratch::ran_short`]).
    pub fn addr_slot(&mut self) -> Option<(Dest, &mut SockAddr)> {
        // Headers point into `addrs` by offset until `plan` (see
        // `addrs_base`): growing it here is fine.
        if !crate::grow::reserve(&mut self.addrs, 1) {
            return self.short_of_memory();
        }
        self.addrs.push(SockAddr::default());
        let i = self.addrs.len() - 1;
        Some((Dest::Addr(i as u32), &mut self.addrs[i]))
    }

    /// Drops the most recent address (its conversion failed; no message
    /// refers to it).
    pub fn pop_addr(&mut self) {
        self.addrs.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::testkit::*;

    /// IPv6 destinations with the same port whose bytes differ only past
    /// the first eight (the address's last byte, the scope id) or in the
    /// flow information are different destinations: a run never spans two
    /// of them, however the messages are added (one by one, whole, through
    /// the cache, walked by `extend_simple`); another address of the same
    /// bytes does join.
    #[test]
    fn ipv6_destinations_differing_late_break_runs() {
        let base = addr6(9, 1, 0, 0);
        let others = [
            ("last address byte", addr6(9, 2, 0, 0)),
            ("scope id", addr6(9, 1, 3, 0)),
            ("flow info", addr6(9, 1, 0, 5)),
        ];
        let v: Vec<libc::iovec> = (0..12).map(|i| iov(0x10 * (i + 1), 100)).collect();
        for (what, other) in others {
            for how in ["one by one", "uniform start", "cached", "extend_simple"] {
                let mut s = Scratch::default();
                s.begin_with(GsoPolicy::UDP);
                let (a, same, b) = if how == "cached" || how == "extend_simple" {
                    assert!(s.cache.insert(16, &base) && s.cache.insert(32, &base) && s.cache.insert(48, &other));
                    let slot = |s: &mut Scratch, k| s.cached_addr(k).expect("cached");
                    (slot(&mut s, 16), slot(&mut s, 32), slot(&mut s, 48))
                } else {
                    (s.push_addr(base), s.push_addr(base), s.push_addr(other))
                };
                // 3 to base, 3 to another address of base's bytes, 3 to
                // the other destination, 3 to base again.
                let dests = [a, a, a, same, same, same, b, b, b, a, a, a];
                let keys = [16usize, 16, 16, 32, 32, 32, 48, 48, 48, 16, 16, 16];
                match how {
                    "uniform start" => {
                        // SAFETY: `v` outlives the plan.
                        assert!(unsafe { s.push_uniform(a, v.as_ptr(), 3, 100, 100) });
                        for k in 3..12 {
                            push_each(&mut s, dests[k], &v[k..k + 1]);
                        }
                    }
                    "extend_simple" => {
                        push_each(&mut s, a, &v[..1]);
                        // SAFETY: `v` outlives the plan.
                        let added = unsafe {
                            s.extend_simple(16, |k| keys.get(1 + k).map(|&key| (key, &v[1 + k] as *const _)))
                        };
                        assert_eq!(added, 11, "{what}");
                    }
                    _ => {
                        for k in 0..12 {
                            push_each(&mut s, dests[k], &v[k..k + 1]);
                        }
                    }
                }
                s.plan();
                assert_eq!(shape(&s), vec![(0, 6), (6, 3), (9, 3)], "{what}, {how}");
                assert_eq!(s.view().header(1).dest, other.bytes(), "{what}, {how}");
            }
        }
    }

    #[test]
    fn destination_codes_keep_the_three_kinds_apart() {
        assert_eq!(dest_code(Dest::Connected), CONNECTED);
        assert_eq!(dest_code(Dest::Addr(5)), 5);
        assert_eq!(dest_code(Dest::Cached(5)), 5 | CACHED);
        let mut s = Scratch::default();
        s.begin_with(GsoPolicy::UDP);
        let a = s.push_addr(addr(1));
        let b = s.push_addr(addr(2));
        assert_eq!((a, b), (Dest::Addr(0), Dest::Addr(1)));
        assert_eq!(name_of(&s.addrs, &s.cache, CONNECTED), (std::ptr::null_mut(), 0));
        assert_eq!(addr_of(&s.addrs, &s.cache, 1).bytes(), addr(2).bytes());
        s.pop_addr();
        assert_eq!(s.addrs.len(), 1);
        let (c, slot) = s.addr_slot().expect("memory");
        *slot = addr(3);
        assert_eq!(c, Dest::Addr(1));
        assert_eq!(s.cached_addr(0x1000), None, "an empty cache holds nothing");
    }
}
