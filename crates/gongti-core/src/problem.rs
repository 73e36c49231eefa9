//! Problems found in input: every validator collects them all, each named by field
//! with a stable code, so a form or an API client sees everything wrong at once.

use crate::id_number::IdNumberError;

/// The problem of a required text (a name): nothing visible, or longer than
/// `max_chars` once trimmed.
pub fn required_text_problem(text: &str, max_chars: usize) -> Option<Problem> {
    if crate::text::visible_chars(text) == 0 {
        Some(Problem::Required)
    } else if text.trim().chars().count() > max_chars {
        Some(Problem::TooLong { max_chars })
    } else {
        None
    }
}

/// The problem of a sign-in name, once trimmed: none, longer than `max_chars`, or
/// with a blank or control character inside (a name is typed as one word).
pub fn username_problem(username: &str, max_chars: usize) -> Option<Problem> {
    let username = username.trim();
    if username.is_empty() {
        Some(Problem::Required)
    } else if username.chars().count() > max_chars {
        Some(Problem::Length {
            min_chars: 1,
            max_chars,
        })
    } else if username
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        Some(Problem::Whitespace)
    } else {
        None
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Required,
    TooLong {
        max_chars: usize,
    },
    /// Shorter or longer than allowed.
    Length {
        min_chars: usize,
        max_chars: usize,
    },
    ControlCharacters,
    /// A space (or any blank or control character) where none may be: a username.
    Whitespace,
    IdNumber(IdNumberError),
    Phone,
    UnknownSex,
    /// The entered value disagrees with what the ID number says.
    DisagreesWithIdNumber,
    /// The value refers to something that does not exist or may not be used here.
    NotAllowed,
    /// A number outside its plausible range (inclusive bounds, in the field's unit).
    OutOfRange {
        min: &'static str,
        max: &'static str,
    },
    /// The value contradicts another field (e.g. diastolic above systolic).
    Inconsistent {
        with: &'static str,
    },
    /// A code outside the documented list.
    UnknownCode,
    /// A time after now.
    InFuture,
    /// A day before today where only today or later makes sense.
    InPast,
    /// Not in the expected format (e.g. a time that is not RFC 3339).
    Malformed,
    /// A drug name the formulary does not know.
    UnknownDrug,
    /// A unit that does not measure what the knowledge base measures this drug in.
    WrongUnit {
        expected: &'static str,
    },
    /// The password re-entered to sign is not the account's.
    WrongPassword,
}

impl Problem {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Problem::Required => "required",
            Problem::TooLong { .. } => "too_long",
            Problem::Length { .. } => "length",
            Problem::ControlCharacters => "control_characters",
            Problem::Whitespace => "whitespace",
            Problem::IdNumber(IdNumberError::WrongLength { .. }) => "id_number_length",
            Problem::IdNumber(IdNumberError::NotADigit { .. }) => "id_number_not_digit",
            Problem::IdNumber(IdNumberError::InvalidBirthDate) => "id_number_birth_date",
            Problem::IdNumber(IdNumberError::BirthDateInFuture) => "id_number_future_birth_date",
            Problem::IdNumber(IdNumberError::BadCheckCharacter { .. }) => {
                "id_number_check_character"
            }
            Problem::Phone => "phone_invalid",
            Problem::UnknownSex => "sex_unknown",
            Problem::DisagreesWithIdNumber => "disagrees_with_id_number",
            Problem::NotAllowed => "not_allowed",
            Problem::OutOfRange { .. } => "out_of_range",
            Problem::Inconsistent { .. } => "inconsistent",
            Problem::UnknownCode => "unknown_code",
            Problem::InFuture => "in_future",
            Problem::InPast => "in_past",
            Problem::Malformed => "malformed",
            Problem::UnknownDrug => "unknown_drug",
            Problem::WrongUnit { .. } => "wrong_unit",
            Problem::WrongPassword => "wrong_password",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: &'static str,
    pub problem: Problem,
}

impl FieldProblem {
    pub fn new(field: &'static str, problem: Problem) -> FieldProblem {
        FieldProblem { field, problem }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_username_is_one_word_of_bounded_length() {
        for (input, expected) in [
            ("wang.li", None),
            ("  wang.li ", None),
            ("", Some(Problem::Required)),
            ("   ", Some(Problem::Required)),
            ("wang li", Some(Problem::Whitespace)),
            ("wang\u{3000}li", Some(Problem::Whitespace)),
            ("wang\u{7}li", Some(Problem::Whitespace)),
            (
                "wang.li.zhang",
                Some(Problem::Length {
                    min_chars: 1,
                    max_chars: 8,
                }),
            ),
        ] {
            assert_eq!(
                username_problem(input, 8).as_ref(),
                expected.as_ref(),
                "{input:?}"
            );
        }
    }
}
