//! Critical values (危急值, DOMAIN.md §8) as a closed loop: a result past its item's
//! critical limit is detected on arrival and its clinicians notified; one of them reads
//! the value back and confirms it, then records the action taken. Left unconfirmed past
//! its deadline (`critical_confirm_minutes`, a parameter) it is escalated to the
//! institution's duty officer. Every step is a pure transition here; the store keeps
//! each step's time and who took it, and each is audited.

use super::items::centi;
use crate::tsv::{Table, TableProblem};

/// Longest action text kept.
pub const ACTION_MAX_CHARS: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CriticalStatus {
    /// Detected and its clinicians notified: waiting to be read back.
    Notified,
    /// Read back and confirmed: waiting for the action taken.
    Confirmed,
    /// The action is recorded: the loop is closed.
    Closed,
}

impl CriticalStatus {
    pub fn code(self) -> &'static str {
        match self {
            CriticalStatus::Notified => "notified",
            CriticalStatus::Confirmed => "confirmed",
            CriticalStatus::Closed => "closed",
        }
    }

    pub fn parse(code: &str) -> Option<CriticalStatus> {
        [
            CriticalStatus::Notified,
            CriticalStatus::Confirmed,
            CriticalStatus::Closed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// A step a clinician takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CriticalStep<'a> {
    /// The value as the clinician read it back (it must be the reported value).
    Confirm { read_back: &'a str },
    /// What was done (called the patient, sent them to the emergency room …).
    Act { action: &'a str },
}

/// Why a step is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CriticalRefusal {
    /// The value read back is not the reported one.
    ReadBackMismatch,
    /// An action before the value was read back.
    ConfirmFirst,
    /// The action is empty or too long.
    ActionRequired,
    /// The loop is closed already, or confirmed already.
    AlreadyDone,
}

impl CriticalRefusal {
    pub fn code(self) -> &'static str {
        match self {
            CriticalRefusal::ReadBackMismatch => "read_back_mismatch",
            CriticalRefusal::ConfirmFirst => "confirm_first",
            CriticalRefusal::ActionRequired => "action_required",
            CriticalRefusal::AlreadyDone => "critical_already_done",
        }
    }
}

/// Whether a value read back is the reported one: the same number (`7.10` is `7.1`),
/// or the same text when the value is not a number.
pub fn reads_back(reported: &str, read_back: &str) -> bool {
    match (centi(reported), centi(read_back)) {
        (Some(a), Some(b)) => a == b,
        (None, _) => !read_back.trim().is_empty() && reported.trim() == read_back.trim(),
        (Some(_), None) => false,
    }
}

/// The status after `step` from `status`, for a result reported as `value`.
pub fn take(
    status: CriticalStatus,
    value: &str,
    step: &CriticalStep<'_>,
) -> Result<CriticalStatus, CriticalRefusal> {
    match (status, step) {
        (CriticalStatus::Notified, CriticalStep::Confirm { read_back }) => {
            if reads_back(value, read_back) {
                Ok(CriticalStatus::Confirmed)
            } else {
                Err(CriticalRefusal::ReadBackMismatch)
            }
        }
        (CriticalStatus::Notified, CriticalStep::Act { .. }) => Err(CriticalRefusal::ConfirmFirst),
        (CriticalStatus::Confirmed, CriticalStep::Act { action }) => {
            let chars = action.trim().chars().count();
            if chars == 0 || chars > ACTION_MAX_CHARS {
                Err(CriticalRefusal::ActionRequired)
            } else {
                Ok(CriticalStatus::Closed)
            }
        }
        (CriticalStatus::Confirmed | CriticalStatus::Closed, _) => {
            Err(CriticalRefusal::AlreadyDone)
        }
    }
}

/// Whether a critical value is to be escalated now: still not confirmed at or past its
/// deadline, and not escalated before.
pub fn to_escalate(status: CriticalStatus, due_at_us: i64, escalated: bool, now_us: i64) -> bool {
    status == CriticalStatus::Notified && !escalated && now_us >= due_at_us
}

/// A critical finding a reader may report (`data/exam/critical_findings.tsv`): the
/// imaging or ECG counterpart of a laboratory value past its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalFinding {
    pub code: String,
    /// The DICOM modalities whose reports may carry it.
    pub modalities: Vec<String>,
    pub label_zh: String,
    pub label_en: String,
}

