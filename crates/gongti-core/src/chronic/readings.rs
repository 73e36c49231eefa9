//! Home readings (家庭自测): BP and glucose that patients or their devices upload.
//! They never count as follow-ups (DOMAIN.md §2), but a reading at an urgent
//! threshold raises an alert on the care team's worklist at once.

use super::followup::Reason;
use super::{Bp, Params};
use crate::measure::Mmol;
use crate::problem::{FieldProblem, Problem};

/// Most readings in one batch request.
pub const BATCH_MAX: usize = 1000;
pub const CLIENT_ID_MAX_CHARS: usize = 64;
pub const DEVICE_MAX_CHARS: usize = 64;
/// How far ahead of the server's clock a device's time may run (clock skew).
pub const FUTURE_SKEW_US: i64 = 5 * 60 * 1_000_000;
/// Readings older than this are refused (a device that synced far too late, or a
/// wrong clock).
pub const MAX_AGE_US: i64 = 366 * 24 * 3600 * 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GlucoseContext {
    Fasting,
    Postprandial,
    Random,
}

impl GlucoseContext {
    pub fn code(self) -> &'static str {
        match self {
            GlucoseContext::Fasting => "fasting",
            GlucoseContext::Postprandial => "postprandial",
            GlucoseContext::Random => "random",
        }
    }

    pub fn parse(code: &str) -> Option<GlucoseContext> {
        match code {
            "fasting" => Some(GlucoseContext::Fasting),
            "postprandial" => Some(GlucoseContext::Postprandial),
            "random" => Some(GlucoseContext::Random),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadingValue {
    Bp {
        bp: Bp,
        pulse_bpm: Option<u16>,
    },
    Glucose {
        glucose: Mmol,
        context: GlucoseContext,
    },
}

impl ReadingValue {
    pub fn kind(&self) -> &'static str {
        match self {
            ReadingValue::Bp { .. } => "bp",
            ReadingValue::Glucose { .. } => "glucose",
        }
    }
}

/// A reading as uploaded.
#[derive(Debug, Clone, Default)]
pub struct ReadingForm {
    /// The client's own id: uploading the same id again changes nothing.
    pub client_reading_id: String,
    /// `bp` or `glucose`.
    pub kind: String,
    /// When it was taken, RFC 3339 with an offset (`2026-11-22T08:30:00+08:00`).
    pub taken_at: Option<String>,
    pub sbp_mmhg: Option<i64>,
    pub dbp_mmhg: Option<i64>,
    pub pulse_bpm: Option<i64>,
    pub glucose_mmol: Option<f64>,
    /// `fasting` (default), `postprandial` or `random`.
    pub glucose_context: Option<String>,
    pub device: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidReading {
    pub client_reading_id: String,
    pub taken_at_us: i64,
    pub value: ReadingValue,
    pub device: Option<String>,
}

fn range(min: &'static str, max: &'static str) -> Problem {
    Problem::OutOfRange { min, max }
}

/// Checks one reading against the plausible ranges of a follow-up and the clock.
pub fn validate_reading(
    form: &ReadingForm,
    now_us: i64,
) -> Result<ValidReading, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let id = form.client_reading_id.trim();
    if id.is_empty() {
        problems.push(FieldProblem::new("client_reading_id", Problem::Required));
    } else if id.chars().count() > CLIENT_ID_MAX_CHARS {
        problems.push(FieldProblem::new(
            "client_reading_id",
            Problem::TooLong {
                max_chars: CLIENT_ID_MAX_CHARS,
            },
        ));
    } else if id.chars().any(char::is_control) {
        problems.push(FieldProblem::new(
            "client_reading_id",
            Problem::ControlCharacters,
        ));
    }
    let taken_at_us = match form.taken_at.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            let parsed =
                time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                    .ok()
                    .map(|t| (t.unix_timestamp_nanos() / 1_000) as i64);
            if parsed.is_none() {
                problems.push(FieldProblem::new("taken_at", Problem::Malformed));
            }
            parsed
        }
    };
    match taken_at_us {
        None if form
            .taken_at
            .as_deref()
            .is_some_and(|t| !t.trim().is_empty()) => {}
        None => problems.push(FieldProblem::new("taken_at", Problem::Required)),
        Some(t) if t > now_us + FUTURE_SKEW_US => {
            problems.push(FieldProblem::new("taken_at", Problem::InFuture));
        }
        Some(t) if t < now_us - MAX_AGE_US => problems.push(FieldProblem::new(
            "taken_at",
            range("now − 366 days", "now"),
        )),
        Some(_) => {}
    }
    let device = match form
        .device
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        Some(d) if d.chars().count() > DEVICE_MAX_CHARS => {
            problems.push(FieldProblem::new(
                "device",
                Problem::TooLong {
                    max_chars: DEVICE_MAX_CHARS,
                },
            ));
            None
        }
        d => d.map(str::to_owned),
    };
    let in_range =
        |problems: &mut Vec<FieldProblem>, field, v: Option<i64>, (lo, hi): (u16, u16), text| {
            let v = v?;
            if v < i64::from(lo) || v > i64::from(hi) {
                let (min, max) = text;
                problems.push(FieldProblem::new(field, range(min, max)));
                return None;
            }
            u16::try_from(v).ok()
        };
    let value = match form.kind.as_str() {
        "bp" => {
            let sbp = in_range(
                &mut problems,
                "sbp_mmhg",
                form.sbp_mmhg,
                super::followup::SBP_MMHG,
                ("50", "300"),
            );
            let dbp = in_range(
                &mut problems,
                "dbp_mmhg",
                form.dbp_mmhg,
                super::followup::DBP_MMHG,
                ("20", "200"),
            );
            let pulse = in_range(
                &mut problems,
                "pulse_bpm",
                form.pulse_bpm,
                super::followup::HEART_RATE_BPM,
                ("20", "250"),
            );
            if form.sbp_mmhg.is_none() {
                problems.push(FieldProblem::new("sbp_mmhg", Problem::Required));
            }
            if form.dbp_mmhg.is_none() {
                problems.push(FieldProblem::new("dbp_mmhg", Problem::Required));
            }
            match (sbp, dbp) {
                (Some(s), Some(d)) if d >= s => {
                    problems.push(FieldProblem::new(
                        "dbp_mmhg",
                        Problem::Inconsistent { with: "sbp_mmhg" },
                    ));
                    None
                }
                (Some(s), Some(d)) => Some(ReadingValue::Bp {
                    bp: Bp::new(s, d),
                    pulse_bpm: pulse,
                }),
                _ => None,
            }
        }
        "glucose" => {
            let (lo, hi) = super::followup::FPG_CENTI_MMOL;
            let glucose = match form.glucose_mmol {
                None => {
                    problems.push(FieldProblem::new("glucose_mmol", Problem::Required));
                    None
                }
                Some(g) => match Mmol::from_f64(g) {
                    Some(m) if (lo..=hi).contains(&m.centi()) => Some(m),
                    _ => {
                        problems.push(FieldProblem::new("glucose_mmol", range("0.5", "60.0")));
                        None
                    }
                },
            };
            let context = match form.glucose_context.as_deref() {
                None | Some("") => Some(GlucoseContext::Fasting),
                Some(c) => {
                    let parsed = GlucoseContext::parse(c);
                    if parsed.is_none() {
                        problems.push(FieldProblem::new("glucose_context", Problem::UnknownCode));
                    }
                    parsed
                }
            };
            glucose
                .zip(context)
                .map(|(glucose, context)| ReadingValue::Glucose { glucose, context })
        }
        "" => {
            problems.push(FieldProblem::new("kind", Problem::Required));
            None
        }
        _ => {
            problems.push(FieldProblem::new("kind", Problem::UnknownCode));
            None
        }
    };
    match (value, taken_at_us) {
        (Some(value), Some(taken_at_us)) if problems.is_empty() => Ok(ValidReading {
            client_reading_id: id.to_owned(),
            taken_at_us,
            value,
            device,
        }),
        _ => Err(problems),
    }
}

