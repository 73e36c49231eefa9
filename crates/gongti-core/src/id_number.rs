//! The resident ID number (公民身份号码, GB 11643-1999), DOMAIN.md §1.
//!
//! An [`IdNumber`] that exists is valid: 18 characters, a real birth date not in the
//! future, and the ISO 7064 MOD 11-2 check character. Legacy 15-digit numbers are
//! converted on parse. Unknown area codes are accepted on purpose (old codes stay valid).

use std::fmt;

use time::{Date, Month};

/// Weights of ISO 7064 MOD 11-2 for the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character indexed by the weighted sum mod 11.
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// Sex as recorded in the ID number: an odd sequence digit is male, an even one female.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// Stable storage code (GB/T 2261.1: 1 male, 2 female).
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
        }
    }

    pub fn from_code(code: &str) -> Option<Sex> {
        match code {
            "1" => Some(Sex::Male),
            "2" => Some(Sex::Female),
            _ => None,
        }
    }
}

/// Why a string is not a valid ID number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("an ID number has 18 characters (or 15 digits for a legacy number), found {found}")]
    WrongLength { found: usize },
    #[error("character {position} must be a digit")]
    NotADigit { position: usize },
    #[error("the birth date in the ID number is not a real date")]
    InvalidBirthDate,
    #[error("the birth date in the ID number is in the future")]
    BirthDateInFuture,
    #[error("the check character should be {expected}, found {found}")]
    BadCheckCharacter { expected: char, found: char },
}

