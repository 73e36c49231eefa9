//! The online repeat visit (互联网复诊, DOMAIN.md §4; `reference/pharmacy.md` NET-1 to
//! NET-3 and NET-7). Pure rules: the caller loads, calls, persists and audits.
//!
//! - **Repeat visits only**: the resident asks about one disease; the visit is a repeat
//!   visit when the record holds an offline diagnosis of the **same disease**
//!   (`same_disease`: the chronic programme's codes as one, otherwise the ICD-10
//!   category) — made at an institution (an enrolment diagnosed offline), carried by a
//!   referral's return plan (下转, the hospital saw the patient), or on a document the
//!   resident uploaded and a doctor accepted. Without one the doctor may accept a
//!   document; otherwise the visit ends with "go to a clinic".
//! - **The doctor**: licensed, ≥ 3 years of independent practice (the knowledge base's
//!   parameter), and real-name re-verified (their password) when opening the online
//!   clinic, which stays open for the parameter's hours.
//! - **The visit**:
//!
//! ```text
//!   waiting ─accept (doctor)─▶ open ─prescribe (the signed prescription)─▶ prescribed
//!   waiting / open ─to_clinic (doctor, a reason)─▶ to_clinic
//!   waiting / open ─withdraw (resident)─▶ withdrawn
//!   messages: the resident while waiting or open; the doctor while open
//! ```
//! - **Records**: the visit kept 15 years, its messages and images 3 years (parameters).

use time::{Date, Month};

use crate::chronic::Disease;
use crate::problem::{FieldProblem, Problem};

/// Longest complaint or message, in characters.
pub const TEXT_MAX_CHARS: usize = 1_000;
/// Longest "go to a clinic" note, in characters.
pub const NOTE_MAX_CHARS: usize = 500;
/// Most images on one message.
pub const IMAGES_MAX: usize = 3;
/// The largest image, in bytes (a phone's photo of a record, compressed).
pub const IMAGE_BYTES_MAX: usize = 2 * 1024 * 1024;

/// Where a visit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitStatus {
    /// 待接诊: asked, no doctor yet.
    Waiting,
    /// 接诊中: a doctor took it.
    Open,
    /// 已开方: the doctor issued a prescription in it.
    Prescribed,
    /// 转线下: the doctor ended it, the resident to see a doctor in person.
    ToClinic,
    /// 已撤回: the resident withdrew it.
    Withdrawn,
}

impl VisitStatus {
    pub const ALL: [VisitStatus; 5] = [
        VisitStatus::Waiting,
        VisitStatus::Open,
        VisitStatus::Prescribed,
        VisitStatus::ToClinic,
        VisitStatus::Withdrawn,
    ];

    pub fn code(self) -> &'static str {
        match self {
            VisitStatus::Waiting => "waiting",
            VisitStatus::Open => "open",
            VisitStatus::Prescribed => "prescribed",
            VisitStatus::ToClinic => "to_clinic",
            VisitStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(code: &str) -> Option<VisitStatus> {
        VisitStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            VisitStatus::Waiting => "待接诊",
            VisitStatus::Open => "接诊中",
            VisitStatus::Prescribed => "已开方",
            VisitStatus::ToClinic => "请线下就诊",
            VisitStatus::Withdrawn => "已撤回",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            VisitStatus::Waiting => "waiting for a doctor",
            VisitStatus::Open => "with the doctor",
            VisitStatus::Prescribed => "prescribed",
            VisitStatus::ToClinic => "go to a clinic",
            VisitStatus::Withdrawn => "withdrawn",
        }
    }

    /// Still under way (in a queue or with a doctor).
    pub fn is_open(self) -> bool {
        matches!(self, VisitStatus::Waiting | VisitStatus::Open)
    }
}

/// Whom the resident asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    /// Their family doctor's team (签约团队), at the team's institution.
    Team,
    /// The region's internet hospital (互联网医院).
    InternetHospital,
}

impl Destination {
    pub fn code(self) -> &'static str {
        match self {
            Destination::Team => "team",
            Destination::InternetHospital => "internet_hospital",
        }
    }

    pub fn parse(code: &str) -> Option<Destination> {
        match code {
            "team" => Some(Destination::Team),
            "internet_hospital" => Some(Destination::InternetHospital),
            _ => None,
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Destination::Team => "我的家庭医生团队",
            Destination::InternetHospital => "互联网医院",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Destination::Team => "my family doctor's team",
            Destination::InternetHospital => "the internet hospital",
        }
    }
}

