//! Text as people see it: a reason or a name made of blanks and zero-width characters
//! says nothing, however many characters it has.

/// Characters that take no visible space: whitespace, controls, and the format and
/// filler characters (zero-width space and joiners, bidirectional marks, the word
/// joiner and invisible operators, the byte-order mark, variation selectors, tags,
/// the Hangul and Braille blanks, the soft hyphen).
pub fn is_invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
            | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{2800}' | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}')
}

/// How many characters of `s` can be seen.
pub fn visible_chars(s: &str) -> usize {
    s.chars().filter(|c| !is_invisible(*c)).count()
}

/// Fewest digits in a run that could be an ID number (15 or 18) or a phone number
/// (10 to 12, DOMAIN.md §1); record ids stay shorter at the largest city.
pub const REDACT_DIGITS_MIN: usize = 10;

/// `s` with every run that could be an ID or phone number replaced by `*`s: digits
/// (with an ID number's `X`, and the hyphens and spaces a phone is written with, raw
/// or `%20`-encoded) of at least [`REDACT_DIGITS_MIN`] digits. For what reaches a log
/// unparsed, such as a request's path (DOMAIN.md §10: absent from logs at every level).
pub fn redact_numbers(s: &str) -> std::borrow::Cow<'_, str> {
    let b = s.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A run: digits, separators and X, ending on a digit or X.
        let (start, mut end, mut digits, mut shown, mut j) = (i, i, 0, 0, i);
        while j < b.len() {
            let step = match b[j] {
                b'0'..=b'9' => {
                    digits += 1;
                    1
                }
                b'X' | b'x' if digits > 0 => 1,
                b'-' | b' ' => 1,
                b'%' if b[j..].starts_with(b"%20") => 3,
                _ => break,
            };
            if step == 1 && b[j].is_ascii_alphanumeric() {
                end = j + 1;
                shown += 1;
            }
            j += step;
        }
        if digits >= REDACT_DIGITS_MIN {
            let out = out.get_or_insert_with(|| String::with_capacity(s.len()));
            out.push_str(&s[copied..start]);
            out.push_str(&"*".repeat(shown));
            copied = end;
        }
        i = end.max(i + 1);
    }
    match out {
        None => std::borrow::Cow::Borrowed(s),
        Some(mut out) => {
            out.push_str(&s[copied..]);
            std::borrow::Cow::Owned(out)
        }
    }
}

/// Compares secrets without stopping at the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_10_numbers_that_could_be_personal_are_redacted() {
        for (text, want) in [
            ("/api/v1/residents/12345678", "/api/v1/residents/12345678"),
            (
                "/api/v1/residents/110101199003077777",
                "/api/v1/residents/******************",
            ),
            ("/x/11010119900307777X/y", "/x/******************/y"),
            ("/x/110101900307777", "/x/***************"),
            ("/p/13812345678", "/p/***********"),
            ("/p/138-1234-5678/q", "/p/***********/q"),
            ("/p/022%202345%206789", "/p/***********"),
            ("/p/0222345678", "/p/**********"),
            ("/p/123456789", "/p/123456789"),
            ("/a/1/b/2", "/a/1/b/2"),
            ("12345678901-", "***********-"),
            ("", ""),
        ] {
            assert_eq!(redact_numbers(text), want, "{text}");
        }
    }

    #[test]
    fn only_what_can_be_seen_counts() {
        for (text, want) in [
            ("复诊随访", 4),
            ("  ab ", 2),
            ("\u{200B}\u{200B}\u{200B}\u{200B}", 0),
            ("\u{200D}\u{FEFF}\u{2060}\u{3164}", 0),
            ("a\u{200B}b\u{200C}c\u{200D}d", 4),
            ("\u{00A0}\u{3000}\t\n", 0),
            ("\u{202E}abc", 3),
            ("李\u{FE0F}", 1),
            ("", 0),
        ] {
            assert_eq!(visible_chars(text), want, "{text:?}");
        }
    }
}
