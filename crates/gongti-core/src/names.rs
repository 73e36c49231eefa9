//! People's names as FHIR carries them (DOMAIN.md §7): a Chinese name is kept whole as
//! one text, and split into family and given parts by the compound-surname list
//! (`data/compound_surnames.txt`, versioned, with its source) — 欧阳娜娜 is 欧阳 +
//! 娜娜, not 欧 + 阳娜娜. A name that is not written in Han characters alone (a
//! transliterated minority name with its `·`, a foreign name) is not split at all.

use std::sync::OnceLock;

/// The compound-surname list's version, from its header.
pub fn surnames_version() -> &'static str {
    &surnames().0
}

fn surnames() -> &'static (String, Vec<&'static str>) {
    static LIST: OnceLock<(String, Vec<&'static str>)> = OnceLock::new();
    LIST.get_or_init(|| {
        let text: &'static str = include_str!("../data/compound_surnames.txt");
        let mut version = String::new();
        let mut list = Vec::new();
        for line in text.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("# version:") {
                version = v.trim().to_owned();
            } else if !line.is_empty() && !line.starts_with('#') {
                list.push(line);
            }
        }
        (version, list)
    })
}

/// A name's family and given parts; both `None` when the name is not split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameParts<'a> {
    pub family: Option<&'a str>,
    pub given: Option<&'a str>,
}

/// Han ideographs (the unified blocks and the compatibility ones).
fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3134F}')
}

/// Splits a name: a compound surname when the name starts with one and something is
/// left for the given name, else its first character; names with anything but Han
/// characters are not split.
pub fn split_name(name: &str) -> NameParts<'_> {
    let none = NameParts {
        family: None,
        given: None,
    };
    if name.is_empty() || !name.chars().all(is_han) {
        return none;
    }
    let first_len = name.chars().next().map_or(0, char::len_utf8);
    let family_len = surnames()
        .1
        .iter()
        .find(|s| name.starts_with(**s) && name.len() > s.len())
        .map_or(first_len, |s| s.len());
    let (family, given) = name.split_at(family_len);
    NameParts {
        family: Some(family),
        given: (!given.is_empty()).then_some(given),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DOMAIN.md §7: Patient names keep their text and split family/given by the
    /// compound-surname list.
    #[test]
    fn names_split_at_compound_surnames() {
        let cases: [(&str, Option<&str>, Option<&str>); 10] = [
            ("张伟", Some("张"), Some("伟")),
            ("王秀英", Some("王"), Some("秀英")),
            ("欧阳娜娜", Some("欧阳"), Some("娜娜")),
            ("司马光", Some("司马"), Some("光")),
            ("诸葛亮", Some("诸葛"), Some("亮")),
            // Nothing left for a given name: not split as a compound.
            ("欧阳", Some("欧"), Some("阳")),
            ("张", Some("张"), None),
            // 单于 is left out of the list: 单 is the common surname.
            ("单于丽", Some("单"), Some("于丽")),
            ("阿依古丽·买买提", None, None),
            ("John Smith", None, None),
        ];
        for (name, family, given) in cases {
            assert_eq!(split_name(name), NameParts { family, given }, "{name}");
        }
        assert_eq!(
            split_name(""),
            NameParts {
                family: None,
                given: None
            }
        );
    }

    #[test]
    fn the_list_carries_its_version() {
        assert_eq!(surnames_version(), "compound-surnames/2026.1");
        assert!(surnames().1.len() > 50);
        assert!(surnames().1.iter().all(|s| s.chars().count() == 2));
    }
}
