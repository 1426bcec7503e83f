//! An aligned byte buffer holding `cmsghdr` blocks for a batch.

use crate::cmsg;

/// Control data for every message of a batch, back to back. Each message's
/// block starts on a `cmsghdr` alignment boundary. Offsets, not pointers,
/// are handed out so that the buffer may grow while a batch is planned.
#[derive(Default)]
pub struct ControlBuf {
    words: Vec<u64>,
    len: usize,
}

fn align(n: usize) -> usize {
    (n + 7) & !7
}

impl ControlBuf {
    /// Forgets the contents, keeps the memory.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Bytes in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reserves `n` zeroed bytes at an 8-aligned offset and returns the
    /// offset; `None`, storing nothing, if the buffer cannot grow (memory is
    /// short).
    pub fn push_zeroed(&mut self, n: usize) -> Option<usize> {
        let off = align(self.len);
        let end = off.checked_add(n).filter(|&end| end <= isize::MAX as usize)?;
        let words = align(end) / 8;
        if self.words.len() < words {
            let more = words - self.words.len();
            if !crate::grow::reserve(&mut self.words, more) {
                return None;
            }
            // Within the capacity just made sure of: no allocation.
            self.words.resize(words, 0);
        }
        self.bytes_mut()[off..end].fill(0);
        self.len = end;
        Some(off)
    }

    /// Appends one control message (`cmsghdr` + `data`), returning the offset
    /// of its header and of its data; `None`, storing nothing, if the buffer
    /// cannot grow. Several appended back to back form one message's block.
    pub fn push_cmsg(&mut self, level: i32, ty: i32, data_len: usize) -> Option<(usize, usize)> {
        let off = self.push_zeroed(cmsg::space(data_len))?;
        let data_off = off + cmsg::encode_header(&mut self.bytes_mut()[off..], level, ty, data_len);
        Some((off, data_off))
    }

    /// The stored bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: any u64 array is a valid u8 array of eight times the length.
        let all = unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.words.len() * 8) };
        &all[..self.len]
    }

    /// The whole allocated area as bytes (its length is at least `len()`).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: any u64 array is a valid u8 array of eight times the length,
        // and the borrow is exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.words.len() * 8) }
    }

    /// Bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }

    /// Where the bytes start (moves when the buffer grows).
    pub fn base(&self) -> *const u8 {
        self.words.as_ptr().cast()
    }

    /// Pointer to the byte at `off`, for the kernel.
    pub fn ptr_at(&mut self, off: usize) -> *mut libc::c_void {
        debug_assert!(off <= self.len);
        self.bytes_mut()[off..].as_mut_ptr().cast()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_and_zeroed() {
        let mut b = ControlBuf::default();
        let a = b.push_zeroed(3).unwrap();
        b.bytes_mut()[a] = 9;
        let c = b.push_zeroed(5).unwrap();
        assert_eq!(a, 0);
        assert_eq!(c % 8, 0);
        assert!(c >= 3);
        assert_eq!(&b.bytes()[c..c + 5], &[0; 5]);
        let (h, d) = b.push_cmsg(17, 103, 2).unwrap();
        assert_eq!(h % 8, 0);
        assert!(d > h);
        let len = u64::from_ne_bytes(b.bytes()[h..h + 8].try_into().unwrap());
        assert_eq!(len as usize, cmsg::len(2));
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn a_refused_growth_stores_nothing() {
        let mut b = ControlBuf::default();
        b.push_cmsg(1, 2, 4).unwrap();
        let (len, held) = (b.len(), b.heap_bytes());
        // What fits in the memory held still goes in; more does not.
        let room = held - len;
        assert_eq!(crate::grow::refused_in(|| b.push_cmsg(1, 2, 10 * room)), None);
        assert_eq!((b.len(), b.heap_bytes()), (len, held));
        let bytes = b.bytes().to_vec();
        assert!(crate::grow::refused_in(|| b.push_zeroed(held - crate::cmsg::space(4))).is_some());
        assert_eq!(&b.bytes()[..len], &bytes[..], "earlier blocks kept");
        assert_eq!(b.push_zeroed(usize::MAX), None, "an impossible size");
    }
}
