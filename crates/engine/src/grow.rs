//! Growing a buffer of the scratch space without ending the process when
//! memory is short (`Vec::reserve`, `resize` and `push` abort then): every
//! buffer that may grow past what a chunk reserves up front grows here, and
//! its caller decides what a refusal means (a message that cannot be
//! planned ends the chunk before it; a copy that would only have joined a
//! run is not made).
//!
//! Unit tests can make every growth fail (see [`refused_in`]), so that each
//! caller's refusal path is exercised without exhausting memory.

/// Makes room for `more` elements after the `len()` of `v`: true if they
/// fit, at once or after growing; false, leaving `v` as it was, if the
/// memory cannot be had. Tries the usual doubling first, then exactly what
/// is asked for.
#[inline]
pub(crate) fn reserve<T>(v: &mut Vec<T>, more: usize) -> bool {
    if v.capacity() - v.len() >= more {
        return true;
    }
    grow(v, more)
}

#[cold]
#[inline(never)]
fn grow<T>(v: &mut Vec<T>, more: usize) -> bool {
    if refused() {
        return false;
    }
    v.try_reserve(more).is_ok() || v.try_reserve_exact(more).is_ok()
}

#[cfg(not(test))]
#[inline(always)]
fn refused() -> bool {
    false
}

#[cfg(test)]
thread_local! {
    /// While set, every growth this thread attempts is refused.
    static REFUSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
fn refused() -> bool {
    REFUSED.with(std::cell::Cell::get)
}

/// Runs `f` with every growth refused, as if memory had run out (tests
/// only; buffers with room to spare still take what fits).
#[cfg(test)]
pub(crate) fn refused_in<R>(f: impl FnOnce() -> R) -> R {
    REFUSED.with(|r| r.set(true));
    let out = f();
    REFUSED.with(|r| r.set(false));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_to_spare_needs_no_growth() {
        let mut v: Vec<u64> = Vec::with_capacity(4);
        v.push(1);
        assert!(refused_in(|| reserve(&mut v, 3)));
        assert!(!refused_in(|| reserve(&mut v, 4)), "a refused growth");
        assert_eq!((v.len(), v.capacity()), (1, 4), "left as it was");
        assert!(reserve(&mut v, 4));
        assert!(v.capacity() >= 5);
    }

    #[test]
    fn an_impossible_size_is_refused() {
        let mut v: Vec<u64> = Vec::new();
        assert!(!reserve(&mut v, usize::MAX / 2));
        assert_eq!(v.capacity(), 0);
    }
}