/// The critical findings table, checked whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CriticalFindings {
    pub version: String,
    findings: Vec<CriticalFinding>,
}

pub const BUILTIN_FINDINGS: &str = include_str!("../../data/exam/critical_findings.tsv");

impl CriticalFindings {
    pub fn builtin() -> &'static CriticalFindings {
        static TABLE: std::sync::OnceLock<CriticalFindings> = std::sync::OnceLock::new();
        TABLE.get_or_init(|| {
            CriticalFindings::parse(BUILTIN_FINDINGS, super::items::BUILTIN_SOURCES)
                .unwrap_or_else(|ps| panic!("data/exam/critical_findings.tsv is broken: {ps:?}"))
        })
    }

    pub fn parse(text: &str, sources: &str) -> Result<CriticalFindings, Vec<TableProblem>> {
        let known = crate::tsv::source_ids("exam/sources.tsv", sources)?;
        let table = Table::parse(
            "exam/critical_findings.tsv",
            text,
            &["code", "modalities", "label_zh", "label_en", "source"],
        )?;
        let mut problems = Vec::new();
        let mut findings: Vec<CriticalFinding> = Vec::new();
        for row in table.rows() {
            let code = table.cell(row, "code");
            let modalities: Vec<String> = crate::tsv::list(table.cell(row, "modalities"))
                .map(str::to_owned)
                .collect();
            let (zh, en) = (table.cell(row, "label_zh"), table.cell(row, "label_en"));
            if !crate::tsv::is_local_code(code, 20) {
                problems.push(table.problem(row, "`code` is 1–20 of A–Z, 0–9 and -"));
            }
            if modalities.is_empty() {
                problems.push(table.problem(row, "`modalities` names no modality"));
            }
            if zh.is_empty() || en.is_empty() {
                problems.push(table.problem(row, "both labels are needed"));
            }
            if !known.contains(&table.cell(row, "source")) {
                problems.push(table.problem(row, "`source` names no source"));
            }
            if findings.iter().any(|f| f.code == code) {
                problems.push(table.problem(row, "the code is listed twice"));
            }
            findings.push(CriticalFinding {
                code: code.to_owned(),
                modalities,
                label_zh: zh.to_owned(),
                label_en: en.to_owned(),
            });
        }
        if problems.is_empty() {
            Ok(CriticalFindings {
                version: crate::tsv::table_version(text),
                findings,
            })
        } else {
            Err(problems)
        }
    }

    /// The findings a report of `modality` may carry, in the table's order.
    pub fn for_modality<'t>(
        &'t self,
        modality: &'t str,
    ) -> impl Iterator<Item = &'t CriticalFinding> {
        self.findings
            .iter()
            .filter(move |f| f.modalities.iter().any(|m| m == modality))
    }

    /// The finding `code` if a report of `modality` may carry it.
    pub fn find(&self, code: &str, modality: &str) -> Option<&CriticalFinding> {
        self.findings
            .iter()
            .find(|f| f.code == code && f.modalities.iter().any(|m| m == modality))
    }

    /// Any finding by its code (to show one reported before the table changed).
    pub fn by_code(&self, code: &str) -> Option<&CriticalFinding> {
        self.findings.iter().find(|f| f.code == code)
    }
}

/// The cloud examination's policy parameters (`data/exam/params.tsv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExamParams {
    pub critical_confirm_minutes: u32,
}

pub const BUILTIN_PARAMS: &str = include_str!("../../data/exam/params.tsv");

