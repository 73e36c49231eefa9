//! Request ids (`x-request-id`: carried by the logs and the audit records), in the
//! shape of a version 4 UUID (RFC 9562 §5.4), made from a key drawn once per process
//! and a counter. A random UUID per request asked the operating system for 16 bytes
//! each time, a system call on every request (BENCHMARKS.md, issue 12). The counter goes
//! through a mix that is a bijection, so two ids meet only where their mixes agree in
//! the 122 bits the version and variant leave: as seldom as random UUIDs meet, within
//! a process or across processes (each draws its own key).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderValue, Request};
use gongti_core::mix::splitmix64;
use tower_http::request_id::{MakeRequestId, RequestId};

/// Makes the ids; clones share the counter.
#[derive(Clone)]
pub(crate) struct RequestIds(Arc<Source>);

struct Source {
    key: [u64; 2],
    next: AtomicU64,
}

impl RequestIds {
    pub(crate) fn new() -> RequestIds {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source");
        let (a, b) = bytes.split_at(8);
        let word = |half: &[u8]| u64::from_le_bytes(half.try_into().unwrap_or_default());
        RequestIds(Arc::new(Source {
            key: [word(a), word(b)],
            next: AtomicU64::new(0),
        }))
    }

    /// The next id's text.
    fn next_text(&self) -> [u8; 36] {
        let n = self.0.next.fetch_add(1, Ordering::Relaxed);
        uuid_text(
            splitmix64(n ^ self.0.key[0]),
            splitmix64(n.rotate_left(32) ^ self.0.key[1]),
        )
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_bytes(&self.next_text())
            .ok()
            .map(RequestId::new)
    }
}

/// 128 bits as a UUID's text (`8-4-4-4-12` lower-case hex digits), with the version
/// (4, the 13th digit) and the variant (`10`, the top bits of the 17th) set over
/// six of the 128 bits.
fn uuid_text(high: u64, low: u64) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut v = (u128::from(high) << 64) | u128::from(low);
    v = (v & !(0xF << 76)) | (0x4 << 76);
    v = (v & !(0x3 << 62)) | (0x2 << 62);
    let mut out = [b'-'; 36];
    let mut digit = 0;
    for (place, slot) in out.iter_mut().enumerate() {
        if matches!(place, 8 | 13 | 18 | 23) {
            continue;
        }
        *slot = HEX[((v >> (124 - 4 * digit)) & 0xF) as usize];
        digit += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_a_version_4_uuid_in_text() {
        for (high, low, text) in [
            (0, 0, "00000000-0000-4000-8000-000000000000"),
            (u64::MAX, u64::MAX, "ffffffff-ffff-4fff-bfff-ffffffffffff"),
            (
                0x0123_4567_89ab_cdef,
                0xfedc_ba98_7654_3210,
                "01234567-89ab-4def-bedc-ba9876543210",
            ),
        ] {
            assert_eq!(std::str::from_utf8(&uuid_text(high, low)), Ok(text));
        }
    }

    #[test]
    fn the_ids_of_a_process_differ() {
        let ids = RequestIds::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..100_000 {
            let text = ids.next_text();
            assert_eq!(text[14], b'4');
            assert!(matches!(text[19], b'8' | b'9' | b'a' | b'b'));
            assert!(seen.insert(text));
        }
        // Another process's ids (another key) are others.
        let other = RequestIds::new();
        assert!(!seen.contains(&other.next_text()));
    }
}
