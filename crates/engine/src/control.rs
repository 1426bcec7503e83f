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

    /// Reserves `n` zeroed bytes at an 8-aligned offset and returns the offset.
    pub fn push_zeroed(&mut self, n: usize) -> usize {
        let off = align(self.len);
        let end = off + n;
        let words = align(end) / 8;
        if self.words.len() < words {
            self.words.resize(words, 0);
        }
        self.bytes_mut()[off..end].fill(0);
        self.len = end;
        off
    }

    /// Appends one control message (`cmsghdr` + `data`), returning the offset
    /// of its header. Several appended back to back form one message's block.
    pub fn push_cmsg(&mut self, level: i32, ty: i32, data_len: usize) -> (usize, usize) {
        let off = self.push_zeroed(cmsg::space(data_len));
        let data_off = off + cmsg::encode_header(&mut self.bytes_mut()[off..], level, ty, data_len);
        (off, data_off)
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
        let a = b.push_zeroed(3);
        b.bytes_mut()[a] = 9;
        let c = b.push_zeroed(5);
        assert_eq!(a, 0);
        assert_eq!(c % 8, 0);
        assert!(c >= 3);
        assert_eq!(&b.bytes()[c..c + 5], &[0; 5]);
        let (h, d) = b.push_cmsg(17, 103, 2);
        assert_eq!(h % 8, 0);
        assert!(d > h);
        let len = u64::from_ne_bytes(b.bytes()[h..h + 8].try_into().unwrap());
        assert_eq!(len as usize, cmsg::len(2));
        b.clear();
        assert!(b.is_empty());
    }
}
