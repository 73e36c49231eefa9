//! Laboratory results (检验结果) as the chronic-care record reads them. A fasting plasma
//! glucose or an HbA1c from a laboratory counts as a measured FPG or HbA1c on its
//! collection day, like one taken at a follow-up (DOMAIN.md §2); it is never a
//! follow-up itself. Results are coded in LOINC with the unit's property matching the
//! code (DOMAIN.md §7): Chinese laboratories report glucose in mmol/L, which is
//! 14771-0; 1558-6 is the mass-concentration code (mg/dL), taken and converted.
//!
//! The cloud examination (DOMAIN.md §8) adds the other tests, reference ranges,
//! abnormal flags and corrected versions; this is the part the indicators read.

use time::Date;

use crate::measure::{Mmol, Percent};
use crate::problem::{FieldProblem, Problem};

pub const LOINC: &str = "http://loinc.org";
/// The sender's id for a result (its idempotency key per resident).
pub const SOURCE_ID_MAX_CHARS: usize = 64;
/// The earliest collection day taken (records older than this are not history a
/// region brings in).
pub const EARLIEST_COLLECTION: Date = time::macros::date!(1950 - 01 - 01);
/// mg/dL of glucose per mmol/L (the molar mass of glucose, 180.16 g/mol, ÷ 10).
pub const GLUCOSE_MG_DL_PER_MMOL_L: f64 = 18.016;

/// The tests the indicators read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabTest {
    /// 空腹血糖, mmol/L.
    FastingGlucose,
    /// 糖化血红蛋白, % (NGSP).
    Hba1c,
}

impl LabTest {
    pub const ALL: [LabTest; 2] = [LabTest::FastingGlucose, LabTest::Hba1c];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            LabTest::FastingGlucose => "fpg",
            LabTest::Hba1c => "hba1c",
        }
    }

    pub fn parse(code: &str) -> Option<LabTest> {
        LabTest::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The LOINC code results are stored and served under (its unit's property).
    pub fn loinc(self) -> &'static str {
        match self {
            LabTest::FastingGlucose => "14771-0",
            LabTest::Hba1c => "4548-4",
        }
    }

    pub fn loinc_display(self) -> &'static str {
        match self {
            LabTest::FastingGlucose => "Glucose [Moles/volume] in Serum or Plasma --fasting",
            LabTest::Hba1c => "Hemoglobin A1c/Hemoglobin.total in Blood",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            LabTest::FastingGlucose => "空腹血糖",
            LabTest::Hba1c => "糖化血红蛋白",
        }
    }

    /// The UCUM unit of the stored value.
    pub fn unit(self) -> &'static str {
        match self {
            LabTest::FastingGlucose => "mmol/L",
            LabTest::Hba1c => "%",
        }
    }

    /// Plausible values in hundredths of the unit (the follow-up's ranges).
    fn centi_range(self) -> (i32, i32, &'static str, &'static str) {
        match self {
            LabTest::FastingGlucose => {
                let (lo, hi) = crate::chronic::followup::FPG_CENTI_MMOL;
                (lo, hi, "0.5", "60.0")
            }
            LabTest::Hba1c => (300, 2000, "3.0", "20.0"),
        }
    }
}

/// A coded result as it arrives: the LOINC code, the value and its UCUM unit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabResultForm {
    /// The sender's identifier for the result (its system, when given, and value):
    /// sending it again changes nothing.
    pub source_system: Option<String>,
    pub source_id: String,
    pub loinc: Option<String>,
    pub value: Option<f64>,
    pub unit: Option<String>,
    /// The day the specimen was collected.
    pub collected_on: Option<Date>,
    /// The instant, when the sender gave one (UTC µs).
    pub collected_at_us: Option<i64>,
}

/// A result that may be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidLabResult {
    /// `""` when the sender gave none.
    pub source_system: String,
    pub source_id: String,
    pub test: LabTest,
    /// The code it was sent under (14771-0, 1558-6 or 4548-4).
    pub loinc: String,
    /// Hundredths of the test's unit.
    pub value_centi: i32,
    /// The value and unit as sent (`126 mg/dL`).
    pub reported: String,
    pub collected_on: Date,
    pub collected_at_us: Option<i64>,
}

impl ValidLabResult {
    pub fn fpg(&self) -> Option<Mmol> {
        (self.test == LabTest::FastingGlucose).then(|| Mmol::from_centi(self.value_centi))
    }

