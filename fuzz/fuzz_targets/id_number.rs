//! The ID-number parser (GB 11643-1999, DOMAIN.md §1) on any text: it never panics,
//! and what it accepts is an 18-character number with a valid check character that
//! parses again to itself and prints masked.
#![no_main]

use gongti_core::id_number::{IdNumber, check_character};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let today = time::macros::date!(2026 - 12 - 01);
    if let Ok(id) = IdNumber::parse(text, today) {
        let s = id.as_str();
        assert_eq!(s.len(), 18);
        assert_eq!(check_character(&s.as_bytes()[..17]), s.as_bytes()[17] as char);
        assert!(id.birth_date() <= today);
        assert_eq!(IdNumber::parse(s, today).as_ref().map(IdNumber::as_str), Ok(s));
        assert!(!id.masked().contains(&s[6..14]));
    }
});