/// What an offline diagnosis on file rests on (the 细则's 门诊病历, 住院病历, 出院小结,
/// 诊断证明 as Gongti holds them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasisKind {
    /// A chronic-care enrolment diagnosed in person at an institution.
    Enrolment,
    /// A referral returned down with the hospital's plan (下转).
    ReferralReturn,
    /// A document the resident uploaded and a doctor accepted.
    Document,
}

impl BasisKind {
    pub fn code(self) -> &'static str {
        match self {
            BasisKind::Enrolment => "enrolment",
            BasisKind::ReferralReturn => "referral_return",
            BasisKind::Document => "document",
        }
    }

    pub fn parse(code: &str) -> Option<BasisKind> {
        [
            BasisKind::Enrolment,
            BasisKind::ReferralReturn,
            BasisKind::Document,
        ]
        .into_iter()
        .find(|k| k.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            BasisKind::Enrolment => "线下确诊（慢病管理建档）",
            BasisKind::ReferralReturn => "上级医院就诊后下转",
            BasisKind::Document => "医生认可的线下诊断材料",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            BasisKind::Enrolment => "diagnosed in person (chronic-care enrolment)",
            BasisKind::ReferralReturn => "returned by the hospital after a referral",
            BasisKind::Document => "a diagnosis document a doctor accepted",
        }
    }
}

/// An offline diagnosis on file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineDiagnosis {
    pub icd10: String,
    pub kind: BasisKind,
    /// The institution that made or accepted it.
    pub institution: String,
    pub on: Date,
}

impl OfflineDiagnosis {
    /// The basis as kept with a visit: `kind|icd10|institution|YYYY-MM-DD`.
    pub fn text(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.kind.code(),
            self.icd10,
            self.institution.replace('|', " "),
            self.on
        )
    }

    pub fn parse(text: &str) -> Option<OfflineDiagnosis> {
        let mut parts = text.splitn(4, '|');
        let kind = BasisKind::parse(parts.next()?)?;
        let icd10 = parts.next()?.to_owned();
        let institution = parts.next()?.to_owned();
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let on = Date::parse(parts.next()?, &format).ok()?;
        Some(OfflineDiagnosis {
            icd10,
            kind,
            institution,
            on,
        })
    }
}

/// The ICD-10 category of a code (its first three characters), upper case.
fn category(code: &str) -> String {
    code.trim()
        .to_ascii_uppercase()
        .chars()
        .take_while(|c| *c != '.')
        .take(3)
        .collect()
}

/// Whether two diagnoses are the same disease for a repeat visit: the chronic
/// programmes' codes as one disease (hypertension I10–I15, type 2 diabetes E11),
/// otherwise the same ICD-10 category.
pub fn same_disease(a: &str, b: &str) -> bool {
    match (Disease::from_icd10(a), Disease::from_icd10(b)) {
        (Some(x), Some(y)) => x == y,
        _ => {
            let (x, y) = (category(a), category(b));
            x.len() == 3 && x == y
        }
    }
}

/// The disease's name for the resident (another disease with its code when Gongti has
/// no name for it).
pub fn disease_name_zh(icd10: &str) -> String {
    Disease::from_icd10(icd10).map_or_else(
        || format!("其他疾病（诊断编码 {icd10}）"),
        |d| d.name_zh().to_owned(),
    )
}

/// The disease's English name, or its code.
pub fn disease_name_en(icd10: &str) -> String {
    match Disease::from_icd10(icd10) {
        Some(Disease::Hypertension) => "hypertension".to_owned(),
        Some(Disease::Diabetes) => "type 2 diabetes".to_owned(),
        None => format!("another disease (ICD-10 {icd10})"),
    }
}

/// Whether a visit about `disease` is a repeat visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    /// An offline diagnosis of the same disease is on file (the newest one).
    Repeat(OfflineDiagnosis),
    /// None on file: a doctor must accept a document first, or end the visit.
    NeedsDocument,
}