    pub fn hba1c(&self) -> Option<Percent> {
        (self.test == LabTest::Hba1c).then(|| Percent::from_centi(self.value_centi))
    }
}

/// A coded value in the test's stored unit: the test a LOINC code and UCUM unit stand
/// for, and the value converted (mg/dL of glucose to mmol/L). `code` names an unknown
/// code, `valueQuantity.unit` a unit that does not match it.
pub fn convert(loinc: &str, unit: &str, value: f64) -> Result<(LabTest, f64), FieldProblem> {
    match test_of(loinc.trim(), unit) {
        Ok((test, factor)) => Ok((test, value * factor)),
        Err(p @ Problem::UnknownCode) => Err(FieldProblem::new("code", p)),
        Err(p) => Err(FieldProblem::new("valueQuantity.unit", p)),
    }
}

/// The test a LOINC code and unit stand for, and the factor to the stored unit.
fn test_of(loinc: &str, unit: &str) -> Result<(LabTest, f64), Problem> {
    let unit = unit.trim();
    let (test, factor) = match (loinc, unit) {
        ("14771-0", "mmol/L") => (LabTest::FastingGlucose, 1.0),
        ("1558-6", "mg/dL") => (LabTest::FastingGlucose, 1.0 / GLUCOSE_MG_DL_PER_MMOL_L),
        ("4548-4", "%") => (LabTest::Hba1c, 1.0),
        ("14771-0" | "1558-6" | "4548-4", _) => {
            return Err(Problem::Inconsistent { with: "code" });
        }
        _ => return Err(Problem::UnknownCode),
    };
    Ok((test, factor))
}

/// Checks a result: a known test in its unit, a plausible value, a collection day
/// neither in the future (`today`, the region's) nor before 1950.
pub fn validate_lab_result(
    form: &LabResultForm,
    today: Date,
) -> Result<ValidLabResult, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let source_id = form.source_id.trim();
    let source_system = form.source_system.as_deref().unwrap_or("").trim();
    if source_system.chars().count() > SOURCE_ID_MAX_CHARS * 4 {
        problems.push(FieldProblem::new(
            "identifier.system",
            Problem::TooLong {
                max_chars: SOURCE_ID_MAX_CHARS * 4,
            },
        ));
    }
    if source_id.is_empty() {
        problems.push(FieldProblem::new("identifier", Problem::Required));
    } else if source_id.chars().count() > SOURCE_ID_MAX_CHARS {
        problems.push(FieldProblem::new(
            "identifier",
            Problem::TooLong {
                max_chars: SOURCE_ID_MAX_CHARS,
            },
        ));
    } else if source_id.chars().any(char::is_control) {
        problems.push(FieldProblem::new("identifier", Problem::ControlCharacters));
    }
    let test = match (form.loinc.as_deref(), form.unit.as_deref()) {
        (None, _) => {
            problems.push(FieldProblem::new("code", Problem::Required));
            None
        }
        (Some(_), None) => {
            problems.push(FieldProblem::new("valueQuantity.unit", Problem::Required));
            None
        }
        (Some(loinc), Some(unit)) => match test_of(loinc.trim(), unit) {
            Ok(t) => Some(t),
            Err(p @ Problem::UnknownCode) => {
                problems.push(FieldProblem::new("code", p));
                None
            }
            Err(p) => {
                problems.push(FieldProblem::new("valueQuantity.unit", p));
                None
            }
        },
    };
    let value_centi = match (form.value, test) {
        (None, _) => {
            problems.push(FieldProblem::new("valueQuantity.value", Problem::Required));
            None
        }
        (Some(_), None) => None,
        (Some(v), Some((test, factor))) => {
            let centi = (v * factor * 100.0).round();
            let (lo, hi, min, max) = test.centi_range();
            if v.is_finite() && centi >= f64::from(lo) && centi <= f64::from(hi) {
                Some(centi as i32)
            } else {
                problems.push(FieldProblem::new(
                    "valueQuantity.value",
                    Problem::OutOfRange { min, max },
                ));
                None
            }
        }
    };
    match form.collected_on {
        None => problems.push(FieldProblem::new("effectiveDateTime", Problem::Required)),
        Some(d) if d > today => {
            problems.push(FieldProblem::new("effectiveDateTime", Problem::InFuture));
        }
        Some(d) if d < EARLIEST_COLLECTION => problems.push(FieldProblem::new(
            "effectiveDateTime",
            Problem::OutOfRange {
                min: "1950-01-01",
                max: "today",
            },
        )),
        Some(_) => {}
    }
    match (test, value_centi, form.collected_on, problems.is_empty()) {
        (Some((test, _)), Some(value_centi), Some(collected_on), true) => Ok(ValidLabResult {
            source_system: source_system.to_owned(),
            source_id: source_id.to_owned(),
            test,
            loinc: form.loinc.as_deref().unwrap_or("").trim().to_owned(),
            value_centi,
            reported: format!(
                "{} {}",
                form.value.unwrap_or_default(),
                form.unit.as_deref().unwrap_or("").trim()
            ),
            collected_on,
            collected_at_us: form.collected_at_us,
        }),
        _ => Err(problems),
    }
}