/// A valid 18-character resident ID number, stored upper-case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl IdNumber {
    /// Parses an 18-character number (lower-case `x` accepted) or converts a legacy
    /// 15-digit one. `today` bounds the birth date.
    pub fn parse(input: &str, today: Date) -> Result<IdNumber, IdNumberError> {
        let input = input.trim();
        let chars = input.chars().count();
        let normalised = match chars {
            18 => input.to_ascii_uppercase(),
            15 => {
                check_digits(input, 15)?;
                widened(input)
            }
            found => return Err(IdNumberError::WrongLength { found }),
        };
        check_digits(&normalised, 17)?;
        let bytes = normalised.as_bytes();
        let birth = birth_date_of(bytes).ok_or(IdNumberError::InvalidBirthDate)?;
        if birth > today {
            return Err(IdNumberError::BirthDateInFuture);
        }
        let expected = check_character(&bytes[..17]);
        let found = bytes[17] as char;
        if found != expected {
            return Err(IdNumberError::BadCheckCharacter { expected, found });
        }
        Ok(IdNumber(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 6-digit administrative area code of the place of first registration.
    pub fn area_code(&self) -> &str {
        &self.0[..6]
    }

    pub fn birth_date(&self) -> Date {
        birth_date_of(self.0.as_bytes()).expect("checked on parse")
    }

    pub fn sex(&self) -> Sex {
        let sequence_digit = self.0.as_bytes()[16] - b'0';
        if sequence_digit % 2 == 1 {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The masked form shown to roles without a need to see it: `1101**********002X`.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }
}

/// The key under which two writings of one person's number meet, valid or not: an
/// 18-character number upper-cased (`x` is `X`), a legacy 15-digit one widened to its
/// 18 characters (the century `19` and the check character added) as
/// [`IdNumber::parse`] does. Anything else is its own trimmed, upper-cased text.
pub fn same_person_key(input: &str) -> String {
    let input = input.trim();
    if input.len() == 15 && input.bytes().all(|b| b.is_ascii_digit()) {
        widened(input)
    } else {
        input.to_ascii_uppercase()
    }
}

/// A legacy 15-digit number (digits checked) as its 18 characters: the century `19`
/// after the area code and the check character at the end.
fn widened(fifteen_digits: &str) -> String {
    let mut body = String::with_capacity(18);
    body.push_str(&fifteen_digits[..6]);
    body.push_str("19");
    body.push_str(&fifteen_digits[6..]);
    body.push(check_character(body.as_bytes()));
    body
}

/// Debug never shows the number itself, so it cannot leak into logs by accident.
impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

/// The check character for the first 17 digits (ISO 7064 MOD 11-2).
pub fn check_character(first_17_digits: &[u8]) -> char {
    let sum: u32 = first_17_digits[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    CHECK_CHARS[(sum % 11) as usize] as char
}

fn check_digits(s: &str, count: usize) -> Result<(), IdNumberError> {
    match s.bytes().take(count).position(|b| !b.is_ascii_digit()) {
        Some(index) => Err(IdNumberError::NotADigit {
            position: index + 1,
        }),
        None => Ok(()),
    }
}

fn birth_date_of(bytes: &[u8]) -> Option<Date> {
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        std::str::from_utf8(&bytes[range]).ok()?.parse().ok()
    };
    let year = i32::try_from(number(6..10)?).ok()?;
    let month = Month::try_from(u8::try_from(number(10..12)?).ok()?).ok()?;
    let day = u8::try_from(number(12..14)?).ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 22);

    #[test]
    fn domain_1_valid_vectors_parse() {
        for (input, birth, sex) in [
            ("11010519491231002X", date!(1949 - 12 - 31), Sex::Female),
            ("440524188001010014", date!(1880 - 01 - 01), Sex::Male),
        ] {
            let id = IdNumber::parse(input, TODAY).unwrap();
            assert_eq!(id.as_str(), input);
            assert_eq!(id.birth_date(), birth);
            assert_eq!(id.sex(), sex);
        }
    }

    #[test]
    fn domain_1_lower_case_x_is_stored_upper_case() {
        let id = IdNumber::parse("11010519491231002x", TODAY).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
    }

    #[test]
    fn domain_1_rejections() {
        let cases: &[(&str, IdNumberError)] = &[
            ("1101051949123100", IdNumberError::WrongLength { found: 16 }),
            ("", IdNumberError::WrongLength { found: 0 }),
            (
                "1101A5194912310020",
                IdNumberError::NotADigit { position: 5 },
            ),
            // Wrong check character: the valid one is X.
            (
                "110105194912310021",
                IdNumberError::BadCheckCharacter {
                    expected: 'X',
                    found: '1',
                },
            ),
            // 30 February.
            ("110105194902300028", IdNumberError::InvalidBirthDate),
            // Month 13.
            ("110105194913010028", IdNumberError::InvalidBirthDate),
            // Born after today.
            ("110105202701010028", IdNumberError::BirthDateInFuture),
            // Chinese characters count as characters, not bytes.
            ("一二三", IdNumberError::WrongLength { found: 3 }),
        ];
        for (input, expected) in cases {
            assert_eq!(
                IdNumber::parse(input, TODAY).as_ref(),
                Err(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn domain_1_unknown_area_code_is_accepted() {
        // 999999 is no area code; the number is still valid when its check character is.
        let body = "99999919800101001";
        let full = format!("{body}{}", check_character(body.as_bytes()));
        assert!(IdNumber::parse(&full, TODAY).is_ok());
    }

    #[test]
    fn domain_1_fifteen_digit_number_is_converted() {
        // 110105 491231 002 → 110105 19491231 002 + X.
        let id = IdNumber::parse("110105491231002", TODAY).unwrap();
        assert_eq!(id.as_str(), "11010519491231002X");
        assert_eq!(id.birth_date(), date!(1949 - 12 - 31));
    }

    #[test]
    fn domain_1_one_persons_writings_meet_under_one_key() {
        for (input, key) in [
            ("110105491231002", "11010519491231002X"),
            ("11010519491231002x", "11010519491231002X"),
            (" 11010519491231002X ", "11010519491231002X"),
            // Not a number: its own text, so two different typos stay apart.
            ("11010549123100", "11010549123100"),
            ("11010549123100A", "11010549123100A"),
        ] {
            assert_eq!(same_person_key(input), key, "{input}");
        }
    }

    #[test]
    fn domain_1_masked_form() {
        let id = IdNumber::parse("11010519491231002X", TODAY).unwrap();
        assert_eq!(id.masked(), "1101**********002X");
        assert_eq!(format!("{id:?}"), "IdNumber(1101**********002X)");
    }

    #[test]
    fn birth_date_on_today_is_accepted() {
        let body = "11010520261122002";
        let full = format!("{body}{}", check_character(body.as_bytes()));
        assert!(IdNumber::parse(&full, TODAY).is_ok());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn any_valid_body_with_its_check_character_parses(
                area in 100000u32..999999,
                days in 0i64..(365 * 120),
                sequence in 0u32..1000,
            ) {
                let birth = TODAY - time::Duration::days(days);
                let body = format!(
                    "{area:06}{:04}{:02}{:02}{sequence:03}",
                    birth.year(), u8::from(birth.month()), birth.day()
                );
                let full = format!("{body}{}", check_character(body.as_bytes()));
                let id = IdNumber::parse(&full, TODAY).unwrap();
                prop_assert_eq!(id.birth_date(), birth);
                prop_assert_eq!(id.sex() == Sex::Male, sequence % 2 == 1);
            }

            #[test]
            fn a_changed_digit_is_always_caught(
                position in 0usize..17,
                delta in 1u8..10,
            ) {
                let mut bytes = b"11010519491231002X".to_vec();
                bytes[position] = b'0' + (bytes[position] - b'0' + delta) % 10;
                let changed = String::from_utf8(bytes).unwrap();
                prop_assert!(IdNumber::parse(&changed, TODAY).is_err());
            }

            #[test]
            fn parse_never_panics(input in "\\PC{0,20}") {
                let _ = IdNumber::parse(&input, TODAY);
            }
        }
    }
}