/// Judges a visit's eligibility from the offline diagnoses on file (NET-1).
pub fn eligibility(disease: Option<&str>, on_file: &[OfflineDiagnosis]) -> Eligibility {
    let Some(disease) = disease else {
        return Eligibility::NeedsDocument;
    };
    on_file
        .iter()
        .filter(|d| same_disease(&d.icd10, disease))
        .max_by_key(|d| d.on)
        .cloned()
        .map_or(Eligibility::NeedsDocument, Eligibility::Repeat)
}

/// Why the doctor ends a visit with "go to a clinic" (NET-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// 病情变化，需要面诊.
    ConditionChanged,
    /// 首诊或无线下确诊.
    FirstVisit,
    /// 不适合线上诊疗.
    Unsuitable,
    /// 其他 (a note says what).
    Other,
}

impl EndReason {
    pub const ALL: [EndReason; 4] = [
        EndReason::ConditionChanged,
        EndReason::FirstVisit,
        EndReason::Unsuitable,
        EndReason::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EndReason::ConditionChanged => "condition_changed",
            EndReason::FirstVisit => "first_visit",
            EndReason::Unsuitable => "unsuitable",
            EndReason::Other => "other",
        }
    }

    pub fn parse(code: &str) -> Option<EndReason> {
        EndReason::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            EndReason::ConditionChanged => "病情变化，需要到医院面诊",
            EndReason::FirstVisit => "首诊或没有线下确诊记录，须先到医院确诊",
            EndReason::Unsuitable => "病情不适合在线诊疗",
            EndReason::Other => "其他原因",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            EndReason::ConditionChanged => "the condition changed: to be seen in person",
            EndReason::FirstVisit => {
                "a first visit or no offline diagnosis: to be diagnosed in person first"
            }
            EndReason::Unsuitable => "not suitable for online care",
            EndReason::Other => "another reason",
        }
    }
}

/// Who acts on a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Resident,
    Doctor,
}

impl Side {
    pub fn code(self) -> &'static str {
        match self {
            Side::Resident => "resident",
            Side::Doctor => "doctor",
        }
    }

    pub fn parse(code: &str) -> Option<Side> {
        match code {
            "resident" => Some(Side::Resident),
            "doctor" => Some(Side::Doctor),
            _ => None,
        }
    }
}

/// A step on a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitStep {
    /// A doctor takes the visit (接诊).
    Accept,
    /// A message (text and images).
    Message,
    /// The doctor accepts an uploaded document as an offline diagnosis.
    AcceptDocument,
    /// The doctor's prescription in the visit was issued.
    Prescribe,
    /// The doctor ends it: go to a clinic.
    ToClinic,
    /// The resident withdraws it.
    Withdraw,
    /// The doctor asks the resident to confirm a long prescription (长期处方) on the
    /// phone (LRX-1: beyond 4 weeks the patient confirms).
    AskLongConfirmation,
    /// The resident confirms it.
    ConfirmLong,
}

impl VisitStep {
    pub fn code(self) -> &'static str {
        match self {
            VisitStep::Accept => "accept",
            VisitStep::Message => "message",
            VisitStep::AcceptDocument => "accept_document",
            VisitStep::Prescribe => "prescribe",
            VisitStep::ToClinic => "to_clinic",
            VisitStep::Withdraw => "withdraw",
            VisitStep::AskLongConfirmation => "ask_long_confirmation",
            VisitStep::ConfirmLong => "confirm_long",
        }
    }
}

/// Why a step cannot be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitRefusal {
    /// Not a step of this side.
    NotYours,
    /// Not at this status.
    NotNow(VisitStatus),
}

/// The visit's lifecycle (see the module's diagram): the status after `step` by `side`.
pub fn take(status: VisitStatus, step: VisitStep, side: Side) -> Result<VisitStatus, VisitRefusal> {
    use VisitStatus::{Open, Prescribed, ToClinic, Waiting, Withdrawn};
    let doctor = side == Side::Doctor;
    let to = match (step, status) {
        (VisitStep::Accept, Waiting) if doctor => Open,
        (VisitStep::Message, Waiting | Open) if !doctor => status,
        (VisitStep::Message, Open) if doctor => Open,
        (VisitStep::AcceptDocument, Open) if doctor => Open,
        (VisitStep::Prescribe, Open) if doctor => Prescribed,
        (VisitStep::ToClinic, Waiting | Open) if doctor => ToClinic,
        (VisitStep::Withdraw, Waiting | Open) if !doctor => Withdrawn,
        (VisitStep::AskLongConfirmation, Open) if doctor => Open,
        (VisitStep::ConfirmLong, Open) if !doctor => Open,
        (
            VisitStep::Accept
            | VisitStep::AcceptDocument
            | VisitStep::Prescribe
            | VisitStep::ToClinic
            | VisitStep::AskLongConfirmation,
            _,
        ) if !doctor => return Err(VisitRefusal::NotYours),
        (VisitStep::Withdraw | VisitStep::ConfirmLong, _) if doctor => {
            return Err(VisitRefusal::NotYours);
        }
        _ => return Err(VisitRefusal::NotNow(status)),
    };
    Ok(to)
}

