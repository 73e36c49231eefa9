//! The prescription once issued (DOMAIN.md §4, 处方审核): its status, the steps that
//! move it, and the canonical text its signatures cover. Pure: the application keeps
//! the versions, signs the texts and records each step.
//!
//! ```text
//!   issue ─▶ pending_review ──pass──▶ passed ─▶ (dispensing, issue 15 item 6)
//!              │  ▲      │
//!        return│  │confirm / revise
//!              ▼  │      └─refuse─▶ refused
//!            returned
//!   pending_review, returned, passed ──cancel──▶ cancelled
//!   passed ──filled by a pharmacy (`dispense`)──▶ dispensed
//! ```
//!
//! A grade-1 (禁忌) finding can never pass and the prescriber can never confirm it: only
//! a new version without it moves on. A grade-2 (不推荐) finding passes only after the
//! prescriber has confirmed it with a second signature and a reason.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::checkpoint::hex;

use crate::pharmacy::check::{Channel, LongRx, RxKind};
use crate::pharmacy::knowledge::{Grade, Route};

/// The longest reason a step takes (a return, a refusal, a confirmation, a cancel).
pub const STEP_REASON_MAX_CHARS: usize = 200;

/// Where a prescription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RxStatus {
    /// 待审核: in the pharmacists' queue.
    PendingReview,
    /// 已退回: back with the prescriber, to confirm or revise.
    Returned,
    /// 审核通过: signed by a pharmacist; in effect until it is filled or expires.
    Passed,
    /// 已拒绝: a severe error, refused and reported.
    Refused,
    /// 已作废: withdrawn by the prescriber.
    Cancelled,
    /// 已调配: filled by a pharmacy (used; never filled again).
    Dispensed,
}

impl RxStatus {
    pub const ALL: [RxStatus; 6] = [
        RxStatus::PendingReview,
        RxStatus::Returned,
        RxStatus::Passed,
        RxStatus::Refused,
        RxStatus::Cancelled,
        RxStatus::Dispensed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RxStatus::PendingReview => "pending_review",
            RxStatus::Returned => "returned",
            RxStatus::Passed => "passed",
            RxStatus::Refused => "refused",
            RxStatus::Cancelled => "cancelled",
            RxStatus::Dispensed => "dispensed",
        }
    }

    pub fn parse(code: &str) -> Option<RxStatus> {
        RxStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            RxStatus::PendingReview => "待审核",
            RxStatus::Returned => "已退回医生",
            RxStatus::Passed => "审核通过",
            RxStatus::Refused => "审核拒绝",
            RxStatus::Cancelled => "已作废",
            RxStatus::Dispensed => "已调配",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            RxStatus::PendingReview => "Awaiting review",
            RxStatus::Returned => "Returned to the prescriber",
            RxStatus::Passed => "Passed review",
            RxStatus::Refused => "Refused",
            RxStatus::Cancelled => "Cancelled",
            RxStatus::Dispensed => "Dispensed",
        }
    }
}

/// A step on an issued prescription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// The pharmacist passes and signs (审核通过).
    Pass,
    /// The pharmacist returns it to the prescriber with a reason (退回).
    Return,
    /// The pharmacist refuses a severe error (拒绝), reported.
    Refuse,
    /// The prescriber confirms the findings with a second signature and a reason (双签).
    Confirm,
    /// The prescriber issues a new version (修改重开).
    Revise,
    /// The prescriber withdraws it (作废).
    Cancel,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Pass,
        Step::Return,
        Step::Refuse,
        Step::Confirm,
        Step::Revise,
        Step::Cancel,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Step::Pass => "pass",
            Step::Return => "return",
            Step::Refuse => "refuse",
            Step::Confirm => "confirm",
            Step::Revise => "revise",
            Step::Cancel => "cancel",
        }
    }

    pub fn parse(code: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Step::Pass => "审核通过",
            Step::Return => "退回医生",
            Step::Refuse => "拒绝",
            Step::Confirm => "医生双签确认",
            Step::Revise => "修改重开",
            Step::Cancel => "作废",
        }
    }

    /// Whether a pharmacist takes this step (otherwise the prescriber does).
    pub fn by_pharmacist(self) -> bool {
        matches!(self, Step::Pass | Step::Return | Step::Refuse)
    }

    /// Whether the step needs a reason.
    pub fn needs_reason(self) -> bool {
        !matches!(self, Step::Pass | Step::Revise)
    }

    /// Whether the step carries its taker's electronic signature.
    pub fn signed(self) -> bool {
        matches!(self, Step::Pass | Step::Confirm | Step::Revise)
    }
}

