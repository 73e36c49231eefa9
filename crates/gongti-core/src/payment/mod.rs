//! Payment and performance (DOMAIN.md §5–§6, issue 17): capitation under a total
//! budget settled as "surplus retained, overspend not compensated" (`capitation`), and
//! the incentive pool shared by workload and quality (`incentive`). Pure arithmetic on
//! exact decimals (`crate::decimal`), money in integer fen rounded half up once.

/// A closed set of codes with their Chinese and English names.
macro_rules! closed_set {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $code:literal, $zh:literal, $en:literal;)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(code: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.code() == code)
            }

            pub fn name_zh(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }

            pub fn name_en(self) -> &'static str {
                match self { $($name::$variant => $en),+ }
            }

            /// The position in [`Self::ALL`].
            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
}

pub mod capitation;
pub mod clearing;
pub mod costs;
pub mod figures;
pub mod incentive;
pub mod membership;
pub mod pool;
pub mod quality;
pub mod scheme;
