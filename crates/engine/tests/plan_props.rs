//! Property tests of the planner (docs/behaviour.md, "Segmentation offload"; rules 7 and 10).
//!
//! Random batches (0..3000 messages, 0..8 vectors each including empty ones,
//! sizes from 0 to beyond an IP datagram, destinations from a small pool
//! including the connected peer, cached addresses and duplicate addresses,
//! IPv6 addresses of one port that differ only in their last byte, scope
//! id or flow information, random control data, GSO on, off, with one
//! segment per send or with random limits, several segment-size patterns)
//! are planned chunk by chunk, and every planned
//! kernel header is checked against an oracle:
//!
//! - headers cover every message exactly once, in order;
//! - a plain header carries exactly its message's bytes (its vectors
//!   concatenated), destination and control data;
//! - a GSO header only joins messages with the same destination bytes, no
//!   control data, the first one's size (the last may be shorter, not
//!   empty), within the policy's segment and byte limits, carries exactly one
//!   `SOL_UDP`/`UDP_SEGMENT` control message with that size, and its payload
//!   split by the segment size gives each message's bytes;
//! - every vector lies inside the buffer the test handed in (vectors are
//!   slices of one arena `Vec`, and bytes are read back through offsets
//!   into it, so an out-of-range vector fails the test instead of reading
//!   memory);
//! - runs are greedy: a message that could have joined the header before it
//!   did join it.
//!
//! A small xorshift generator drives everything; a failure prints the seed.
//! `PLAN_PROPS_ITERS=<n>` runs more cases (default: a few seconds' worth),
//! `PLAN_PROPS_SEED=<n>` replays one case.

use gsend_engine::plan::{Dest, GsoPolicy, Message, Scratch, SockAddr, CHUNK};

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `per_mille`/1000.
    fn chance(&mut self, per_mille: usize) -> bool {
        self.below(1000) < per_mille
    }
}