/// What the current version's findings allow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepFacts {
    /// A grade-1 (禁忌) finding.
    pub contraindicated: bool,
    /// A grade-2 (不推荐) finding.
    pub not_recommended: bool,
    /// The prescriber has confirmed this version's findings (双签).
    pub confirmed: bool,
}

impl StepFacts {
    pub fn of(grades: impl IntoIterator<Item = Grade>, confirmed: bool) -> StepFacts {
        let mut facts = StepFacts {
            confirmed,
            ..StepFacts::default()
        };
        for g in grades {
            match g {
                Grade::Contraindicated => facts.contraindicated = true,
                Grade::NotRecommended => facts.not_recommended = true,
                Grade::Caution | Grade::Note => {}
            }
        }
        facts
    }
}

/// Why a step is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepRefusal {
    /// The prescription's status does not allow the step.
    NotOpenForStep,
    /// A grade-1 finding: neither a pass nor the prescriber's confirmation.
    Contraindicated,
    /// A grade-2 finding the prescriber has not confirmed.
    NeedsConfirmation,
    /// The step needs a reason and none was given.
    ReasonRequired,
}

impl StepRefusal {
    pub fn code(self) -> &'static str {
        match self {
            StepRefusal::NotOpenForStep => "prescription_not_open_for_step",
            StepRefusal::Contraindicated => "contraindication_cannot_pass",
            StepRefusal::NeedsConfirmation => "needs_prescriber_confirmation",
            StepRefusal::ReasonRequired => "reason_required",
        }
    }
}

/// The status after `step`, or why it may not be taken (DOMAIN.md §4, 处方审核;
/// reference/pharmacy.md §7 test vector 12).
pub fn take(
    status: RxStatus,
    step: Step,
    facts: StepFacts,
    reason_given: bool,
) -> Result<RxStatus, StepRefusal> {
    let open = match step {
        Step::Pass | Step::Return | Step::Refuse => status == RxStatus::PendingReview,
        Step::Confirm => status == RxStatus::Returned,
        Step::Revise => matches!(status, RxStatus::PendingReview | RxStatus::Returned),
        Step::Cancel => matches!(
            status,
            RxStatus::PendingReview | RxStatus::Returned | RxStatus::Passed
        ),
    };
    if !open {
        return Err(StepRefusal::NotOpenForStep);
    }
    if step.needs_reason() && !reason_given {
        return Err(StepRefusal::ReasonRequired);
    }
    match step {
        Step::Pass if facts.contraindicated => Err(StepRefusal::Contraindicated),
        Step::Pass if facts.not_recommended && !facts.confirmed => {
            Err(StepRefusal::NeedsConfirmation)
        }
        Step::Pass => Ok(RxStatus::Passed),
        Step::Return => Ok(RxStatus::Returned),
        Step::Refuse => Ok(RxStatus::Refused),
        Step::Confirm if facts.contraindicated => Err(StepRefusal::Contraindicated),
        Step::Confirm | Step::Revise => Ok(RxStatus::PendingReview),
        Step::Cancel => Ok(RxStatus::Cancelled),
    }
}

/// Where a prescription waits in the pharmacists' queue: the most severe finding
/// first (0 = high … 3 = no finding), then the longest waiting.
pub fn queue_rank(grades: impl IntoIterator<Item = Grade>) -> u8 {
    grades
        .into_iter()
        .map(|g| match g {
            Grade::Contraindicated | Grade::NotRecommended => 0,
            Grade::Caution => 1,
            Grade::Note => 2,
        })
        .min()
        .unwrap_or(3)
}