/// The urgent-referral threshold a home reading meets, if any (DOMAIN.md §2: BP
/// ≥ 180 and/or ≥ 110; glucose ≥ 16.7 or ≤ 3.9 mmol/L, whatever the context).
pub fn urgent_reading(value: &ReadingValue, params: &Params) -> Option<Reason> {
    match *value {
        ReadingValue::Bp { bp, .. } => bp
            .at_or_above(params.urgent_bp.sbp_mmhg, params.urgent_bp.dbp_mmhg)
            .then_some(Reason::UrgentBp {
                bp,
                at_or_above: params.urgent_bp,
            }),
        ReadingValue::Glucose { glucose, .. } => {
            if glucose >= params.urgent_glucose_at_or_above {
                Some(Reason::UrgentGlucoseHigh {
                    fpg: glucose,
                    at_or_above: params.urgent_glucose_at_or_above,
                })
            } else if glucose <= params.urgent_glucose_at_or_below {
                Some(Reason::UrgentGlucoseLow {
                    fpg: glucose,
                    at_or_below: params.urgent_glucose_at_or_below,
                })
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_000_000_000_000;

    fn at(us: i64) -> String {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
            .unwrap()
            .to_offset(time::macros::offset!(+8))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    fn bp(sbp: i64, dbp: i64) -> ReadingForm {
        ReadingForm {
            client_reading_id: "r1".into(),
            kind: "bp".into(),
            taken_at: Some(at(NOW - 60_000_000)),
            sbp_mmhg: Some(sbp),
            dbp_mmhg: Some(dbp),
            ..ReadingForm::default()
        }
    }

    fn glucose(mmol: f64) -> ReadingForm {
        ReadingForm {
            kind: "glucose".into(),
            glucose_mmol: Some(mmol),
            sbp_mmhg: None,
            dbp_mmhg: None,
            ..bp(0, 0)
        }
    }

    #[test]
    fn urgent_thresholds_raise_an_alert() {
        // DOMAIN.md §2 urgent referral thresholds, applied to home readings.
        let p = Params::default();
        let urgent = |f: ReadingForm| {
            let v = validate_reading(&f, NOW).unwrap();
            urgent_reading(&v.value, &p).map(|r| r.code())
        };
        assert_eq!(urgent(bp(179, 109)), None);
        assert_eq!(urgent(bp(180, 100)), Some("urgent_bp"));
        assert_eq!(urgent(bp(150, 110)), Some("urgent_bp"));
        assert_eq!(urgent(glucose(16.6)), None);
        assert_eq!(urgent(glucose(16.7)), Some("urgent_glucose_high"));
        assert_eq!(urgent(glucose(4.0)), None);
        assert_eq!(urgent(glucose(3.9)), Some("urgent_glucose_low"));
    }

    #[test]
    fn implausible_and_future_readings_are_refused() {
        let problems = |f: ReadingForm| -> Vec<(&str, &str)> {
            validate_reading(&f, NOW)
                .err()
                .unwrap_or_default()
                .iter()
                .map(|p| (p.field, p.problem.code()))
                .collect()
        };
        assert_eq!(problems(bp(130, 80)), []);
        assert_eq!(problems(bp(400, 20)), [("sbp_mmhg", "out_of_range")]);
        assert_eq!(problems(bp(120, 130)), [("dbp_mmhg", "inconsistent")]);
        let future = ReadingForm {
            taken_at: Some(at(NOW + FUTURE_SKEW_US + 1)),
            ..bp(130, 80)
        };
        assert_eq!(problems(future), [("taken_at", "in_future")]);
        let skewed = ReadingForm {
            taken_at: Some(at(NOW + FUTURE_SKEW_US)),
            ..bp(130, 80)
        };
        assert_eq!(problems(skewed), []);
        let ancient = ReadingForm {
            taken_at: Some(at(NOW - MAX_AGE_US - 1)),
            ..bp(130, 80)
        };
        assert_eq!(problems(ancient), [("taken_at", "out_of_range")]);
        let unnamed = ReadingForm {
            client_reading_id: " ".into(),
            kind: "weight".into(),
            ..bp(130, 80)
        };
        assert_eq!(
            problems(unnamed),
            [("client_reading_id", "required"), ("kind", "unknown_code")]
        );
        assert_eq!(problems(glucose(0.4)), [("glucose_mmol", "out_of_range")]);
        let context = ReadingForm {
            glucose_context: Some("bedtime".into()),
            ..glucose(6.0)
        };
        assert_eq!(problems(context), [("glucose_context", "unknown_code")]);
        let local_time = ReadingForm {
            taken_at: Some("2026-11-22 08:30".into()),
            ..bp(130, 80)
        };
        assert_eq!(problems(local_time), [("taken_at", "malformed")]);
        let missing = ReadingForm {
            taken_at: None,
            ..bp(130, 80)
        };
        assert_eq!(problems(missing), [("taken_at", "required")]);
    }
}
