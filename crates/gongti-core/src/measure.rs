//! Measured quantities that carry decimals (glucose, temperature, HbA1c, weight),
//! held as integer hundredths so rule boundaries such as FPG 7.0 or 16.7 mmol/L
//! compare exactly.

use std::fmt;

macro_rules! centi_quantity {
    ($(#[$doc:meta])* $name:ident, $unit:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(i32);

        impl $name {
            pub const UNIT: &'static str = $unit;

            pub const fn from_centi(hundredths: i32) -> $name {
                $name(hundredths)
            }

            pub const fn from_tenths(tenths: i32) -> $name {
                $name(tenths * 10)
            }

            pub const fn centi(self) -> i32 {
                self.0
            }

            /// Rounds to the nearest hundredth; `None` for NaN, infinities and
            /// magnitudes no measurement reaches.
            pub fn from_f64(value: f64) -> Option<$name> {
                if !value.is_finite() || value.abs() > 1.0e6 {
                    return None;
                }
                Some($name((value * 100.0).round() as i32))
            }

            pub fn as_f64(self) -> f64 {
                f64::from(self.0) / 100.0
            }
        }

        impl fmt::Display for $name {
            /// One decimal unless the second one is needed: `7.0`, `6.95`.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let sign = if self.0 < 0 { "-" } else { "" };
                let abs = self.0.unsigned_abs();
                if abs % 10 == 0 {
                    write!(f, "{sign}{}.{}", abs / 100, (abs % 100) / 10)
                } else {
                    write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
                }
            }
        }
    };
}

centi_quantity!(
    /// Blood glucose in mmol/L.
    Mmol,
    "mmol/L"
);
centi_quantity!(
    /// Body temperature in °C.
    Celsius,
    "Cel"
);
centi_quantity!(
    /// A percentage such as HbA1c (NGSP %).
    Percent,
    "%"
);
centi_quantity!(
    /// Body weight in kg.
    Kg,
    "kg"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_input_lands_on_the_exact_hundredth() {
        for (input, centi) in [
            (7.0, 700),
            (6.9, 690),
            (16.7, 1670),
            (3.9, 390),
            (6.95, 695),
        ] {
            assert_eq!(Mmol::from_f64(input).unwrap().centi(), centi, "{input}");
        }
        assert_eq!(Mmol::from_f64(f64::NAN), None);
        assert_eq!(Mmol::from_f64(f64::INFINITY), None);
    }

    #[test]
    fn display_keeps_one_decimal_unless_two_are_needed() {
        assert_eq!(Mmol::from_tenths(70).to_string(), "7.0");
        assert_eq!(Mmol::from_centi(695).to_string(), "6.95");
        assert_eq!(Celsius::from_centi(-50).to_string(), "-0.5");
    }
}
