//! A laboratory's report as it arrives (an HL7 v2 ORU^R01 read by the edge, DOMAIN.md
//! §8), and what Gongti keeps of it: the patient matched by ID number only, and each
//! result with its code, value, unit, range, flags, status, collection time, critical
//! side and — for a fasting glucose or an HbA1c — the measurement the chronic-care
//! indicators count on its collection day (DOMAIN.md §2).

use time::{Date, UtcOffset};

use super::items::{Centi, CriticalSide, LabItems, centi};
use crate::id_number::{IdNumber, IdNumberError};
use crate::lab::{LabResultForm, ValidLabResult, validate_lab_result};

/// The ID number's assigning authority (OID of the resident identity card, DOMAIN.md §8).
pub const ID_NUMBER_OID: &str = "2.16.156.10011.1.3";
/// Longest text kept of a result's value, unit, range or code.
pub const RESULT_TEXT_MAX_CHARS: usize = 200;

/// One identifier of the patient as the sender gave it (PID-3's repetitions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatientIdentifier {
    pub value: String,
    /// The assigning authority's parts (namespace, universal id, its type).
    pub authority: Vec<String>,
    pub type_code: String,
}

/// One observation (OBX).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceivedResult {
    pub set_id: String,
    /// OBX-4: tells apart several results of one code in one order.
    pub sub_id: String,
    pub value_type: String,
    /// The code and its system (`LN` for LOINC), first the primary then the alternate.
    pub codes: Vec<(String, String, String)>,
    pub value: String,
    pub unit: String,
    pub reference_range: String,
    pub flags: Vec<String>,
    /// OBX-11 as sent.
    pub status: String,
    pub observed_at_us: Option<i64>,
}

/// One order with its results (OBR and its OBX).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceivedOrder {
    pub placer: String,
    pub filler: String,
    pub service: String,
    /// OBR-7 (the specimen's collection).
    pub collected_at_us: Option<i64>,
    pub results: Vec<ReceivedResult>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceivedReport {
    pub identifiers: Vec<PatientIdentifier>,
    /// PID-5 as the laboratory wrote it (shown to whoever matches a held message;
    /// never used to match).
    pub patient_name: String,
    pub orders: Vec<ReceivedOrder>,
}

/// Why a report's patient is not matched (the message is held for a person to match).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmatched {
    /// No PID-3 under the ID number's OID.
    NoIdNumber,
    /// The one given is not a valid ID number.
    InvalidIdNumber(IdNumberError),
    /// Two different ID numbers under the OID.
    TwoIdNumbers,
    /// A valid ID number nobody is registered under.
    NotRegistered,
}

impl Unmatched {
    pub fn code(&self) -> &'static str {
        match self {
            Unmatched::NoIdNumber => "no_id_number",
            Unmatched::InvalidIdNumber(_) => "invalid_id_number",
            Unmatched::TwoIdNumbers => "two_id_numbers",
            Unmatched::NotRegistered => "not_registered",
        }
    }

    pub fn parse(code: &str) -> Option<Unmatched> {
        Some(match code {
            "no_id_number" => Unmatched::NoIdNumber,
            "invalid_id_number" => Unmatched::InvalidIdNumber(IdNumberError::InvalidBirthDate),
            "two_id_numbers" => Unmatched::TwoIdNumbers,
            "not_registered" => Unmatched::NotRegistered,
            _ => return None,
        })
    }

    /// The acknowledgement's text (ASCII, for any sender's character set).
    pub fn text(&self) -> &'static str {
        match self {
            Unmatched::NoIdNumber => {
                "no ID number (PID-3 under OID 2.16.156.10011.1.3): held for matching"
            }
            Unmatched::InvalidIdNumber(_) => {
                "the ID number in PID-3 is not valid: held for matching"
            }
            Unmatched::TwoIdNumbers => "two different ID numbers in PID-3: held for matching",
            Unmatched::NotRegistered => {
                "nobody is registered under the ID number: held for matching"
            }
        }
    }
}