impl ExamParams {
    /// The parameters shipped with Gongti, read once.
    pub fn builtin() -> ExamParams {
        static PARAMS: std::sync::OnceLock<ExamParams> = std::sync::OnceLock::new();
        *PARAMS.get_or_init(|| {
            ExamParams::parse(BUILTIN_PARAMS)
                .unwrap_or_else(|ps| panic!("data/exam/params.tsv: {ps:?}"))
        })
    }

    pub fn parse(text: &str) -> Result<ExamParams, Vec<TableProblem>> {
        let table = Table::parse("exam/params.tsv", text, &["key", "value", "unit", "source"])?;
        let mut minutes = None;
        let mut problems = Vec::new();
        for row in table.rows() {
            match table.cell(row, "key") {
                "critical_confirm_minutes" => match table.cell(row, "value").parse::<u32>() {
                    Ok(m) if m > 0 => minutes = Some(m),
                    _ => problems.push(table.problem(row, "a whole number of minutes above 0")),
                },
                other => problems.push(table.problem(row, format!("unknown key `{other}`"))),
            }
        }
        match (minutes, problems.is_empty()) {
            (Some(critical_confirm_minutes), true) => Ok(ExamParams {
                critical_confirm_minutes,
            }),
            (None, true) => Err(vec![TableProblem {
                file: "exam/params.tsv",
                line: 0,
                reason: "no `critical_confirm_minutes`".into(),
            }]),
            _ => Err(problems),
        }
    }

    /// How long a critical value's clinicians have to confirm it (µs).
    pub fn confirm_within_us(self) -> i64 {
        i64::from(self.critical_confirm_minutes) * 60_000_000
    }