impl Channel {
    pub fn code(self) -> &'static str {
        match self {
            Channel::Online => "online",
            Channel::Clinic => "clinic",
        }
    }

    pub fn parse(code: &str) -> Option<Channel> {
        [Channel::Online, Channel::Clinic]
            .into_iter()
            .find(|c| c.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Channel::Online => "互联网复诊",
            Channel::Clinic => "门诊",
        }
    }
}

impl RxKind {
    pub fn code(self) -> &'static str {
        match self {
            RxKind::Normal => "normal",
            RxKind::Emergency => "emergency",
            RxKind::Paediatric => "paediatric",
        }
    }

    pub fn parse(code: &str) -> Option<RxKind> {
        [RxKind::Normal, RxKind::Emergency, RxKind::Paediatric]
            .into_iter()
            .find(|k| k.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            RxKind::Normal => "普通处方",
            RxKind::Emergency => "急诊处方",
            RxKind::Paediatric => "儿科处方",
        }
    }
}

/// One line of an issued prescription: every field exact (the check refused a draft
/// without them).
#[derive(Debug, Clone, PartialEq)]
pub struct RxLine {
    pub generic_name: String,
    pub dose: f64,
    pub dose_unit: String,
    pub times_per_day: u32,
    pub route: Route,
    pub days: u32,
}

/// A prescription's content as signed: 前记 (patient, institution, prescriber, date),
/// 正文 (the lines) and what the rules read (kind, channel, validity, long).
#[derive(Debug, Clone, PartialEq)]
pub struct RxContent {
    pub prescription_id: i64,
    pub version: u32,
    pub resident_id: i64,
    pub patient_name: String,
    /// `male` or `female`.
    pub sex: String,
    pub birth_date: time::Date,
    pub institution_id: i64,
    pub prescriber_staff_id: i64,
    pub prescriber_name: String,
    pub issued_at_us: i64,
    pub channel: Channel,
    pub kind: RxKind,
    pub validity_days: u32,
    pub long: Option<LongRx>,
    pub supply_reason: Option<String>,
    /// ICD-10 codes the prescription treats.
    pub diagnoses: Vec<String>,
    pub lines: Vec<RxLine>,
}

/// The canonical text's first line (its format and version).
pub const CANONICAL_HEADER: &str = "gongti-prescription/1";

/// A value on one canonical line: `%`, `|`, `=`, CR and LF are percent-escaped, so
/// a value never ends its line or field early.
fn escape(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '%' => out.push_str("%25"),
            '|' => out.push_str("%7C"),
            '=' => out.push_str("%3D"),
            ',' => out.push_str("%2C"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            c => out.push(c),
        }
    }
}

