//! The one control-message encoder: lays out a `cmsghdr` and its data the
//! way the kernel reads them (`CMSG_LEN`, `CMSG_SPACE`), for the user's
//! control data ([`crate::control::ControlBuf`]) and for the planner's
//! `UDP_SEGMENT` blocks alike. Safe code: the header is written field by
//! field as bytes, at the offsets the C struct has.

use std::mem::offset_of;

/// `CMSG_SPACE(data_len)`: bytes one control message takes, padding
/// included, before the next one may start.
#[inline(always)]
pub const fn space(data_len: usize) -> usize {
    // SAFETY: CMSG_SPACE is pure arithmetic on its argument.
    unsafe { libc::CMSG_SPACE(data_len as libc::c_uint) as usize }
}

/// `CMSG_LEN(data_len)`: the header's `cmsg_len` (header and data, without
/// the trailing padding).
#[inline(always)]
pub const fn len(data_len: usize) -> usize {
    // SAFETY: CMSG_LEN is pure arithmetic on its argument.
    unsafe { libc::CMSG_LEN(data_len as libc::c_uint) as usize }
}

/// Where a control message's data starts, from its header.
pub const DATA_OFFSET: usize = len(0);

/// Writes the header of one control message (`level`, `ty`, `data_len`
/// bytes of data) at the start of `out` and zeroes the rest of its
/// [`space`], data included; returns the data's offset in `out`
/// ([`DATA_OFFSET`]). `out` must start on a `cmsghdr` alignment boundary
/// for the kernel (the encoder itself only writes bytes).
///
/// # Panics
/// If `out` is shorter than `space(data_len)`.
#[inline(always)]
pub fn encode_header(out: &mut [u8], level: i32, ty: i32, data_len: usize) -> usize {
    let out = &mut out[..space(data_len)];
    out.fill(0);
    let hdr = libc::cmsghdr { cmsg_len: len(data_len) as _, cmsg_level: level, cmsg_type: ty };
    put(out, offset_of!(libc::cmsghdr, cmsg_len), &hdr.cmsg_len.to_ne_bytes());
    put(out, offset_of!(libc::cmsghdr, cmsg_level), &hdr.cmsg_level.to_ne_bytes());
    put(out, offset_of!(libc::cmsghdr, cmsg_type), &hdr.cmsg_type.to_ne_bytes());
    DATA_OFFSET
}

/// Writes one whole control message (header and `data`) at the start of
/// `out`; returns the bytes it takes ([`space`]).
///
/// # Panics
/// If `out` is shorter than `space(data.len())`.
#[inline(always)]
pub fn encode(out: &mut [u8], level: i32, ty: i32, data: &[u8]) -> usize {
    let at = encode_header(out, level, ty, data.len());
    out[at..at + data.len()].copy_from_slice(data);
    space(data.len())
}

#[inline(always)]
fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads back what `encode` wrote with libc's own macros, as the
    /// kernel would walk it.
    #[test]
    fn libc_reads_back_what_is_encoded() {
        let mut words = [u64::MAX; 8];
        // SAFETY: any u64 array is a valid u8 array of eight times the length.
        let buf = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), 64) };
        let n = encode(buf, libc::SOL_UDP, libc::UDP_SEGMENT, &0x1234u16.to_ne_bytes());
        assert_eq!(n, space(2));
        assert!(buf[len(2)..n].iter().all(|&b| b == 0), "padding is zeroed");
        let mut msg: libc::msghdr = unsafe_zeroed_msghdr();
        msg.msg_control = buf.as_mut_ptr().cast();
        msg.msg_controllen = n;
        // SAFETY: `msg` points at `n` readable, cmsghdr-aligned bytes.
        let c = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        assert!(!c.is_null());
        // SAFETY: `c` is the first header, inside the buffer.
        let h = unsafe { c.read() };
        // SAFETY: `c` is a header inside the buffer.
        let d = unsafe { libc::CMSG_DATA(c) };
        // SAFETY: the data's two bytes are within `len(2)` of the header.
        let data = unsafe { d.cast::<u16>().read_unaligned() };
        let (level, ty, clen) = (h.cmsg_level, h.cmsg_type, h.cmsg_len as usize);
        assert_eq!((level, ty, clen, data), (libc::SOL_UDP, libc::UDP_SEGMENT, len(2), 0x1234));
    }

    #[test]
    fn sizes_are_the_kernels() {
        let hdr = std::mem::size_of::<libc::cmsghdr>();
        assert_eq!(DATA_OFFSET, hdr);
        assert_eq!(len(4), hdr + 4);
        assert_eq!(space(4) % std::mem::size_of::<usize>(), 0);
        assert!(space(4) >= len(4));
    }

    #[test]
    #[should_panic]
    fn too_short_a_buffer_panics() {
        let mut b = [0u8; 8];
        encode_header(&mut b, 0, 0, 4);
    }

    fn unsafe_zeroed_msghdr() -> libc::msghdr {
        // SAFETY: an all-zero msghdr (null pointers, zero lengths) is valid.
        unsafe { std::mem::zeroed() }
    }
}
