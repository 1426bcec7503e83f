//! A socket address in the kernel's form: the one type the system calls,
//! the address cache and the planner share. A leaf: it uses nothing else
//! of the engine.

/// A socket address in native form.
#[derive(Clone, Copy)]
pub struct SockAddr {
    /// The address bytes.
    pub storage: libc::sockaddr_storage,
    /// How many of them are used.
    pub len: libc::socklen_t,
}

impl SockAddr {
    /// All the storage's bytes.
    pub(crate) fn storage_bytes(&self) -> &[u8; std::mem::size_of::<libc::sockaddr_storage>()] {
        // SAFETY: sockaddr_storage is plain old data of exactly this size.
        unsafe { &*(&self.storage as *const libc::sockaddr_storage).cast() }
    }

    /// The first eight bytes, as one word.
    #[inline(always)]
    pub(crate) fn head(&self) -> u64 {
        let b = self.storage_bytes();
        u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.storage_bytes()[..(self.len as usize).min(std::mem::size_of::<libc::sockaddr_storage>())]
    }

    /// The name and its length for a kernel message header, which only
    /// reads it.
    #[inline(always)]
    pub(crate) fn name(&self) -> (*mut libc::c_void, libc::socklen_t) {
        ((&self.storage as *const libc::sockaddr_storage).cast_mut().cast(), self.len)
    }
}

impl Default for SockAddr {
    fn default() -> Self {
        // SAFETY: an all-zero sockaddr_storage is a valid value.
        SockAddr { storage: unsafe { std::mem::zeroed() }, len: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(port: u16) -> SockAddr {
        let mut a = SockAddr::default();
        // SAFETY: sockaddr_in fits in sockaddr_storage, which is aligned for it.
        let sin = unsafe { &mut *(&mut a.storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
        sin.sin_family = libc::AF_INET as _;
        sin.sin_port = port.to_be();
        a.len = std::mem::size_of::<libc::sockaddr_in>() as _;
        a
    }

    #[test]
    fn bytes_are_the_used_part_and_head_their_first_word() {
        let a = v4(0x1234);
        assert_eq!(a.bytes().len(), std::mem::size_of::<libc::sockaddr_in>());
        let b = a.bytes();
        assert_eq!(a.head(), u64::from_ne_bytes(b[..8].try_into().unwrap()));
        assert_eq!(&b[2..4], &0x1234u16.to_be_bytes());
        assert_ne!(v4(1).head(), v4(2).head());
    }

    #[test]
    fn default_is_empty_and_name_points_at_the_storage() {
        let a = SockAddr::default();
        assert!(a.bytes().is_empty());
        let mut big = v4(7);
        big.len = libc::socklen_t::MAX;
        assert_eq!(big.bytes().len(), std::mem::size_of::<libc::sockaddr_storage>());
        let (p, n) = big.name();
        assert_eq!(p as usize, &big.storage as *const _ as usize);
        assert_eq!(n, libc::socklen_t::MAX);
    }
}