/// An image as sent: its bytes (the type is read from them, never from the sender).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageDraft {
    pub bytes: Vec<u8>,
}

/// The image types a message takes, read from the bytes' signature.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else {
        None
    }
}

fn text_problem(
    field: &'static str,
    text: &str,
    max: usize,
    required: bool,
) -> Option<FieldProblem> {
    let t = text.trim();
    if t.is_empty() {
        required.then(|| FieldProblem::new(field, Problem::Required))
    } else if t.chars().count() > max {
        Some(FieldProblem::new(
            field,
            Problem::TooLong { max_chars: max },
        ))
    } else if t
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        Some(FieldProblem::new(field, Problem::ControlCharacters))
    } else {
        None
    }
}

fn image_problems(images: &[ImageDraft], problems: &mut Vec<FieldProblem>) {
    if images.len() > IMAGES_MAX {
        problems.push(FieldProblem::new(
            "images",
            Problem::OutOfRange { min: "0", max: "3" },
        ));
    }
    for image in images {
        if image.bytes.is_empty() || image.bytes.len() > IMAGE_BYTES_MAX {
            problems.push(FieldProblem::new(
                "images",
                Problem::OutOfRange {
                    min: "1 byte",
                    max: "2 MiB",
                },
            ));
        } else if image_type(&image.bytes).is_none() {
            problems.push(FieldProblem::new("images", Problem::UnknownCode));
        }
    }
}

