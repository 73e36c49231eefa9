//! The laboratory items Gongti knows by LOINC (`data/exam/items.tsv`): the unit a result
//! is expected in, the adult reference interval shown when a laboratory sends none, and
//! the adult critical limits (危急值, DOMAIN.md §8 — a parameter of the region, loaded
//! with the table and never written in code).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::tsv::{Table, TableProblem};

/// A value in hundredths of its unit (4.25 mmol/L → 425).
pub type Centi = i64;

/// Reads a decimal as written by a laboratory or a table (`3.5`, `-0.25`, `+6.2`,
/// `1e2` is refused) into hundredths, rounding half away from zero past the second
/// decimal. `None` for anything that is not a plain decimal or is out of ±10¹².
pub fn centi(text: &str) -> Option<Centi> {
    let t = text.trim();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    let plain = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && digits.chars().filter(|c| *c == '.').count() <= 1
        && digits.chars().any(|c| c.is_ascii_digit());
    if !plain {
        return None;
    }
    let v: f64 = t.parse().ok()?;
    let c = (v * 100.0).round();
    (c.is_finite() && c.abs() < 1e14).then_some(c as Centi)
}

/// Hundredths shown as the shortest decimal (`425` → `4.25`, `500` → `5`).
pub fn centi_text(c: Centi) -> String {
    let sign = if c < 0 { "-" } else { "" };
    let a = c.unsigned_abs();
    let (whole, frac) = (a / 100, a % 100);
    match frac {
        0 => format!("{sign}{whole}"),
        f if f % 10 == 0 => format!("{sign}{whole}.{}", f / 10),
        f => format!("{sign}{whole}.{f:02}"),
    }
}

/// Which side of a critical limit a value is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CriticalSide {
    Low,
    High,
}