    /// The deadline of a value detected at `detected_at_us`.
    pub fn due_at_us(self, detected_at_us: i64) -> i64 {
        detected_at_us + self.confirm_within_us()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DOMAIN.md §8: a reader's report carries a critical finding of its modality only;
    /// the read-back of a finding is its name.
    #[test]
    fn critical_findings_of_a_modality() {
        let table = CriticalFindings::builtin();
        let cases: &[(&str, &str, bool)] = &[
            ("ECG-VT", "ECG", true),
            ("ECG-VT", "DX", false),
            ("IMG-PNEUMO", "DX", true),
            ("IMG-PNEUMO", "CT", true),
            ("IMG-PNEUMO", "US", false),
            ("IMG-ECTOPIC", "US", true),
            ("NOPE", "CT", false),
        ];
        for (code, modality, found) in cases {
            assert_eq!(
                table.find(code, modality).is_some(),
                *found,
                "{code} {modality}"
            );
        }
        assert!(table.for_modality("ECG").count() >= 10);
        assert!(
            table
                .for_modality("ECG")
                .all(|f| f.code.starts_with("ECG-"))
        );
        let vt = table.by_code("ECG-VT").unwrap();
        assert!(reads_back(&vt.label_zh, " 室性心动过速 "));
        assert!(!reads_back(&vt.label_zh, "室上性心动过速"));
        assert!(!table.version.is_empty());
    }

    #[test]
    fn a_broken_findings_table_is_refused_whole() {
        let sources = "id\tcitation\nsrc\tsomewhere\n";
        let head = "code\tmodalities\tlabel_zh\tlabel_en\tsource\n";
        let cases: &[(&str, &str)] = &[
            ("X-1\t\t气胸\tpneumothorax\tsrc\n", "modality"),
            ("x 1\tCT\t气胸\tpneumothorax\tsrc\n", "code"),
            ("X-1\tCT\t\tpneumothorax\tsrc\n", "labels"),
            ("X-1\tCT\t气胸\tpneumothorax\tnowhere\n", "source"),
            ("X-1\tCT\t气胸\tp\tsrc\nX-1\tDX\t气胸\tp\tsrc\n", "twice"),
        ];
        for (rows, why) in cases {
            let text = format!("{head}{rows}");
            assert!(CriticalFindings::parse(&text, sources).is_err(), "{why}");
        }
        let ok = format!("{head}X-1\tCT|DX\t气胸\tpneumothorax\tsrc\n");
        let table = CriticalFindings::parse(&ok, sources).unwrap();
        assert!(table.find("X-1", "DX").is_some());
    }

    /// DOMAIN.md §8: detected → notified → read back and confirmed → action recorded.
    #[test]
    fn the_closed_loop() {
        use CriticalRefusal as R;
        use CriticalStatus as S;
        let cases: &[(S, &str, CriticalStep<'_>, Result<S, R>)] = &[
            (
                S::Notified,
                "7.1",
                CriticalStep::Confirm { read_back: "7.1" },
                Ok(S::Confirmed),
            ),
            (
                S::Notified,
                "7.1",
                CriticalStep::Confirm { read_back: "7.10" },
                Ok(S::Confirmed),
            ),
            (
                S::Notified,
                "7.1",
                CriticalStep::Confirm { read_back: " 7.1 " },
                Ok(S::Confirmed),
            ),
            (
                S::Notified,
                "7.1",
                CriticalStep::Confirm { read_back: "1.7" },
                Err(R::ReadBackMismatch),
            ),
            (
                S::Notified,
                "7.1",
                CriticalStep::Confirm { read_back: "" },
                Err(R::ReadBackMismatch),
            ),
            (
                S::Notified,
                "阳性",
                CriticalStep::Confirm {
                    read_back: "阳性"
                },
                Ok(S::Confirmed),
            ),
            (
                S::Notified,
                "阳性",
                CriticalStep::Confirm {
                    read_back: "阴性"
                },
                Err(R::ReadBackMismatch),
            ),
            (
                S::Notified,
                "7.1",
                CriticalStep::Act { action: "called" },
                Err(R::ConfirmFirst),
            ),
            (
                S::Confirmed,
                "7.1",
                CriticalStep::Act {
                    action: "已电话通知患者急诊就医",
                },
                Ok(S::Closed),
            ),
            (
                S::Confirmed,
                "7.1",
                CriticalStep::Act { action: "  " },
                Err(R::ActionRequired),
            ),
            (
                S::Confirmed,
                "7.1",
                CriticalStep::Confirm { read_back: "7.1" },
                Err(R::AlreadyDone),
            ),
            (
                S::Closed,
                "7.1",
                CriticalStep::Act { action: "again" },
                Err(R::AlreadyDone),
            ),
        ];
        for (status, value, step, want) in cases {
            assert_eq!(
                take(*status, value, step),
                *want,
                "{status:?} {value} {step:?}"
            );
        }
        let long = "x".repeat(ACTION_MAX_CHARS + 1);
        assert_eq!(
            take(S::Confirmed, "7.1", &CriticalStep::Act { action: &long }),
            Err(R::ActionRequired)
        );
    }

    /// DOMAIN.md §8: unconfirmed after 15 minutes (param) escalates, once.
    #[test]
    fn escalation_after_the_deadline() {
        let p = ExamParams::builtin();
        assert_eq!(p.critical_confirm_minutes, 15);
        let due = p.due_at_us(1_000_000);
        assert_eq!(due, 1_000_000 + 15 * 60_000_000);
        assert!(!to_escalate(CriticalStatus::Notified, due, false, due - 1));
        assert!(to_escalate(CriticalStatus::Notified, due, false, due));
        assert!(!to_escalate(CriticalStatus::Notified, due, true, due + 1));
        assert!(!to_escalate(CriticalStatus::Confirmed, due, false, due + 1));
        assert!(
            ExamParams::parse(
                "key\tvalue\tunit\tsource\ncritical_confirm_minutes\t0\tminutes\tx\n"
            )
            .is_err()
        );
        assert!(ExamParams::parse("key\tvalue\tunit\tsource\nother\t1\tminutes\tx\n").is_err());
    }
}