/// The one ID number of the report (DOMAIN.md §8: matched by PID-3 with the ID number's
/// OID, never by name).
pub fn id_number_of(report: &ReceivedReport, today: Date) -> Result<IdNumber, Unmatched> {
    let mut found: Option<IdNumber> = None;
    let mut invalid = None;
    for id in &report.identifiers {
        if !id.authority.iter().any(|a| a.trim() == ID_NUMBER_OID) {
            continue;
        }
        match IdNumber::parse(id.value.trim(), today) {
            Ok(n) => match &found {
                Some(f) if f.as_str() != n.as_str() => return Err(Unmatched::TwoIdNumbers),
                _ => found = Some(n),
            },
            Err(e) => invalid = Some(e),
        }
    }
    match (found, invalid) {
        (Some(n), None) => Ok(n),
        (Some(_), Some(_)) => Err(Unmatched::TwoIdNumbers),
        (None, Some(e)) => Err(Unmatched::InvalidIdNumber(e)),
        (None, None) => Err(Unmatched::NoIdNumber),
    }
}

/// A result's status (OBX-11), in FHIR's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStatus {
    Preliminary,
    Final,
    /// Corrects an earlier result of the same order and code (that one kept as a version).
    Corrected,
}

impl ResultStatus {
    pub fn from_hl7(code: &str) -> Option<ResultStatus> {
        match code.trim() {
            "P" => Some(ResultStatus::Preliminary),
            "F" | "" => Some(ResultStatus::Final),
            "C" => Some(ResultStatus::Corrected),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ResultStatus::Preliminary => "preliminary",
            ResultStatus::Final => "final",
            ResultStatus::Corrected => "corrected",
        }
    }

