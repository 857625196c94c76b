//! The one content hash every artifact, corpus file and root cause is named
//! by: below the engine and the root-cause grouping, which both name files
//! with it.

/// A 64-bit FNV-1a hash of `bytes` as 16 hex digits: stable across runs,
/// platforms and versions.
pub fn content_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}
