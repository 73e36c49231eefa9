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

#[cfg(test)]
mod tests {
    use super::*;

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
