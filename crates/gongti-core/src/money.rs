//! Money is kept in integer fen (分) everywhere; people and the insurance platform's
//! messages read it as yuan with two decimals.

/// An amount kept in fen, as yuan with two decimals (e.g. 12000 → "120.00").
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", (fen / 100).abs(), (fen % 100).abs())
}

#[cfg(test)]
mod tests {
    #[test]
    fn fen_are_shown_as_yuan() {
        for (fen, shown) in [
            (12_000, "120.00"),
            (5, "0.05"),
            (1_999, "19.99"),
            (0, "0.00"),
            (-250, "-2.50"),
            (i64::MIN + 1, "-92233720368547758.07"),
        ] {
            assert_eq!(super::yuan(fen), shown);
        }
    }
}
