//! Phone numbers: sensitive personal information (PIPL), shown masked, never logged.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error(
        "a phone number is an 11-digit mobile number starting with 1, or a landline with its 0-prefixed area code"
    )]
    Invalid,
}

/// A mainland mobile number (11 digits, `1[3-9]…`) or a landline with its area code.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Accepts spaces and hyphens between digits and an optional `+86` prefix.
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        let trimmed = input.trim();
        let trimmed = trimmed.strip_prefix("+86").unwrap_or(trimmed);
        let mut digits = String::with_capacity(12);
        for c in trimmed.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' => {}
                _ => return Err(PhoneError::Invalid),
            }
        }
        let b = digits.as_bytes();
        let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
        let landline = (10..=12).contains(&b.len()) && b[0] == b'0';
        if mobile || landline {
            Ok(Phone(digits))
        } else {
            Err(PhoneError::Invalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****1234`: the first three and last four digits, the rest hidden.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        format!("{}{}{}", &self.0[..3], "*".repeat(n - 7), &self.0[n - 4..])
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_1_phone_is_masked() {
        let cases = [
            ("13812341234", Some("138****1234")),
            ("+86 138-1234-1234", Some("138****1234")),
            ("022-23456789", Some("022****6789")),
            ("0755-1234567", Some("075****4567")),
            ("12812341234", None),
            ("1381234123", None),
            ("1381234123a", None),
            ("", None),
        ];
        for (input, masked) in cases {
            assert_eq!(
                Phone::parse(input).ok().map(|p| p.masked()).as_deref(),
                masked,
                "{input}"
            );
        }
    }
}