fn sockaddr_in(port: u16) -> SockAddr {
    let mut a = SockAddr::default();
    // SAFETY: sockaddr_in fits in sockaddr_storage.
    let sin = unsafe { &mut *(&mut a.storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
    sin.sin_family = libc::AF_INET as _;
    sin.sin_port = port.to_be();
    sin.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
    a.len = std::mem::size_of::<libc::sockaddr_in>() as _;
    a
}

fn sockaddr_in6(port: u16) -> SockAddr {
    sockaddr_in6_full(port, 1, 0, 0)
}

/// An IPv6 address whose last byte is `last`, with a scope id and flow
/// information (the flow information is within the first eight bytes of a
/// `sockaddr_in6`, the address and scope id after them).
fn sockaddr_in6_full(port: u16, last: u8, scope_id: u32, flowinfo: u32) -> SockAddr {
    let mut a = SockAddr::default();
    // SAFETY: sockaddr_in6 fits in sockaddr_storage.
    let sin = unsafe { &mut *(&mut a.storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
    sin.sin6_family = libc::AF_INET6 as _;
    sin.sin6_port = port.to_be();
    sin.sin6_flowinfo = flowinfo.to_be();
    sin.sin6_addr.s6_addr[15] = last;
    sin.sin6_scope_id = scope_id;
    a.len = std::mem::size_of::<libc::sockaddr_in6>() as _;
    a
}

fn addr_bytes(a: &SockAddr) -> Vec<u8> {
    // SAFETY: sockaddr_storage is plain old data of at least `len` bytes.
    unsafe { std::slice::from_raw_parts((&a.storage as *const libc::sockaddr_storage).cast::<u8>(), a.len as usize) }
        .to_vec()
}

/// The destination pool: indexes 0 and 2 have the same bytes (a run may
/// span them), 1 is another port; 3 to 7 are IPv6 with one port: 3 and 4
/// the same bytes, 5 another last address byte, 6 another scope id, 7
/// other flow information (no run may span two of 3, 5, 6, 7).
fn pool() -> Vec<SockAddr> {
    vec![
        sockaddr_in(1000),
        sockaddr_in(2000),
        sockaddr_in(1000),
        sockaddr_in6(1000),
        sockaddr_in6(1000),
        sockaddr_in6_full(1000, 2, 0, 0),
        sockaddr_in6_full(1000, 1, 4, 0),
        sockaddr_in6_full(1000, 1, 0, 9),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DestSpec {
    Connected,
    /// Pool address, pushed once per chunk and shared.
    Shared(usize),
    /// Pool address, pushed again for this message (new index, same bytes).
    Fresh(usize),
    /// Pool address through the cross-call cache.
    Cached(usize),
}

impl DestSpec {
    /// The destination's identity for a describer that vouches for runs
    /// (the C edge compares address objects): the same pool entry.
    fn identity(self) -> Option<usize> {
        match self {
            DestSpec::Connected => None,
            DestSpec::Shared(i) | DestSpec::Fresh(i) | DestSpec::Cached(i) => Some(i),
        }
    }
}

#[derive(Clone, Debug)]
struct Msg {
    /// (arena offset, length) of each vector.
    vecs: Vec<(usize, usize)>,
    dest: DestSpec,
    /// Control messages: (level, type, data).
    control: Vec<(i32, i32, Vec<u8>)>,
    len: usize,
}

#[derive(Clone, Copy, Debug)]
enum Mode {
    /// begin_with(policy), push every message, plan().
    PushGrouped,
    /// The same with push_copied (vector arrays that do not outlive the push).
    PushCopied,
    /// begin_with(policy), push and extend_simple like the C edge.
    ExtendRun,
}

struct Case {
    pool: Vec<SockAddr>,
    arena: Vec<u8>,
    msgs: Vec<Msg>,
    policy: GsoPolicy,
    mode: Mode,
    /// Every message's vectors follow the previous one's in one array (the
    /// usual layout, which runs point at) rather than an array each.
    flat: bool,
    /// Chunk limits, in order (each 1..=CHUNK).
    limits: Vec<usize>,
}

fn random_policy(r: &mut Rng) -> GsoPolicy {
    match r.below(5) {
        0 => GsoPolicy::OFF,
        1 | 2 => GsoPolicy::UDP,
        // Enabled, but one segment per send: nothing may be coalesced.
        3 => GsoPolicy { max_segments: 1, ..GsoPolicy::UDP },
        // Byte limits up to 65535 (a UDP_SEGMENT size is 16 bits: see
        // `segment_size_beyond_16_bits`).
        _ => GsoPolicy { enabled: true, max_segments: 1 + r.below(80), max_bytes: r.below(65_536) },
    }
}

/// Bounds of a generated case.
#[derive(Clone, Copy)]
struct Shape {
    /// Most messages.
    max_n: usize,
    /// Largest "big" message.
    big_max: usize,
    /// Control data the kernel accepts on an IPv4 UDP socket (IP_TOS) rather
    /// than arbitrary bytes.
    real_control: bool,
}

const PLAN_SHAPE: Shape = Shape { max_n: 3000, big_max: 70_000, real_control: false };

fn gen_case(seed: u64, pool: Vec<SockAddr>, shape: Shape) -> Case {
    let mut r = Rng::new(seed);
    let arena_len = 200_000 + r.below(100_000);
    let mut arena = Vec::with_capacity(arena_len + 8);
    while arena.len() < arena_len {
        arena.extend_from_slice(&r.next().to_ne_bytes());
    }
    arena.truncate(arena_len);
    let n = match r.below(10) {
        0 => r.below(3),
        1..=5 => r.below(200),
        6..=8 => r.below(1500),
        _ => r.below(3001),
    }
    .min(shape.max_n);
    let big = |r: &mut Rng| 30_000 + r.below(shape.big_max - 30_000 + 1);
    // Segment-size pattern.
    let pattern = r.below(5);
    let base = match r.below(5) {
        0 => 1,
        1 => 1 + r.below(64),
        2 => 1200 + r.below(300),
        3 => 1 + r.below(9000),
        _ => big(&mut r),
    };
    let n_dests = 1 + r.below(pool.len());
    let dest_mix = r.below(3); // 0: one destination, 1: runs, 2: random
    let control_rate = [0, 5, 50, 300][r.below(4)];
    let max_vecs = r.below(9); // 0..=8
    let mut cur_len = base;
    let mut cur_dest = DestSpec::Connected;
    let mut msgs = Vec::with_capacity(n);
    for i in 0..n {
        let len = match pattern {
            // Equal sizes with the odd shorter / larger / empty one.
            0 => match r.below(100) {
                0..=2 => r.below(base + 1),
                3 => base + 1 + r.below(2000),
                4 => 0,
                _ => base,
            },
            // Runs of one size, changing now and then.
            1 => {
                if r.chance(40) {
                    cur_len = match r.below(4) {
                        0 => r.below(base + 1),
                        1 => 1 + r.below(3000),
                        2 => big(&mut r),
                        _ => base,
                    };
                }
                cur_len
            }
            // Anything.
            2 => match r.below(10) {
                0 => 0,
                1 => big(&mut r),
                _ => r.below(3000),
            },
            // Shorter and shorter (every one ends a run).
            3 => base.saturating_sub(i % (base + 1)),
            // One size.
            _ => base,
        };
        let dest = match dest_mix {
            0 => {
                if i == 0 {
                    cur_dest = random_dest(&mut r, n_dests);
                }
                cur_dest
            }
            1 => {
                if i == 0 || r.chance(30) {
                    cur_dest = random_dest(&mut r, n_dests);
                }
                cur_dest
            }
            _ => random_dest(&mut r, n_dests),
        };
        // Split len over k vectors, some of them empty.
        let k = if max_vecs == 0 { usize::from(len > 0) } else { r.below(max_vecs + 1) };
        let k = if len > 0 { k.max(1) } else { k };
        let mut cuts: Vec<usize> = (0..k.saturating_sub(1)).map(|_| r.below(len + 1)).collect();
        cuts.sort_unstable();
        if k > 0 {
            cuts.push(len);
        }
        let mut vecs = Vec::with_capacity(k);
        let mut prev = 0;
        for end in cuts {
            let l = end - prev;
            prev = end;
            // Zero-length vectors may point anywhere in the arena, its end
            // included.
            let off = r.below(arena_len - l + 1);
            vecs.push((off, l));
        }
        let mut control = Vec::new();
        if r.chance(control_rate) {
            for _ in 0..1 + r.below(2) {
                let data: Vec<u8> = (0..r.below(25)).map(|_| r.next() as u8).collect();
                if shape.real_control {
                    control.push((libc::IPPROTO_IP, libc::IP_TOS, 0i32.to_ne_bytes().to_vec()));
                } else {
                    control.push((r.below(300) as i32, r.below(300) as i32, data));
                }
            }
        }
        msgs.push(Msg { vecs, dest, control, len });
    }
    let policy = random_policy(&mut r);
    let mode = match r.below(4) {
        0 => Mode::PushGrouped,
        1 => Mode::PushCopied,
        _ => Mode::ExtendRun,
    };
    let flat = r.chance(600);
    let mut limits = Vec::new();
    let mut left = n;
    while left > 0 {
        let l = if r.chance(700) { CHUNK } else { 1 + r.below(CHUNK) };
        limits.push(l.min(left));
        left -= l.min(left);
    }
    Case { pool, arena, msgs, policy, mode, flat, limits }
}

fn random_dest(r: &mut Rng, n_dests: usize) -> DestSpec {
    let d = r.below(n_dests + 1);
    if d == n_dests {
        return DestSpec::Connected;
    }
    match r.below(3) {
        0 => DestSpec::Shared(d),
        1 => DestSpec::Fresh(d),
        _ => DestSpec::Cached(d),
    }
}

/// The key `extend_simple` gets for a destination: 0 for the connected
/// peer, the cache key of a cached one, and for the others a key of their
/// pool entry that the cache does not hold (so the walk stops there and the
/// describer pushes them itself).
fn dest_key(d: DestSpec) -> usize {
    match d {
        DestSpec::Connected => 0,
        DestSpec::Cached(p) => cache_key(p),
        DestSpec::Shared(p) | DestSpec::Fresh(p) => 1_000_000 + p,
    }
}

/// Cache key of pool address `i`.
fn cache_key(i: usize) -> usize {
    (i + 1) * 4096
}

/// What the oracle expects of one message.
struct Want {
    bytes: Vec<u8>,
    dest: Vec<u8>,
    control: Vec<u8>,
    len: usize,
}

/// Plans one chunk of `c.msgs[from..from + count]` and checks it. Returns
/// headers planned and how many of them were GSO sends.
fn plan_chunk(s: &mut Scratch, c: &Case, from: usize, count: usize, limit: usize, seed: u64) -> (usize, usize) {
    let pool = &c.pool;
    let msgs = &c.msgs[from..from + count];
    if !c.policy.enabled && seed % 2 == 1 {
        s.begin();
    } else {
        s.begin_with(c.policy);
    }
    s.set_limit(limit);
    assert_eq!(s.room(), limit);
    let shared: Vec<Dest> = pool.iter().map(|a| s.push_addr(*a)).collect();
    let vectors = Vectors::new(c, msgs);
    let mut wants: Vec<Want> = Vec::with_capacity(count);
    let mut i = 0;
    while i < count {
        let m = &msgs[i];
        let dest = match m.dest {
            DestSpec::Connected => Dest::Connected,
            DestSpec::Shared(p) => shared[p],
            DestSpec::Fresh(p) => s.push_addr(pool[p]),
            DestSpec::Cached(p) => s.cached_addr(cache_key(p)).expect("cached address"),
        };
        let control = if m.control.is_empty() {
            None
        } else {
            let start = s.control.len();
            let mut first = None;
            for (level, ty, data) in &m.control {
                let (off, data_off) = s.control.push_cmsg(*level, *ty, data.len()).expect("memory");
                s.control.bytes_mut()[data_off..data_off + data.len()].copy_from_slice(data);
                first.get_or_insert(off);
            }
            let off = first.unwrap();
            assert!(off >= start);
            Some((off, s.control.len() - off))
        };
        let ctl_bytes = control.map(|(o, l)| s.control.bytes()[o..o + l].to_vec()).unwrap_or_default();
        let want_of = |m: &Msg, ctl: Vec<u8>| Want {
            bytes: {
                let mut b = Vec::with_capacity(m.len);
                for &(o, l) in &m.vecs {
                    b.extend_from_slice(&c.arena[o..o + l]);
                }
                b
            },
            dest: m.dest.identity().map(|p| addr_bytes(&pool[p])).unwrap_or_default(),
            control: ctl,
            len: m.len,
        };
        assert!(s.room() > 0);
        let message = Message { dest, iov: vectors.of(i), control, len: m.len };
        if matches!(c.mode, Mode::PushCopied) {
            assert!(s.push_copied(message), "memory");
        } else {
            // SAFETY: `vectors` outlives the plan.
            unsafe { s.push(message) };
        }
        wants.push(want_of(m, ctl_bytes));
        i += 1;
        if matches!(c.mode, Mode::ExtendRun) && m.control.is_empty() {
            // The edge's fast path: following messages known to go to the
            // same destination without control data.
            let peek = |k: usize| {
                let n = msgs.get(i + k)?;
                match vectors.of(i + k) {
                    [one] if n.control.is_empty() => Some((dest_key(n.dest), one as *const libc::iovec)),
                    _ => None,
                }
            };
            // SAFETY: `vectors` outlives the plan.
            let added = unsafe { s.extend_simple(dest_key(m.dest), peek) };
            for k in 0..added {
                wants.push(want_of(&msgs[i + k], Vec::new()));
            }
            i += added;
        }
        assert_eq!(s.messages(), i);
    }
    s.plan();
    check_plan(s, c, &wants, &c.policy)
}

/// The messages' vectors, in one array or an array each.
enum Vectors {
    Flat(Vec<libc::iovec>, Vec<usize>),
    Each(Vec<Vec<libc::iovec>>),
}

impl Vectors {
    fn new(c: &Case, msgs: &[Msg]) -> Vectors {
        let each: Vec<Vec<libc::iovec>> = msgs
            .iter()
            .map(|m| {
                m.vecs
                    .iter()
                    .map(|&(off, len)| libc::iovec {
                        // SAFETY: off + len <= arena.len() (pointer arithmetic
                        // within, or one past the end of, the arena).
                        iov_base: unsafe { c.arena.as_ptr().add(off) } as *mut libc::c_void,
                        iov_len: len,
                    })
                    .collect()
            })
            .collect();
        if !c.flat {
            return Vectors::Each(each);
        }
        let mut starts = vec![0];
        for v in &each {
            starts.push(starts.last().unwrap() + v.len());
        }
        Vectors::Flat(each.concat(), starts)
    }

    fn of(&self, i: usize) -> &[libc::iovec] {
        match self {
            Vectors::Flat(all, starts) => &all[starts[i]..starts[i + 1]],
            Vectors::Each(each) => &each[i],
        }
    }
}

fn check_plan(s: &Scratch, c: &Case, wants: &[Want], policy: &GsoPolicy) -> (usize, usize) {
    let p = s.view();
    let arena_lo = c.arena.as_ptr() as usize;
    let arena_hi = arena_lo + c.arena.len();
    let mut next = 0;
    let mut gso_headers = 0;
    let mut prev: Option<(usize, usize, bool, usize, usize)> = None; // (seg, count, closed, total, first)
    for k in 0..p.len() {
        let h = p.header(k);
        assert_eq!(h.first, next, "header {k} starts at the wrong message");
        assert!(h.count >= 1 && next + h.count <= wants.len(), "header {k}: bad count {}", h.count);
        let mut payload = Vec::new();
        for &(base, len) in &h.iov {
            assert!(base >= arena_lo && base + len <= arena_hi, "header {k}: vector outside the caller's buffer");
            payload.extend_from_slice(&c.arena[base - arena_lo..base - arena_lo + len]);
        }
        let ms = &wants[next..next + h.count];
        if h.count == 1 {
            assert_eq!(h.segment, None, "header {k}: one message with a segment size");
            assert_eq!(payload, ms[0].bytes, "header {k}: payload");
            assert_eq!(h.dest, ms[0].dest, "header {k}: destination");
            assert_eq!(h.control, ms[0].control, "header {k}: control data");
        } else {
            gso_headers += 1;
            assert!(policy.enabled, "header {k}: coalesced with GSO off");
            let seg = h.segment.expect("a coalesced header has a segment size") as usize;
            assert_eq!(seg, ms[0].len, "header {k}: segment size is not the first message's size");
            assert!(seg > 0);
            assert!(h.count <= policy.max_segments, "header {k}: {} segments", h.count);
            let total: usize = ms.iter().map(|m| m.len).sum();
            assert!(total <= policy.max_bytes, "header {k}: {total} bytes");
            assert_eq!(payload.len(), total, "header {k}: payload length");
            for (j, m) in ms.iter().enumerate() {
                assert!(m.control.is_empty(), "header {k}: message {j} has control data");
                assert_eq!(m.dest, ms[0].dest, "header {k}: message {j} goes elsewhere");
                if j + 1 < ms.len() {
                    assert_eq!(m.len, seg, "header {k}: message {j} is not segment-sized");
                } else {
                    assert!(m.len >= 1 && m.len <= seg, "header {k}: last message of {} bytes", m.len);
                }
                let lo = j * seg;
                assert_eq!(&payload[lo..lo + m.len], &m.bytes[..], "header {k}: segment {j}");
            }
            assert_eq!(h.dest, ms[0].dest, "header {k}: destination");
            assert_eq!(h.control, segment_cmsg(seg as u16), "header {k}: UDP_SEGMENT control block");
        }
        // Greedy: the first message of this header could not have joined
        // the previous one.
        if let (Some((pseg, pcount, pclosed, ptotal, pfirst)), true) = (prev, policy.enabled) {
            let m = &ms[0];
            let pm = &wants[pfirst];
            let could = pm.control.is_empty()
                && !pclosed
                && m.control.is_empty()
                && m.len >= 1
                && m.len <= pseg
                && pcount < policy.max_segments
                && ptotal + m.len <= policy.max_bytes
                && m.dest == pm.dest;
            assert!(!could, "header {k}: message {next} could have joined the previous run");
        }
        let total: usize = ms.iter().map(|m| m.len).sum();
        let closed = h.count > 1 && ms[h.count - 1].len < ms[0].len;
        prev = Some((ms[0].len, h.count, closed, total, next));
        next += h.count;
    }
    assert_eq!(next, wants.len(), "messages not planned");
    (p.len(), gso_headers)
}

fn segment_cmsg(seg: u16) -> Vec<u8> {
    // SAFETY: CMSG_* are pure arithmetic.
    let space = unsafe { libc::CMSG_SPACE(2) } as usize;
    // SAFETY: as above.
    let len = unsafe { libc::CMSG_LEN(2) } as usize;
    let mut v = vec![0u8; space];
    let hdr = libc::cmsghdr { cmsg_len: len as _, cmsg_level: libc::SOL_UDP, cmsg_type: libc::UDP_SEGMENT };
    let hs = std::mem::size_of::<libc::cmsghdr>();
    // SAFETY: cmsghdr is plain old data.
    let raw = unsafe { std::slice::from_raw_parts((&hdr as *const libc::cmsghdr).cast::<u8>(), hs) };
    v[..hs].copy_from_slice(raw);
    let d = len - 2;
    v[d..d + 2].copy_from_slice(&seg.to_ne_bytes());
    v
}

#[derive(Default)]
struct Stats {
    cases: usize,
    messages: usize,
    headers: usize,
    gso_headers: usize,
}

fn run_case(s: &mut Scratch, seed: u64, st: &mut Stats) {
    let c = gen_case(seed, pool(), PLAN_SHAPE);
    // The cache holds the pool (inserted once per scratch; re-inserting a
    // cached key is not allowed, so look first).
    for (i, a) in c.pool.iter().enumerate() {
        if s.cache.get(cache_key(i)).is_none() {
            // SAFETY: the keys own nothing; releasing them does nothing.
            assert!(s.cache.insert(cache_key(i), a));
        }
    }
    let mut from = 0;
    for (j, &limit) in c.limits.iter().enumerate() {
        // A chunk may be given more room than it uses.
        let room = if j % 3 == 0 { CHUNK } else { limit };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plan_chunk(s, &c, from, limit, room, seed)));
        match r {
            Ok((h, g)) => {
                st.headers += h;
                st.gso_headers += g;
            }
            Err(e) => {
                eprintln!(
                    "plan_props: failing case: PLAN_PROPS_SEED={seed} (chunk {j}, messages {from}..{}, policy {:?}, mode {:?})",
                    from + limit,
                    c.policy,
                    c.mode
                );
                std::panic::resume_unwind(e);
            }
        }
        from += limit;
    }
    assert_eq!(from, c.msgs.len());
    st.cases += 1;
    st.messages += c.msgs.len();
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn planned_headers_match_the_oracle() {
    let start = std::time::Instant::now();
    let mut st = Stats::default();
    let mut s = Scratch::default();
    if let Some(seed) = env_u64("PLAN_PROPS_SEED") {
        run_case(&mut s, seed, &mut st);
        return;
    }
    // By default: 400 cases or 4 seconds, whichever comes first (at least
    // 30 cases); PLAN_PROPS_ITERS=<n> runs exactly n.
    let fixed = env_u64("PLAN_PROPS_ITERS");
    let iters = fixed.unwrap_or(400);
    for seed in 1..=iters {
        if fixed.is_none() && seed > 30 && start.elapsed() > std::time::Duration::from_secs(4) {
            break;
        }
        // One scratch reused across cases, like the per-thread one, and now
        // and then a fresh one.
        if seed % 50 == 0 {
            s = Scratch::default();
        }
        run_case(&mut s, seed, &mut st);
    }
    eprintln!(
        "plan_props: {} cases, {} messages, {} headers ({} GSO) in {:.2?}",
        st.cases,
        st.messages,
        st.headers,
        st.gso_headers,
        start.elapsed()
    );
    assert!(st.gso_headers > 0 || st.cases < 10, "no case produced a GSO header: the generator is broken");
}

/// Fixed shapes the random cases might miss.
#[test]
fn edge_shapes() {
    let mut st = Stats::default();
    let mut s = Scratch::default();
    for seed in [0u64, u64::MAX, 1 << 63, 12345] {
        run_case(&mut s, seed, &mut st);
    }
    // Exact header counts at the limits: 64 segments, 65507 bytes.
    let arena = vec![7u8; 70_000];
    for (n, len, want) in [
        (64usize, 1000usize, vec![64usize]),
        (65, 1000, vec![64, 1]),
        (64, 1200, vec![54, 10]),
        (3, 65507, vec![1, 1, 1]),
        (2, 32753, vec![2]),
        (2, 32754, vec![1, 1]),
    ] {
        s.begin_with(GsoPolicy::UDP);
        let d = s.push_addr(sockaddr_in(9));
        let v = [libc::iovec { iov_base: arena.as_ptr() as *mut libc::c_void, iov_len: len }];
        for _ in 0..n {
            // SAFETY: `v` outlives the plan.
            unsafe { s.push(Message { dest: d, iov: &v, control: None, len }) };
        }
        s.plan();
        let p = s.view();
        let got: Vec<usize> = (0..p.len()).map(|k| p.header(k).count).collect();
        assert_eq!(got, want, "{n} × {len}");
    }
}

// ---- send() through real sockets ------------------------------------------
//
// `send` calls `sendmmsg` itself (only the `Waiter` is injected), so there
// is no fake sender to plug in: these properties use real UDP sockets on
// 127.0.0.1. Random batches (smaller ones: the receivers hold everything
// until the send returns) go to two receivers, through the connected peer,
// shared, duplicate and cached addresses, with IP_TOS control messages now
// and then; every message must be reported once, in order, with its size,
// and the receivers must get exactly the expected datagrams. On some cases
// the sender has SO_NO_CHECK set, so the kernel refuses GSO (EINVAL): the
// outcome must say so and nothing may be lost or doubled.

use gsend_engine::send::{send, SendRequest};
use gsend_engine::wait::{PollWaiter, Timeout};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

fn udp_socket() -> OwnedFd {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    // SAFETY: fd is new and owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn setsockopt_int(fd: &OwnedFd, level: i32, name: i32, v: i32) -> i32 {
    // SAFETY: v is a valid int for the option's length.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    }
}

/// A receiver bound to 127.0.0.1 on an ephemeral port, and its address.
fn receiver() -> (OwnedFd, SockAddr) {
    let fd = udp_socket();
    if setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 32 << 20) != 0 {
        setsockopt_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 8 << 20);
    }
    let a = sockaddr_in(0);
    // SAFETY: a holds a valid sockaddr_in of a.len bytes.
    let r = unsafe { libc::bind(fd.as_raw_fd(), (&a.storage as *const libc::sockaddr_storage).cast(), a.len) };
    assert_eq!(r, 0);
    let mut b = SockAddr { len: std::mem::size_of::<libc::sockaddr_storage>() as _, ..Default::default() };
    // SAFETY: b.storage is writable for b.len bytes.
    let r = unsafe {
        libc::getsockname(fd.as_raw_fd(), (&mut b.storage as *mut libc::sockaddr_storage).cast(), &mut b.len)
    };
    assert_eq!(r, 0);
    (fd, b)
}

/// Receives `want` datagrams (2 s for each at most), then any extra one
/// that shows up within 50 ms.
fn recv_n(fd: &OwnedFd, want: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 70_000];
    loop {
        let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let t = if got.len() < want { 2000 } else { 50 };
        // SAFETY: p is one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, t) } <= 0 {
            return got;
        }
        // SAFETY: buf is writable for its length.
        let r = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if r >= 0 {
            got.push(buf[..r as usize].to_vec());
        }
    }
}

const SEND_SHAPE: Shape = Shape { max_n: 1200, big_max: 65_507, real_control: true };

/// Returns (messages, GSO refused).
fn send_case(seed: u64) -> (usize, bool) {
    let (rx_a, addr_a) = receiver();
    let (rx_b, addr_b) = receiver();
    // Pool: A, B, and A again (same bytes, another index).
    let pool = vec![addr_a, addr_b, addr_a];
    let mut c = gen_case(seed, pool.clone(), SEND_SHAPE);
    // Keep what the receivers must hold bounded: at most ~6 MB per case.
    let mut total = 0;
    let keep = c.msgs.iter().take_while(|m| {
        total += m.len + 1024;
        total < 6 << 20
    });
    let keep = keep.count();
    c.msgs.truncate(keep);
    let tx = udp_socket();
    // SAFETY: addr_a is a valid sockaddr_in of addr_a.len bytes.
    let r =
        unsafe { libc::connect(tx.as_raw_fd(), (&addr_a.storage as *const libc::sockaddr_storage).cast(), addr_a.len) };
    assert_eq!(r, 0);
    let no_check = seed % 5 == 2;
    if no_check {
        assert_eq!(setsockopt_int(&tx, libc::SOL_SOCKET, libc::SO_NO_CHECK, 1), 0);
    }
    let vectors = Vectors::new(&c, &c.msgs);
    let n = c.msgs.len();
    let mut s = Scratch::default();
    for (i, a) in pool.iter().enumerate() {
        // SAFETY: the keys own nothing.
        assert!(s.cache.insert(cache_key(i), a));
    }
    let req = SendRequest { fd: tx.as_raw_fd(), n, flags: 0, timeout: Timeout::Block(None), gso: c.policy };
    let extend = matches!(c.mode, Mode::ExtendRun);
    let mut reports: Vec<(usize, usize)> = Vec::with_capacity(n);
    let out = send::<()>(
        &mut s,
        &req,
        &mut PollWaiter,
        |i, s| {
            let m = &c.msgs[i];
            let dest = match m.dest {
                DestSpec::Connected => Dest::Connected,
                DestSpec::Shared(p) | DestSpec::Fresh(p) => s.push_addr(pool[p]),
                DestSpec::Cached(p) => s.cached_addr(cache_key(p)).expect("cached"),
            };
            let control = if m.control.is_empty() {
                None
            } else {
                let mut first = None;
                for (level, ty, data) in &m.control {
                    let (off, d) = s.control.push_cmsg(*level, *ty, data.len()).expect("memory");
                    s.control.bytes_mut()[d..d + data.len()].copy_from_slice(data);
                    first.get_or_insert(off);
                }
                let off = first.unwrap();
                Some((off, s.control.len() - off))
            };
            let message = Message { dest, iov: vectors.of(i), control, len: m.len };
            if matches!(c.mode, Mode::PushCopied) {
                assert!(s.push_copied(message), "memory");
            } else {
                // SAFETY: `vectors` outlives the send.
                unsafe { s.push(message) };
            }
            if extend && control.is_none() {
                let peek = |k: usize| {
                    let nm = c.msgs.get(i + 1 + k)?;
                    match vectors.of(i + 1 + k) {
                        [one] if nm.control.is_empty() => Some((dest_key(nm.dest), one as *const libc::iovec)),
                        _ => None,
                    }
                };
                // SAFETY: `vectors` outlives the send.
                unsafe { s.extend_simple(dest_key(m.dest), peek) };
            }
            Ok(())
        },
        |i, b| reports.push((i, b)),
    );
    let ctx = format!("PLAN_PROPS_SEED={seed} (send, {n} messages, policy {:?}, no_check {no_check})", c.policy);
    assert!(out.failure.is_none(), "{ctx}: {:?}", out.failure);
    assert_eq!(out.sent, n, "{ctx}");
    if !no_check || !c.policy.enabled {
        assert!(!out.gso_refused, "{ctx}: GSO refused on a socket that allows it");
    }
    let want_reports: Vec<(usize, usize)> = c.msgs.iter().enumerate().map(|(i, m)| (i, m.len)).collect();
    assert_eq!(reports, want_reports, "{ctx}: reports");
    for (fd, idx) in [(&rx_a, 0usize), (&rx_b, 1usize)] {
        let want: Vec<Vec<u8>> = c
            .msgs
            .iter()
            .filter(|m| match m.dest {
                DestSpec::Connected => idx == 0,
                _ => {
                    c.pool[m.dest.identity().unwrap()].storage.ss_family as i32 == libc::AF_INET
                        && addr_bytes(&c.pool[m.dest.identity().unwrap()]) == addr_bytes(&c.pool[idx])
                }
            })
            .map(|m| {
                let mut b = Vec::with_capacity(m.len);
                for &(o, l) in &m.vecs {
                    b.extend_from_slice(&c.arena[o..o + l]);
                }
                b
            })
            .collect();
        let got = recv_n(fd, want.len());
        assert_eq!(got.len(), want.len(), "{ctx}: receiver {idx} datagram count");
        for (j, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(g == w, "{ctx}: receiver {idx} datagram {j} differs ({} vs {} bytes)", g.len(), w.len());
        }
    }
    (n, out.gso_refused)
}

#[test]
fn send_delivers_exactly_the_planned_datagrams() {
    let start = std::time::Instant::now();
    if let Some(seed) = env_u64("PLAN_PROPS_SEED") {
        send_case(seed);
        return;
    }
    let fixed = env_u64("PLAN_PROPS_ITERS");
    let iters = fixed.map(|n| n / 4 + 1).unwrap_or(60);
    let (mut cases, mut msgs, mut refused) = (0, 0, 0);
    for seed in 1..=iters {
        if fixed.is_none() && seed > 10 && start.elapsed() > std::time::Duration::from_secs(4) {
            break;
        }
        let (n, r) = send_case(seed);
        cases += 1;
        msgs += n;
        refused += usize::from(r);
    }
    eprintln!("send_props: {cases} cases, {msgs} messages, GSO refused in {refused}, in {:.2?}", start.elapsed());
    assert!(refused > 0 || cases < 20, "SO_NO_CHECK never made the kernel refuse GSO");
}

/// A policy whose byte limit exceeds 65535 must not let a run start with a
/// message larger than a 16-bit segment size (the planner once truncated
/// 66788 to 1252 in the `UDP_SEGMENT` block; such a message now goes alone).
#[test]
fn segment_size_beyond_16_bits() {
    let arena = vec![1u8; 70_000];
    let mut s = Scratch::default();
    let policy = GsoPolicy { enabled: true, max_segments: 64, max_bytes: 69_329 };
    s.begin_with(policy);
    let d = s.push_addr(sockaddr_in(9));
    let v: Vec<libc::iovec> = [66_788usize, 100]
        .iter()
        .map(|&len| libc::iovec { iov_base: arena.as_ptr() as *mut libc::c_void, iov_len: len })
        .collect();
    for k in 0..v.len() {
        // SAFETY: `v` outlives the plan.
        unsafe { s.push(Message { dest: d, iov: &v[k..k + 1], control: None, len: v[k].iov_len }) };
    }
    s.plan();
    let p = s.view();
    for k in 0..p.len() {
        let h = p.header(k);
        if let Some(seg) = h.segment {
            assert_eq!(seg as usize, 66_788, "segment size truncated");
        }
    }
}