/// Checks a message, every problem at once: text, images or both.
pub fn validate_message(text: &str, images: &[ImageDraft]) -> Result<(), Vec<FieldProblem>> {
    let mut problems = Vec::new();
    problems.extend(text_problem(
        "text",
        text,
        TEXT_MAX_CHARS,
        images.is_empty(),
    ));
    image_problems(images, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Checks a request, every problem at once: a complaint is required.
pub fn validate_request(complaint: &str, images: &[ImageDraft]) -> Result<(), Vec<FieldProblem>> {
    let mut problems = Vec::new();
    problems.extend(text_problem("complaint", complaint, TEXT_MAX_CHARS, true));
    image_problems(images, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Checks the "go to a clinic" ending: `other` needs a note saying why.
pub fn validate_ending(reason: EndReason, note: &str) -> Result<(), Vec<FieldProblem>> {
    let problem = text_problem("note", note, NOTE_MAX_CHARS, reason == EndReason::Other);
    problem.map_or(Ok(()), |p| Err(vec![p]))
}

/// The weeks a long prescription asked for confirmation may cover: beyond the plain
/// limit (4 weeks) up to the most (12 weeks), from the knowledge base's parameters.
pub fn long_weeks_allowed(weeks: u32, plain_max_days: u32, max_days: u32) -> bool {
    weeks
        .checked_mul(7)
        .is_some_and(|days| days > plain_max_days && days <= max_days)
}

/// Why a doctor may not open the online clinic (NET-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClinicRefusal {
    /// No practising licence on the register.
    Unlicensed,
    /// Fewer years of independent practice than the parameter.
    TooFewYears { has: u32, needs: u32 },
}

/// Whether a doctor may open the online clinic: licensed, with the years.
pub fn may_open_clinic(licensed: bool, years: u32, years_min: u32) -> Result<(), ClinicRefusal> {
    if !licensed {
        Err(ClinicRefusal::Unlicensed)
    } else if years < years_min {
        Err(ClinicRefusal::TooFewYears {
            has: years,
            needs: years_min,
        })
    } else {
        Ok(())
    }
}

/// The last day a record made on `day` is kept, `years` later (29 February → 28th).
pub fn keep_until(day: Date, years: u32) -> Date {
    let year = day.year() + i32::try_from(years).unwrap_or(i32::MAX / 2);
    Date::from_calendar_date(year, day.month(), day.day())
        .unwrap_or_else(|_| Date::from_calendar_date(year, Month::February, 28).unwrap_or(day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn dx(icd10: &str, kind: BasisKind, on: Date) -> OfflineDiagnosis {
        OfflineDiagnosis {
            icd10: icd10.into(),
            kind,
            institution: "芦台镇卫生院".into(),
            on,
        }
    }

    /// DOMAIN.md §4: the same disease — a programme's codes as one, else the category.
    #[test]
    fn the_same_disease_is_the_programme_or_the_category() {
        let cases = [
            ("I10", "I10", true),
            ("I10", "I11.9", true),
            ("E11", "E11.900", true),
            ("E11.9", "I10", false),
            ("J45.0", "J45.9", true),
            ("J45", "J44", false),
            ("", "", false),
            ("K2", "K2", false),
        ];
        for (a, b, same) in cases {
            assert_eq!(same_disease(a, b), same, "{a} vs {b}");
        }
    }

    /// NET-1: a repeat visit needs an offline diagnosis of the same disease on file.
    #[test]
    fn eligibility_needs_an_offline_diagnosis_of_the_same_disease() {
        let on_file = vec![
            dx("I10", BasisKind::Enrolment, date!(2024 - 03 - 01)),
            dx("I10", BasisKind::ReferralReturn, date!(2026 - 05 - 10)),
            dx("J45", BasisKind::Document, date!(2026 - 01 - 02)),
        ];
        type Expected = Option<(BasisKind, Date)>;
        let cases: [(Option<&str>, Expected); 5] = [
            (
                Some("I10"),
                Some((BasisKind::ReferralReturn, date!(2026 - 05 - 10))),
            ),
            (
                Some("I15.0"),
                Some((BasisKind::ReferralReturn, date!(2026 - 05 - 10))),
            ),
            (
                Some("J45.9"),
                Some((BasisKind::Document, date!(2026 - 01 - 02))),
            ),
            (Some("E11"), None),
            (None, None),
        ];
        for (disease, expected) in cases {
            let got = eligibility(disease, &on_file);
            match expected {
                Some((kind, on)) => {
                    let Eligibility::Repeat(d) = got else {
                        panic!("{disease:?}: {got:?}")
                    };
                    assert_eq!((d.kind, d.on), (kind, on), "{disease:?}");
                }
                None => assert_eq!(got, Eligibility::NeedsDocument, "{disease:?}"),
            }
        }
        assert_eq!(eligibility(Some("I10"), &[]), Eligibility::NeedsDocument);
    }

    #[test]
    fn a_basis_reads_back_as_written() {
        let d = dx("E11", BasisKind::Document, date!(2026 - 11 - 30));
        assert_eq!(OfflineDiagnosis::parse(&d.text()), Some(d));
        assert_eq!(OfflineDiagnosis::parse("nonsense"), None);
    }

    /// The lifecycle, every step from every status by both sides.
    #[test]
    fn the_visit_moves_only_as_drawn() {
        use Side::{Doctor, Resident};
        use VisitStatus::*;
        let allowed = [
            (Waiting, VisitStep::Accept, Doctor, Open),
            (Waiting, VisitStep::Message, Resident, Waiting),
            (Open, VisitStep::Message, Resident, Open),
            (Open, VisitStep::Message, Doctor, Open),
            (Open, VisitStep::AcceptDocument, Doctor, Open),
            (Open, VisitStep::Prescribe, Doctor, Prescribed),
            (Waiting, VisitStep::ToClinic, Doctor, ToClinic),
            (Open, VisitStep::ToClinic, Doctor, ToClinic),
            (Waiting, VisitStep::Withdraw, Resident, Withdrawn),
            (Open, VisitStep::Withdraw, Resident, Withdrawn),
            (Open, VisitStep::AskLongConfirmation, Doctor, Open),
            (Open, VisitStep::ConfirmLong, Resident, Open),
        ];
        let steps = [
            VisitStep::Accept,
            VisitStep::Message,
            VisitStep::AcceptDocument,
            VisitStep::Prescribe,
            VisitStep::ToClinic,
            VisitStep::Withdraw,
            VisitStep::AskLongConfirmation,
            VisitStep::ConfirmLong,
        ];
        for status in VisitStatus::ALL {
            for step in steps {
                for side in [Doctor, Resident] {
                    let want = allowed
                        .iter()
                        .find(|(s, st, sd, _)| *s == status && *st == step && *sd == side)
                        .map(|a| a.3);
                    assert_eq!(
                        take(status, step, side).ok(),
                        want,
                        "{status:?} {step:?} {side:?}"
                    );
                }
            }
        }
        assert_eq!(
            take(Waiting, VisitStep::Prescribe, Resident),
            Err(VisitRefusal::NotYours)
        );
        assert_eq!(
            take(Prescribed, VisitStep::Message, Doctor),
            Err(VisitRefusal::NotNow(Prescribed))
        );
    }

    #[test]
    fn messages_take_text_or_images_and_only_real_images() {
        let jpeg = ImageDraft {
            bytes: vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2],
        };
        let png = ImageDraft {
            bytes: b"\x89PNG\r\n\x1a\nrest".to_vec(),
        };
        let html = ImageDraft {
            bytes: b"<html>".to_vec(),
        };
        let big = ImageDraft {
            bytes: [vec![0xFF, 0xD8, 0xFF], vec![0; IMAGE_BYTES_MAX]].concat(),
        };
        assert!(validate_message("血压最近 135/85", &[]).is_ok());
        assert!(validate_message("", std::slice::from_ref(&jpeg)).is_ok());
        assert!(validate_message(" ", std::slice::from_ref(&png)).is_ok());
        let fields = |r: Result<(), Vec<FieldProblem>>| {
            r.unwrap_err()
                .into_iter()
                .map(|p| p.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields(validate_message("", &[])), ["text"]);
        assert_eq!(fields(validate_message("x", &[html])), ["images"]);
        assert_eq!(fields(validate_message("x", &[big])), ["images"]);
        assert_eq!(
            fields(validate_message(
                &"长".repeat(TEXT_MAX_CHARS + 1),
                &[jpeg.clone(), jpeg.clone(), jpeg.clone(), jpeg]
            )),
            ["text", "images"]
        );
        assert_eq!(fields(validate_request("", &[png])), ["complaint"]);
        assert_eq!(fields(validate_message("a\u{0}b", &[])), ["text"]);
    }

    #[test]
    fn going_to_a_clinic_for_another_reason_says_why() {
        assert!(validate_ending(EndReason::ConditionChanged, "").is_ok());
        assert!(validate_ending(EndReason::Other, "").is_err());
        assert!(validate_ending(EndReason::Other, "需要做心电图").is_ok());
        assert!(validate_ending(EndReason::Unsuitable, &"x".repeat(NOTE_MAX_CHARS + 1)).is_err());
    }

    /// NET-3: licensed, with the years of the parameter.
    #[test]
    fn the_online_clinic_opens_for_licensed_doctors_with_the_years() {
        assert_eq!(may_open_clinic(true, 3, 3), Ok(()));
        assert_eq!(
            may_open_clinic(false, 10, 3),
            Err(ClinicRefusal::Unlicensed)
        );
        assert_eq!(
            may_open_clinic(true, 2, 3),
            Err(ClinicRefusal::TooFewYears { has: 2, needs: 3 })
        );
    }

    /// LRX-1: the phone confirms what a doctor may not write without it — 5 to 12 weeks.
    #[test]
    fn a_long_prescription_asked_on_the_phone_is_of_5_to_12_weeks() {
        for (weeks, allowed) in [
            (4, false),
            (5, true),
            (8, true),
            (12, true),
            (13, false),
            (613_566_761, false),
        ] {
            assert_eq!(long_weeks_allowed(weeks, 28, 84), allowed, "{weeks}");
        }
    }

    /// NET-7: kept 15 years (the record) and 3 years (the messages).
    #[test]
    fn records_are_kept_for_their_years() {
        assert_eq!(keep_until(date!(2026 - 12 - 04), 15), date!(2041 - 12 - 04));
        assert_eq!(keep_until(date!(2028 - 02 - 29), 3), date!(2031 - 02 - 28));
    }
}
