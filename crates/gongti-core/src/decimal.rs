//! Exact decimals for payment rules (DOMAIN.md §6: "weights and shares are exact
//! decimals; each money figure is rounded half up to the fen once, after its sum"): a
//! non-negative decimal is read as an integer count of `10^-places`, and a quotient of
//! such integers is rounded half up only where a money figure is made.

/// `text` (digits with at most one point; no sign, no exponent) as a count of
/// `10^-places`: `scaled("1.25", 4) == Some(12_500)`. `None` when it is not such a
/// number, has more decimal places than `places` (trailing zeros aside) or does not
/// fit.
pub fn scaled(text: &str, places: u32) -> Option<i128> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !digits(fraction) || whole.len() > 30 {
        return None;
    }
    let fraction = fraction.trim_end_matches('0');
    let shown = u32::try_from(fraction.len()).ok()?;
    if shown > places {
        return None;
    }
    let mut value: i128 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        value = value.checked_mul(10)?.checked_add(i128::from(b - b'0'))?;
    }
    value.checked_mul(10_i128.checked_pow(places - shown)?)
}

/// A JSON number read exactly (its shortest decimal form, as written by whoever sent
/// it) as a count of `10^-places`; `None` as [`scaled`] says, and for a negative one.
pub fn scaled_f64(value: f64, places: u32) -> Option<i128> {
    if !value.is_finite() || !(0.0..=1e30).contains(&value) {
        return None;
    }
    scaled(&format!("{value}"), places)
}

/// `n ÷ d` rounded half up, for `n ≥ 0` and `d > 0`.
pub fn div_half_up(n: i128, d: i128) -> i128 {
    debug_assert!(n >= 0 && d > 0);
    n / d + i128::from((n % d) * 2 >= d)
}

/// A count of `10^-places` as the decimal it is (`shown(12_500, 4) == "1.25"`).
pub fn shown(value: i128, places: u32) -> String {
    let unit = 10_i128.pow(places);
    let sign = if value < 0 { "-" } else { "" };
    let (whole, fraction) = (value.abs() / unit, value.abs() % unit);
    if fraction == 0 {
        return format!("{sign}{whole}");
    }
    let digits = format!("{fraction:0width$}", width = places as usize);
    format!("{sign}{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_read_exactly() {
        let cases: &[(&str, u32, Option<i128>)] = &[
            ("1.25", 4, Some(12_500)),
            ("0.8", 6, Some(800_000)),
            ("3", 2, Some(300)),
            (".5", 1, Some(5)),
            ("7.", 1, Some(70)),
            ("1.2300", 2, Some(123)),
            ("1.234", 2, None),
            ("", 2, None),
            (".", 2, None),
            ("-1", 2, None),
            ("1e3", 2, None),
            ("1.2.3", 2, None),
            (" 1", 2, None),
            ("99999999999999999999999999999999", 6, None),
        ];
        for (text, places, want) in cases {
            assert_eq!(scaled(text, *places), *want, "{text:?} at {places}");
        }
        // JSON numbers as their senders wrote them
        assert_eq!(scaled_f64(0.1, 6), Some(100_000));
        assert_eq!(scaled_f64(1.2, 6), Some(1_200_000));
        assert_eq!(scaled_f64(0.0000001, 6), None);
        assert_eq!(scaled_f64(-0.5, 6), None);
        assert_eq!(scaled_f64(1e300, 6), None);
    }

    #[test]
    fn quotients_round_half_up_once() {
        let cases: &[(i128, i128, i128)] = &[
            (5, 10, 1),
            (4, 10, 0),
            (15, 10, 2),
            (25, 10, 3),
            (0, 7, 0),
            (1, 3, 0),
            (2, 3, 1),
            (365, 365, 1),
        ];
        for (n, d, want) in cases {
            assert_eq!(div_half_up(*n, *d), *want, "{n}/{d}");
        }
        assert_eq!(shown(12_500, 4), "1.25");
        assert_eq!(shown(-5, 2), "-0.05");
        assert_eq!(shown(300, 2), "3");
    }
}