/// Orders a laboratory result after the follow-ups of its day when the indicators
/// take the latest measured value: the key a result's facts carry (its id above this).
/// A laboratory's value is the better measurement of the two taken the same day.
pub const LAB_ORDER_BASE: i64 = 1 << 48;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn form(loinc: &str, value: f64, unit: &str, on: Date) -> LabResultForm {
        LabResultForm {
            source_system: Some("urn:example:lis".into()),
            source_id: "LIS-1".into(),
            loinc: Some(loinc.into()),
            value: Some(value),
            unit: Some(unit.into()),
            collected_on: Some(on),
            collected_at_us: None,
        }
    }

    /// DOMAIN.md §7: the code's property must match the unit; §2: the result counts as
    /// a measured FPG or HbA1c.
    #[test]
    fn codes_units_and_values() {
        let today = date!(2026 - 12 - 02);
        let day = date!(2026 - 03 - 04);
        type Case = (
            &'static str,
            f64,
            &'static str,
            Result<(LabTest, i32), &'static str>,
        );
        let cases: &[Case] = &[
            ("14771-0", 6.5, "mmol/L", Ok((LabTest::FastingGlucose, 650))),
            ("1558-6", 126.0, "mg/dL", Ok((LabTest::FastingGlucose, 699))),
            ("4548-4", 6.8, "%", Ok((LabTest::Hba1c, 680))),
            ("1558-6", 6.5, "mmol/L", Err("valueQuantity.unit")),
            ("14771-0", 126.0, "mg/dL", Err("valueQuantity.unit")),
            ("4548-4", 48.0, "mmol/mol", Err("valueQuantity.unit")),
            ("2345-7", 6.5, "mmol/L", Err("code")),
            ("14771-0", 0.4, "mmol/L", Err("valueQuantity.value")),
            ("14771-0", 60.01, "mmol/L", Err("valueQuantity.value")),
            ("4548-4", 2.9, "%", Err("valueQuantity.value")),
            ("4548-4", 20.0, "%", Ok((LabTest::Hba1c, 2000))),
            ("14771-0", f64::NAN, "mmol/L", Err("valueQuantity.value")),
        ];
        for (loinc, value, unit, want) in cases {
            let got = validate_lab_result(&form(loinc, *value, unit, day), today)
                .map(|v| (v.test, v.value_centi))
                .map_err(|ps| ps[0].field);
            assert_eq!(got, *want, "{loinc} {value} {unit}");
        }
    }

    #[test]
    fn the_collection_day_and_the_senders_id() {
        let today = date!(2026 - 12 - 02);
        let ok = |f: LabResultForm| validate_lab_result(&f, today).map_err(|ps| ps[0].field);
        assert!(ok(form("4548-4", 7.1, "%", today)).is_ok());
        assert_eq!(
            ok(form("4548-4", 7.1, "%", date!(2026 - 12 - 03))),
            Err("effectiveDateTime")
        );
        assert_eq!(
            ok(form("4548-4", 7.1, "%", date!(1949 - 12 - 31))),
            Err("effectiveDateTime")
        );
        let mut no_id = form("4548-4", 7.1, "%", today);
        no_id.source_id = "  ".into();
        assert_eq!(ok(no_id), Err("identifier"));
        let nothing = LabResultForm {
            source_id: "x".into(),
            ..Default::default()
        };
        let problems = validate_lab_result(&nothing, today).unwrap_err();
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            ["code", "valueQuantity.value", "effectiveDateTime"],
            "every problem at once"
        );
        let v = validate_lab_result(&form("1558-6", 126.0, "mg/dL", today), today).unwrap();
        assert_eq!(v.reported, "126 mg/dL");
        assert_eq!(v.fpg(), Some(Mmol::from_centi(699)));
        assert_eq!(v.hba1c(), None);
    }
}