fn unescape(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3)?;
        out.push(match code {
            "25" => '%',
            "7C" => '|',
            "3D" => '=',
            "2C" => ',',
            "0A" => '\n',
            "0D" => '\r',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    Some(out)
}

impl RxContent {
    /// The canonical text: one `key=value` per line in a fixed order, lines as
    /// `line=name|dose|unit|times|route|days`. Two equal contents give the same bytes;
    /// [`RxContent::parse`] reads it back.
    pub fn canonical(&self) -> String {
        let mut s = String::with_capacity(512);
        let mut field = |key: &str, value: &str| {
            s.push_str(key);
            s.push('=');
            escape(&mut s, value);
            s.push('\n');
        };
        field("prescription", &self.prescription_id.to_string());
        field("version", &self.version.to_string());
        field("resident", &self.resident_id.to_string());
        field("patient_name", &self.patient_name);
        field("sex", &self.sex);
        field("birth_date", &self.birth_date.to_string());
        field("institution", &self.institution_id.to_string());
        field("prescriber", &self.prescriber_staff_id.to_string());
        field("prescriber_name", &self.prescriber_name);
        field("issued_at_us", &self.issued_at_us.to_string());
        field("channel", self.channel.code());
        field("kind", self.kind.code());
        field("validity_days", &self.validity_days.to_string());
        let long = self.long.map_or_else(
            || "no".to_owned(),
            |l| {
                format!(
                    "first:{},assessment:{},confirmed:{}",
                    u8::from(l.first),
                    u8::from(l.assessment_recorded),
                    u8::from(l.patient_confirmed)
                )
            },
        );
        field("long", &long);
        field("supply_reason", self.supply_reason.as_deref().unwrap_or(""));
        // Each diagnosis escaped (a comma in one included), then joined by commas.
        let diagnoses = self
            .diagnoses
            .iter()
            .map(|d| {
                let mut one = String::new();
                escape(&mut one, d);
                one
            })
            .collect::<Vec<_>>()
            .join(",");
        s.push_str("diagnoses=");
        s.push_str(&diagnoses);
        s.push('\n');
        let mut text = format!("{CANONICAL_HEADER}\n");
        text.push_str(&s);
        for l in &self.lines {
            text.push_str("line=");
            escape(&mut text, &l.generic_name);
            let _ = write!(
                text,
                "|{}|",
                l.dose // f64's Display: the shortest text that reads back as the same value
            );
            escape(&mut text, &l.dose_unit);
            let _ = writeln!(text, "|{}|{}|{}", l.times_per_day, l.route.code(), l.days);
        }
        text
    }

    /// SHA-256 of the canonical text, in hex: the version's digest.
    pub fn digest_hex(&self) -> String {
        hex(&Sha256::digest(self.canonical().as_bytes()))
    }

    /// Reads a canonical text back; `None` if it is not one.
    pub fn parse(text: &str) -> Option<RxContent> {
        let mut lines = text.lines();
        if lines.next()? != CANONICAL_HEADER {
            return None;
        }
        let mut fields = std::collections::HashMap::new();
        let mut rx_lines = Vec::new();
        let mut diagnoses: Option<Vec<String>> = None;
        for line in lines {
            let (key, value) = line.split_once('=')?;
            if key == "line" {
                let parts: Vec<&str> = value.split('|').collect();
                let [name, dose, unit, times, route, days] = parts[..] else {
                    return None;
                };
                rx_lines.push(RxLine {
                    generic_name: unescape(name)?,
                    dose: dose.parse().ok()?,
                    dose_unit: unescape(unit)?,
                    times_per_day: times.parse().ok()?,
                    route: Route::parse(route)?,
                    days: days.parse().ok()?,
                });
            } else if key == "diagnoses" {
                // Split first, then unescape each (a diagnosis may hold a comma).
                let list = if value.is_empty() {
                    Vec::new()
                } else {
                    value.split(',').map(unescape).collect::<Option<Vec<_>>>()?
                };
                if diagnoses.replace(list).is_some() {
                    return None;
                }
            } else if fields.insert(key, unescape(value)?).is_some() {
                return None;
            }
        }
        let get = |key: &str| fields.get(key).map(String::as_str);
        let long = match get("long")? {
            "no" => None,
            text => {
                let flag = |name: &str| -> Option<bool> {
                    let v = text
                        .split(',')
                        .find_map(|p| p.strip_prefix(name)?.strip_prefix(':'))?;
                    Some(v == "1")
                };
                Some(LongRx {
                    first: flag("first")?,
                    assessment_recorded: flag("assessment")?,
                    patient_confirmed: flag("confirmed")?,
                })
            }
        };
        let content = RxContent {
            prescription_id: get("prescription")?.parse().ok()?,
            version: get("version")?.parse().ok()?,
            resident_id: get("resident")?.parse().ok()?,
            patient_name: get("patient_name")?.to_owned(),
            sex: get("sex")?.to_owned(),
            birth_date: time::Date::parse(
                get("birth_date")?,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .ok()?,
            institution_id: get("institution")?.parse().ok()?,
            prescriber_staff_id: get("prescriber")?.parse().ok()?,
            prescriber_name: get("prescriber_name")?.to_owned(),
            issued_at_us: get("issued_at_us")?.parse().ok()?,
            channel: Channel::parse(get("channel")?)?,
            kind: RxKind::parse(get("kind")?)?,
            validity_days: get("validity_days")?.parse().ok()?,
            long,
            supply_reason: Some(get("supply_reason")?.to_owned()).filter(|r| !r.is_empty()),
            diagnoses: diagnoses?,
            lines: rx_lines,
        };
        // Only a text written by `canonical` is one: same bytes back.
        (content.canonical() == text).then_some(content)
    }
}

/// What a step's signature covers: the version's digest, the step, who and when.
pub fn step_message(digest_hex: &str, step: Step, staff_id: i64, at_us: i64) -> String {
    format!(
        "gongti-prescription-step/1\ndigest={digest_hex}\nstep={}\nstaff={staff_id}\nat_us={at_us}\n",
        step.code()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO: StepFacts = StepFacts {
        contraindicated: false,
        not_recommended: false,
        confirmed: false,
    };
    const G1: StepFacts = StepFacts {
        contraindicated: true,
        not_recommended: false,
        confirmed: false,
    };
    const G2: StepFacts = StepFacts {
        contraindicated: false,
        not_recommended: true,
        confirmed: false,
    };
    const G2_CONFIRMED: StepFacts = StepFacts {
        contraindicated: false,
        not_recommended: true,
        confirmed: true,
    };

    use RxStatus::*;
    use Step::*;
    use StepRefusal as R;

    /// DOMAIN.md §4 (处方审核) and reference/pharmacy.md §7, vector 12: every step from
    /// every status it concerns.
    #[test]
    fn the_review_steps_follow_domain_section_4() {
        // (from, step, facts, reason given, what follows)
        type Row = (RxStatus, Step, StepFacts, bool, Result<RxStatus, R>);
        let table: &[Row] = &[
            // A pharmacist passes a prescription awaiting review.
            (PendingReview, Pass, NO, false, Ok(Passed)),
            // Grade 1 (禁忌) never passes, not even confirmed.
            (PendingReview, Pass, G1, false, Err(R::Contraindicated)),
            (
                PendingReview,
                Pass,
                StepFacts {
                    confirmed: true,
                    ..G1
                },
                false,
                Err(R::Contraindicated),
            ),
            // Grade 2 (不推荐) passes only after the prescriber's second signature.
            (PendingReview, Pass, G2, false, Err(R::NeedsConfirmation)),
            (PendingReview, Pass, G2_CONFIRMED, false, Ok(Passed)),
            // Return and refuse need a reason.
            (PendingReview, Return, G2, true, Ok(Returned)),
            (PendingReview, Return, G2, false, Err(R::ReasonRequired)),
            (PendingReview, Refuse, G1, true, Ok(Refused)),
            (PendingReview, Refuse, G1, false, Err(R::ReasonRequired)),
            // The prescriber confirms a returned prescription — never a grade-1 one.
            (Returned, Confirm, G2, true, Ok(PendingReview)),
            (Returned, Confirm, G2, false, Err(R::ReasonRequired)),
            (Returned, Confirm, G1, true, Err(R::Contraindicated)),
            (PendingReview, Confirm, G2, true, Err(R::NotOpenForStep)),
            // A new version goes back to review, even from grade 1.
            (Returned, Revise, G1, false, Ok(PendingReview)),
            (PendingReview, Revise, NO, false, Ok(PendingReview)),
            (Passed, Revise, NO, false, Err(R::NotOpenForStep)),
            // Cancelled before it is filled; never after a refusal.
            (Passed, Cancel, NO, true, Ok(Cancelled)),
            (Returned, Cancel, NO, true, Ok(Cancelled)),
            (Refused, Cancel, NO, true, Err(R::NotOpenForStep)),
            (Dispensed, Cancel, NO, true, Err(R::NotOpenForStep)),
            (Passed, Cancel, NO, false, Err(R::ReasonRequired)),
            // Nothing moves a closed prescription; a pharmacist reviews once.
            (Passed, Pass, NO, false, Err(R::NotOpenForStep)),
            (Returned, Pass, NO, false, Err(R::NotOpenForStep)),
            (Cancelled, Return, NO, true, Err(R::NotOpenForStep)),
            (Refused, Confirm, NO, true, Err(R::NotOpenForStep)),
        ];
        for (status, step, facts, reason, want) in table {
            assert_eq!(
                take(*status, *step, *facts, *reason),
                *want,
                "{status:?} {step:?} {facts:?} reason={reason}"
            );
        }
    }

    #[test]
    fn the_queue_puts_the_most_severe_first() {
        assert_eq!(queue_rank([Grade::Note, Grade::NotRecommended]), 0);
        assert_eq!(queue_rank([Grade::Contraindicated]), 0);
        assert_eq!(queue_rank([Grade::Caution, Grade::Note]), 1);
        assert_eq!(queue_rank([Grade::Note]), 2);
        assert_eq!(queue_rank([]), 3);
    }

    fn content() -> RxContent {
        RxContent {
            prescription_id: 7,
            version: 2,
            resident_id: 11121,
            patient_name: "曾丽".into(),
            sex: "female".into(),
            birth_date: time::macros::date!(1951 - 03 - 09),
            institution_id: 3,
            prescriber_staff_id: 12,
            prescriber_name: "王|医生=%\n".into(),
            issued_at_us: 1_764_800_000_000_000,
            channel: Channel::Online,
            kind: RxKind::Normal,
            validity_days: 3,
            long: Some(LongRx {
                first: true,
                assessment_recorded: true,
                patient_confirmed: false,
            }),
            supply_reason: Some("慢性病".into()),
            diagnoses: vec!["I10".into(), "E11.9".into(), "J45,x".into(), String::new()],
            lines: vec![
                RxLine {
                    generic_name: "苯磺酸氨氯地平片".into(),
                    dose: 5.0,
                    dose_unit: "mg".into(),
                    times_per_day: 1,
                    route: Route::Oral,
                    days: 28,
                },
                RxLine {
                    generic_name: "metformin".into(),
                    dose: 0.5,
                    dose_unit: "g".into(),
                    times_per_day: 3,
                    route: Route::Oral,
                    days: 28,
                },
            ],
        }
    }

    #[test]
    fn the_canonical_text_reads_back_and_changes_with_any_field() {
        let c = content();
        let text = c.canonical();
        assert!(text.starts_with("gongti-prescription/1\nprescription=7\nversion=2\n"));
        assert!(text.contains("prescriber_name=王%7C医生%3D%25%0A\n"));
        assert!(text.contains("line=metformin|0.5|g|3|oral|28\n"));
        assert_eq!(RxContent::parse(&text), Some(c.clone()));
        let mut other = c.clone();
        other.lines[1].dose = 0.85;
        assert_ne!(other.digest_hex(), c.digest_hex());
        let mut other = c.clone();
        other.long = None;
        assert_ne!(other.canonical(), text);
        assert_eq!(c.digest_hex().len(), 64);
        // Not a canonical text: edited, reordered or unknown.
        assert_eq!(
            RxContent::parse(&text.replace("version=2", "version=02")),
            None
        );
        assert_eq!(RxContent::parse(&text.replacen("gongti", "other", 1)), None);
        assert_eq!(RxContent::parse(&format!("{text}extra=1\n")), None);
    }

    /// DOMAIN.md §4 and reference/pharmacy.md §7, vector 11: 药师 or above with ≥ 3
    /// years of dispensing reviews; two years, a 药士 or a doctor does not.
    #[test]
    fn only_a_pharmacist_of_three_years_reviews() {
        let kb = crate::pharmacy::Knowledge::builtin();
        assert!(kb.may_review(Some("药师"), 3));
        assert!(kb.may_review(Some(" 主管药师 "), 12));
        assert!(!kb.may_review(Some("药师"), 2));
        assert!(!kb.may_review(Some("药士"), 10));
        assert!(!kb.may_review(Some("主治医师"), 10));
        assert!(!kb.may_review(None, 10));
    }

    #[test]
    fn codes_read_back() {
        for s in RxStatus::ALL {
            assert_eq!(RxStatus::parse(s.code()), Some(s));
        }
        for s in Step::ALL {
            assert_eq!(Step::parse(s.code()), Some(s));
        }
        assert_eq!(Channel::parse("online"), Some(Channel::Online));
        assert_eq!(RxKind::parse("paediatric"), Some(RxKind::Paediatric));
        assert_eq!(RxKind::parse("x"), None);
    }
}