    pub fn parse(code: &str) -> Option<ResultStatus> {
        [
            ResultStatus::Preliminary,
            ResultStatus::Final,
            ResultStatus::Corrected,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// Whether the chronic-care indicators count it (a preliminary value does not).
    pub fn counts(self) -> bool {
        self != ResultStatus::Preliminary
    }
}

/// A result ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedResult {
    /// The order's number at the laboratory (or the placer's) and the code: the key
    /// under which a correction finds what it corrects.
    pub source_id: String,
    /// The placer's order number (OBR-2), `""` when none: a Gongti order's number
    /// links the result to its order.
    pub placer: String,
    /// LOINC when the sender gave one, else the local code.
    pub code: String,
    pub code_system: String,
    pub display: String,
    pub value_text: String,
    pub value_centi: Option<Centi>,
    pub unit: String,
    /// The value and unit as the laboratory sent them.
    pub reported: String,
    pub reference_range: String,
    pub flags: String,
    pub status: ResultStatus,
    pub collected_on: Date,
    pub collected_at_us: i64,
    pub critical: Option<CriticalSide>,
    /// What the indicators count (a final or corrected FPG or HbA1c), else `None`.
    pub indicator: Option<ValidLabResult>,
}

/// An observation not kept, and why (the acknowledgement lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub set_id: String,
    pub reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Prepared {
    pub results: Vec<PreparedResult>,
    pub skipped: Vec<Skipped>,
}

fn clip(text: &str) -> String {
    text.trim().chars().take(RESULT_TEXT_MAX_CHARS).collect()
}

/// Every result of the report that can be kept, with its checks: a code, a status that
/// is a result (P, F, C — X "cannot be obtained" and D "deleted" are skipped), a
/// collection time (OBR-7, else OBX-14) not after `now_us`; a numeric value read for
/// NM and SN results (the critical side from `items` when the unit is the item's).
/// `source` names the sender (its `source_system` for the indicator's result).
pub fn prepare(
    report: &ReceivedReport,
    items: &LabItems,
    source: &str,
    now_us: i64,
    offset: UtcOffset,
) -> Prepared {
    let mut out = Prepared::default();
    let today = local_day(now_us, offset);
    for order in &report.orders {
        let order_key = if order.filler.trim().is_empty() {
            order.placer.trim()
        } else {
            order.filler.trim()
        };
        for r in &order.results {
            let skip = |reason| Skipped {
                set_id: r.set_id.clone(),
                reason,
            };
            let loinc = r.codes.iter().find(|(_, _, system)| system == "LN");
            let Some((code, display, system)) = loinc.or_else(|| r.codes.first()) else {
                out.skipped.push(skip("no code in OBX-3"));
                continue;
            };
            if code.trim().is_empty() {
                out.skipped.push(skip("no code in OBX-3"));
                continue;
            }
            let Some(status) = ResultStatus::from_hl7(&r.status) else {
                out.skipped.push(skip("OBX-11 is not P, F or C"));
                continue;
            };
            if order_key.is_empty() {
                out.skipped.push(skip("no order number in OBR-2 or OBR-3"));
                continue;
            }
            let Some(at_us) = order.collected_at_us.or(r.observed_at_us) else {
                out.skipped
                    .push(skip("no collection time in OBR-7 or OBX-14"));
                continue;
            };
            if at_us > now_us + 5 * 60 * 1_000_000 {
                out.skipped
                    .push(skip("the collection time is in the future"));
                continue;
            }
            let collected_on = local_day(at_us, offset);
            let numeric = matches!(r.value_type.trim(), "NM" | "SN" | "");
            let value_centi = if numeric { centi(&r.value) } else { None };
            if r.value_type.trim() == "NM" && value_centi.is_none() {
                out.skipped
                    .push(skip("OBX-5 is not a number for an NM result"));
                continue;
            }
            let is_loinc = system == "LN";
            let item = is_loinc.then(|| items.get(code.trim())).flatten();
            let critical = critical_side(item, r, value_centi);
            // an order's several results of one code are told apart by OBX-4
            let source_id: String = match r.sub_id.trim() {
                "" => clip(&format!("{order_key}|{}", code.trim())),
                sub => clip(&format!("{order_key}|{}|{sub}", code.trim())),
            };
            let indicator = match (is_loinc && status.counts(), value_centi) {
                (true, Some(_)) => validate_lab_result(
                    &LabResultForm {
                        source_system: Some(source.to_owned()),
                        source_id: source_id.clone(),
                        loinc: Some(code.trim().to_owned()),
                        value: r.value.trim().parse().ok(),
                        unit: Some(r.unit.trim().to_owned()),
                        collected_on: Some(collected_on),
                        collected_at_us: Some(at_us),
                    },
                    today,
                )
                .ok(),
                _ => None,
            };
            // a counted result is kept in its test's unit (a glucose sent in mg/dL as
            // mmol/L), as sent in `reported`
            let (value_text, value_centi, unit) = match &indicator {
                Some(v) => (
                    super::items::centi_text(i64::from(v.value_centi)),
                    Some(i64::from(v.value_centi)),
                    v.test.unit().to_owned(),
                ),
                None => (clip(&r.value), value_centi, clip(&r.unit)),
            };
            out.results.push(PreparedResult {
                source_id,
                placer: clip(&order.placer),
                reported: clip(&format!("{} {}", r.value.trim(), r.unit.trim())),
                code: clip(code),
                code_system: if is_loinc { "LN".into() } else { clip(system) },
                display: item
                    .map(|i| i.label_zh.clone())
                    .unwrap_or_else(|| clip(display)),
                value_text,
                value_centi,
                unit,
                reference_range: if r.reference_range.trim().is_empty() {
                    item.map(|i| i.reference_text()).unwrap_or_default()
                } else {
                    clip(&r.reference_range)
                },
                flags: clip(&r.flags.join(",")),
                status,
                collected_on,
                collected_at_us: at_us,
                critical,
                indicator,
            });
        }
    }
    out
}

/// The critical side of a result: past the item's limits in the item's unit (a value
/// beyond the analyser's range, `>33.3`, by its bound), or declared critical by the
/// laboratory itself (OBX-8 `HH` or `LL`).
fn critical_side(
    item: Option<&super::items::LabItem>,
    r: &ReceivedResult,
    value_centi: Option<Centi>,
) -> Option<CriticalSide> {
    let by_limits = item
        .filter(|i| i.unit.eq_ignore_ascii_case(r.unit.trim()))
        .and_then(|i| {
            let value = value_centi.or_else(|| {
                let v = r.value.trim();
                let bound = v
                    .strip_prefix(">=")
                    .or_else(|| v.strip_prefix("<="))
                    .or_else(|| v.strip_prefix('>'))
                    .or_else(|| v.strip_prefix('<'))?;
                centi(bound)
            })?;
            i.critical(value)
        });
    let flagged = |f: &str| r.flags.iter().any(|x| x.trim() == f);
    by_limits.or(if flagged("HH") {
        Some(CriticalSide::High)
    } else if flagged("LL") {
        Some(CriticalSide::Low)
    } else {
        None
    })
}

fn local_day(at_us: i64, offset: UtcOffset) -> Date {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_us) * 1_000)
        .map(|t| t.to_offset(offset).date())
        .unwrap_or(Date::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, offset};

    const SOURCE: &str = "hl7:LIS@CLOUDLAB";

    fn us(t: time::OffsetDateTime) -> i64 {
        (t.unix_timestamp_nanos() / 1_000) as i64
    }

    fn id(value: &str, oid: &str) -> PatientIdentifier {
        PatientIdentifier {
            value: value.into(),
            authority: vec![String::new(), oid.into(), "ISO".into()],
            type_code: "ID".into(),
        }
    }

    fn obx(code: &str, value: &str, unit: &str, status: &str) -> ReceivedResult {
        ReceivedResult {
            set_id: "1".into(),
            value_type: "NM".into(),
            codes: vec![(code.into(), "x".into(), "LN".into())],
            value: value.into(),
            unit: unit.into(),
            status: status.into(),
            ..Default::default()
        }
    }

    fn report(results: Vec<ReceivedResult>) -> ReceivedReport {
        ReceivedReport {
            identifiers: vec![],
            patient_name: String::new(),
            orders: vec![ReceivedOrder {
                placer: "P1".into(),
                filler: "F1".into(),
                collected_at_us: Some(us(datetime!(2026-11-30 23:30 UTC))),
                results,
                ..Default::default()
            }],
        }
    }

    /// DOMAIN.md §8: the patient is matched by PID-3 with the ID number's OID, never by
    /// name alone.
    #[test]
    fn the_patient_by_the_id_number_under_its_oid() {
        let today = date!(2026 - 12 - 01);
        let good = "11010519491231002X";
        let other = "110105194912310038";
        let cases: &[(Vec<PatientIdentifier>, Result<&str, &str>)] = &[
            (vec![id(good, ID_NUMBER_OID)], Ok(good)),
            (
                vec![id("MRN-7", "2.16.840.1"), id(good, ID_NUMBER_OID)],
                Ok(good),
            ),
            (vec![id(good, "2.16.840.1")], Err("no_id_number")),
            (vec![], Err("no_id_number")),
            (
                vec![id("110105194912310021", ID_NUMBER_OID)],
                Err("invalid_id_number"),
            ),
            (
                vec![id(good, ID_NUMBER_OID), id(good, ID_NUMBER_OID)],
                Ok(good),
            ),
            (
                vec![id(good, ID_NUMBER_OID), id(other, ID_NUMBER_OID)],
                Err("two_id_numbers"),
            ),
        ];
        for (ids, want) in cases {
            let r = ReceivedReport {
                identifiers: ids.clone(),
                ..Default::default()
            };
            let got = id_number_of(&r, today);
            match want {
                Ok(n) => assert_eq!(got.unwrap().as_str(), *n),
                Err(code) => assert_eq!(got.unwrap_err().code(), *code),
            }
        }
    }

    /// DOMAIN.md §8 (OBX-11, critical values) and §2 (FPG and HbA1c count on their
    /// collection day; a preliminary result does not).
    #[test]
    fn results_kept_with_status_critical_side_and_what_counts() {
        let now = us(datetime!(2026-12-01 02:00 UTC));
        let items = LabItems::builtin();
        let r = report(vec![
            obx("2823-3", "7.1", "mmol/L", "F"),
            obx("14771-0", "6.4", "mmol/L", "F"),
            obx("4548-4", "7.2", "%", "P"),
            obx("4548-4", "7.0", "%", "C"),
            obx("14771-0", "2.1", "mg/dL", "F"),
            obx("2823-3", "4.1", "mmol/L", "X"),
            obx("2823-3", "high", "mmol/L", "F"),
        ]);
        let p = prepare(&r, items, SOURCE, now, offset!(+8));
        type Row<'a> = (&'a str, Option<Centi>, &'a str, Option<CriticalSide>, bool);
        let got: Vec<Row> = p
            .results
            .iter()
            .map(|r| {
                (
                    r.code.as_str(),
                    r.value_centi,
                    r.status.code(),
                    r.critical,
                    r.indicator.is_some(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "2823-3",
                    Some(710),
                    "final",
                    Some(CriticalSide::High),
                    false
                ),
                ("14771-0", Some(640), "final", None, true),
                ("4548-4", Some(720), "preliminary", None, false),
                ("4548-4", Some(700), "corrected", None, true),
                // mg/dL is not the item's unit: no critical side; 2.1 mg/dL is not a
                // plausible fasting glucose, so it does not count either
                ("14771-0", Some(210), "final", None, false),
            ]
        );
        // collected 23:30 UTC on 30 Nov is 1 Dec in China
        assert!(
            p.results
                .iter()
                .all(|r| r.collected_on == date!(2026 - 12 - 01))
        );
        assert_eq!(p.results[0].source_id, "F1|2823-3");
        assert_eq!(p.results[0].reference_range, "3.5-5.3");
        let reasons: Vec<&str> = p.skipped.iter().map(|s| s.reason).collect();
        assert_eq!(
            reasons,
            [
                "OBX-11 is not P, F or C",
                "OBX-5 is not a number for an NM result"
            ]
        );
        // a unit in other case, a value past the analyser's range, the laboratory's
        // own critical flag; a glucose in mg/dL kept in mmol/L; OBX-4 apart
        let mut lower = obx("2823-3", "7.0", "mmol/l", "F");
        lower.sub_id = "1".into();
        let mut beyond = obx("14749-6", ">33.3", "mmol/L", "F");
        beyond.value_type = "SN".into();
        let mut flagged = obx("718-7", "60", "g/L", "F");
        flagged.flags = vec!["LL".into()];
        let mut second = obx("2823-3", "4.0", "mmol/L", "F");
        second.sub_id = "2".into();
        let mg = obx("1558-6", "126", "mg/dL", "F");
        let p = prepare(
            &report(vec![lower, beyond, flagged, second, mg]),
            items,
            SOURCE,
            now,
            offset!(+8),
        );
        let sides: Vec<Option<CriticalSide>> = p.results.iter().map(|r| r.critical).collect();
        assert_eq!(
            sides,
            [
                Some(CriticalSide::High),
                Some(CriticalSide::High),
                Some(CriticalSide::Low),
                None,
                None
            ]
        );
        assert_eq!(p.results[0].source_id, "F1|2823-3|1");
        assert_eq!(p.results[3].source_id, "F1|2823-3|2");
        let g = &p.results[4];
        assert_eq!(
            (
                g.value_centi,
                g.value_text.as_str(),
                g.unit.as_str(),
                g.reported.as_str()
            ),
            (Some(699), "6.99", "mmol/L", "126 mg/dL")
        );
    }

    #[test]
    fn a_result_needs_a_code_an_order_and_a_time_not_ahead() {
        let now = us(datetime!(2026-12-01 02:00 UTC));
        let items = LabItems::builtin();
        let mut no_time = report(vec![obx("2823-3", "4.0", "mmol/L", "F")]);
        no_time.orders[0].collected_at_us = None;
        let mut later = report(vec![obx("2823-3", "4.0", "mmol/L", "F")]);
        later.orders[0].collected_at_us = Some(us(datetime!(2026-12-01 03:00 UTC)));
        let mut no_order = report(vec![obx("2823-3", "4.0", "mmol/L", "F")]);
        no_order.orders[0].placer.clear();
        no_order.orders[0].filler.clear();
        let mut local = obx("K", "4.0", "mmol/L", "F");
        local.codes = vec![("K".into(), "钾".into(), "L".into())];
        let mut text = obx("", "阴性", "", "F");
        text.value_type = "ST".into();
        text.codes = vec![("5804-0".into(), "protein".into(), "LN".into())];
        let kept = report(vec![local, text, obx("", "4.0", "mmol/L", "F")]);
        for (r, reason) in [
            (&no_time, "no collection time in OBR-7 or OBX-14"),
            (&later, "the collection time is in the future"),
            (&no_order, "no order number in OBR-2 or OBR-3"),
        ] {
            let p = prepare(r, items, SOURCE, now, offset!(+8));
            assert!(p.results.is_empty());
            assert_eq!(p.skipped[0].reason, reason);
        }
        let p = prepare(&kept, items, SOURCE, now, offset!(+8));
        assert_eq!(p.results.len(), 2);
        assert_eq!(
            (
                p.results[0].code_system.as_str(),
                p.results[0].display.as_str()
            ),
            ("L", "钾")
        );
        assert_eq!(
            (p.results[1].value_text.as_str(), p.results[1].value_centi),
            ("阴性", None)
        );
        assert_eq!(p.skipped[0].reason, "no code in OBX-3");
    }
}