impl CriticalSide {
    pub fn code(self) -> &'static str {
        match self {
            CriticalSide::Low => "low",
            CriticalSide::High => "high",
        }
    }

    pub fn parse(code: &str) -> Option<CriticalSide> {
        match code {
            "low" => Some(CriticalSide::Low),
            "high" => Some(CriticalSide::High),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabItem {
    pub loinc: String,
    pub label_zh: String,
    pub label_en: String,
    /// The UCUM unit results are expected in.
    pub unit: String,
    pub ref_low: Option<Centi>,
    pub ref_high: Option<Centi>,
    pub critical_low: Option<Centi>,
    pub critical_high: Option<Centi>,
}

impl LabItem {
    /// The critical side of a value in the item's unit: strictly below the low limit or
    /// strictly above the high one (DOMAIN.md §8: "< 2.8 or > 6.2").
    pub fn critical(&self, value: Centi) -> Option<CriticalSide> {
        if self.critical_low.is_some_and(|l| value < l) {
            Some(CriticalSide::Low)
        } else if self.critical_high.is_some_and(|h| value > h) {
            Some(CriticalSide::High)
        } else {
            None
        }
    }

    /// The interval as a laboratory writes it (`3.5-5.3`, `<5.2`, `>=1`), or `""`.
    pub fn reference_text(&self) -> String {
        match (self.ref_low, self.ref_high) {
            (Some(l), Some(h)) => format!("{}-{}", centi_text(l), centi_text(h)),
            (None, Some(h)) => format!("<{}", centi_text(h)),
            (Some(l), None) => format!(">={}", centi_text(l)),
            (None, None) => String::new(),
        }
    }
}

/// The items table, checked whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabItems {
    pub version: String,
    items: BTreeMap<String, LabItem>,
}

pub const BUILTIN_ITEMS: &str = include_str!("../../data/exam/items.tsv");
pub const BUILTIN_SOURCES: &str = include_str!("../../data/exam/sources.tsv");

impl LabItems {
    /// The table shipped with Gongti.
    pub fn builtin() -> &'static LabItems {
        static ITEMS: OnceLock<LabItems> = OnceLock::new();
        ITEMS.get_or_init(|| {
            LabItems::parse(BUILTIN_ITEMS, BUILTIN_SOURCES)
                .unwrap_or_else(|ps| panic!("data/exam is broken: {ps:?}"))
        })
    }

    pub fn parse(items: &str, sources: &str) -> Result<LabItems, Vec<TableProblem>> {
        let known = crate::tsv::source_ids("exam/sources.tsv", sources)?;
        let version = crate::tsv::table_version(items);
        let table = Table::parse(
            "exam/items.tsv",
            items,
            &[
                "loinc",
                "label_zh",
                "label_en",
                "unit",
                "ref_low",
                "ref_high",
                "critical_low",
                "critical_high",
                "ref_source",
                "critical_source",
            ],
        )?;
        let mut problems = Vec::new();
        if version.is_empty() {
            problems.push(TableProblem {
                file: "exam/items.tsv",
                line: 0,
                reason: "no `# table_version` line".into(),
            });
        }
        let mut out = BTreeMap::new();
        for row in table.rows() {
            let number = |column: &str, problems: &mut Vec<TableProblem>| {
                let cell = table.cell(row, column);
                if cell.is_empty() {
                    return None;
                }
                let c = centi(cell);
                if c.is_none() {
                    problems.push(table.problem(row, format!("`{column}` is not a number")));
                }
                c
            };
            let item = LabItem {
                loinc: table.cell(row, "loinc").to_owned(),
                label_zh: table.cell(row, "label_zh").to_owned(),
                label_en: table.cell(row, "label_en").to_owned(),
                unit: table.cell(row, "unit").to_owned(),
                ref_low: number("ref_low", &mut problems),
                ref_high: number("ref_high", &mut problems),
                critical_low: number("critical_low", &mut problems),
                critical_high: number("critical_high", &mut problems),
            };
            for column in ["ref_source", "critical_source"] {
                if !known.contains(&table.cell(row, column)) {
                    problems.push(table.problem(row, format!("`{column}` names no source")));
                }
            }
            if item.loinc.is_empty() || item.label_zh.is_empty() || item.unit.is_empty() {
                problems.push(table.problem(row, "a code, a Chinese label and a unit are needed"));
            }
            if let (Some(l), Some(h)) = (item.critical_low, item.critical_high)
                && l >= h
            {
                problems.push(table.problem(row, "the critical limits cross"));
            }
            if out.insert(item.loinc.clone(), item).is_some() {
                problems.push(table.problem(row, "the code is listed twice"));
            }
        }
        if problems.is_empty() {
            Ok(LabItems {
                version,
                items: out,
            })
        } else {
            Err(problems)
        }
    }

    pub fn get(&self, loinc: &str) -> Option<&LabItem> {
        self.items.get(loinc)
    }

    pub fn all(&self) -> impl Iterator<Item = &LabItem> {
        self.items.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_in_hundredths() {
        let cases: &[(&str, Option<Centi>)] = &[
            ("3.5", Some(350)),
            ("4.25", Some(425)),
            ("6.125", Some(613)),
            ("-0.25", Some(-25)),
            ("+6.2", Some(620)),
            (" 140 ", Some(14000)),
            (".5", Some(50)),
            ("1e2", None),
            ("", None),
            (".", None),
            ("1.2.3", None),
            ("<5.2", None),
            ("NaN", None),
            ("阴性", None),
        ];
        for (text, want) in cases {
            assert_eq!(centi(text), *want, "{text:?}");
        }
        for c in [0, 5, 50, 425, 500, -25, 12345] {
            assert_eq!(centi(&centi_text(c)), Some(c));
        }
        assert_eq!(centi_text(500), "5");
        assert_eq!(centi_text(350), "3.5");
    }

    /// DOMAIN.md §8: the default critical limits — potassium < 2.8 or > 6.2 mmol/L,
    /// glucose < 2.8 or > 22.2 mmol/L — strictly outside the limit.
    #[test]
    fn the_critical_limits_of_domain_8() {
        let items = LabItems::builtin();
        let cases: &[(&str, Centi, Option<CriticalSide>)] = &[
            ("2823-3", 279, Some(CriticalSide::Low)),
            ("2823-3", 280, None),
            ("2823-3", 620, None),
            ("2823-3", 621, Some(CriticalSide::High)),
            ("2823-3", 710, Some(CriticalSide::High)),
            ("14749-6", 279, Some(CriticalSide::Low)),
            ("14749-6", 2220, None),
            ("14749-6", 2221, Some(CriticalSide::High)),
            ("14771-0", 2500, Some(CriticalSide::High)),
            ("4548-4", 1500, None),
            ("14682-9", 70_000, Some(CriticalSide::High)),
        ];
        for (loinc, value, want) in cases {
            let item = items.get(loinc).expect(loinc);
            assert_eq!(item.critical(*value), *want, "{loinc} {value}");
        }
        assert_eq!(items.get("2823-3").unwrap().reference_text(), "3.5-5.3");
        assert_eq!(items.get("14647-2").unwrap().reference_text(), "<5.2");
        assert_eq!(items.version, "2026.12.1");
    }

    #[test]
    fn a_broken_table_is_reported_whole() {
        let sources = "id\tcitation\ns\tS\n";
        let items = "# table_version 1\nloinc\tlabel_zh\tlabel_en\tunit\tref_low\tref_high\tcritical_low\tcritical_high\tref_source\tcritical_source\n\
                     1-1\t甲\tA\tmmol/L\tx\t\t5\t4\ts\tnope\n1-1\t甲\tA\tmmol/L\t\t\t\t\ts\ts\n";
        let problems = LabItems::parse(items, sources).unwrap_err();
        let reasons: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].contains(":3:") && reasons[0].contains("ref_low"));
        assert!(reasons.iter().any(|r| r.contains("critical_source")));
        assert!(reasons.iter().any(|r| r.contains("cross")));
        assert!(
            reasons
                .iter()
                .any(|r| r.contains(":4:") && r.contains("twice"))
        );
    }
}
