//! Reading and reports at a cloud centre (DOMAIN.md §8: 基层检查、上级诊断): the
//! reading rules per modality and priority (`data/exam/reading.tsv`: the turnaround
//! target, double signing), where an order stands against its target, and the report's
//! life as a pure transition — a preliminary report (初审), the final one signed by a
//! qualified reader (审核签发; by a second reader where the rule asks for two), then
//! amendments, each a new version that is kept.

use std::sync::OnceLock;

use super::orders::Priority;
use crate::tsv::{Table, TableProblem};

/// Longest findings or impression kept.
pub const REPORT_TEXT_MAX_CHARS: usize = 4_000;
/// Years of practice a reader needs to sign a final report (a qualified reader).
pub const FINAL_SIGNER_MIN_YEARS: i64 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingRule {
    pub modality: String,
    pub priority: Priority,
    pub turnaround_minutes: u32,
    pub double_sign: bool,
}

/// The reading rules, checked whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingRules {
    pub version: String,
    rules: Vec<ReadingRule>,
}

pub const BUILTIN_READING: &str = include_str!("../../data/exam/reading.tsv");

impl ReadingRules {
    pub fn builtin() -> &'static ReadingRules {
        static RULES: OnceLock<ReadingRules> = OnceLock::new();
        RULES.get_or_init(|| {
            ReadingRules::parse(BUILTIN_READING, super::items::BUILTIN_SOURCES)
                .unwrap_or_else(|ps| panic!("data/exam/reading.tsv is broken: {ps:?}"))
        })
    }

    pub fn parse(text: &str, sources: &str) -> Result<ReadingRules, Vec<TableProblem>> {
        let known = crate::tsv::source_ids("exam/sources.tsv", sources)?;
        let version = crate::tsv::table_version(text);
        let table = Table::parse(
            "exam/reading.tsv",
            text,
            &[
                "modality",
                "priority",
                "turnaround_minutes",
                "double_sign",
                "source",
            ],
        )?;
        let mut problems = Vec::new();
        let mut rules: Vec<ReadingRule> = Vec::new();
        for row in table.rows() {
            let Some(priority) = Priority::parse(table.cell(row, "priority")) else {
                problems.push(table.problem(row, "`priority` is not routine, urgent or stat"));
                continue;
            };
            let minutes = match table.cell(row, "turnaround_minutes").parse::<u32>() {
                Ok(m) if m > 0 => m,
                _ => {
                    problems.push(table.problem(row, "a whole number of minutes above 0"));
                    continue;
                }
            };
            let double_sign = match table.cell(row, "double_sign") {
                "yes" => true,
                "no" => false,
                _ => {
                    problems.push(table.problem(row, "`double_sign` is yes or no"));
                    continue;
                }
            };
            if !known.contains(&table.cell(row, "source")) {
                problems.push(table.problem(row, "`source` names no source"));
            }
            let modality = table.cell(row, "modality").to_owned();
            if rules
                .iter()
                .any(|r| r.modality == modality && r.priority == priority)
            {
                problems.push(table.problem(row, "the modality and priority are listed twice"));
            }
            rules.push(ReadingRule {
                modality,
                priority,
                turnaround_minutes: minutes,
                double_sign,
            });
        }
        if problems.is_empty() {
            Ok(ReadingRules { version, rules })
        } else {
            Err(problems)
        }
    }

    /// The rule of a modality and priority (`None`: the region set none).
    pub fn rule(&self, modality: &str, priority: Priority) -> Option<&ReadingRule> {
        self.rules
            .iter()
            .find(|r| r.modality == modality && r.priority == priority)
    }
}

/// Where an order stands against its turnaround target at `now_us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turnaround {
    pub due_at_us: i64,
    /// Minutes waited since the images arrived.
    pub waited_minutes: i64,
    pub overdue: bool,
}

pub fn turnaround(rule: &ReadingRule, arrived_at_us: i64, now_us: i64) -> Turnaround {
    let due_at_us = arrived_at_us + i64::from(rule.turnaround_minutes) * 60_000_000;
    Turnaround {
        due_at_us,
        waited_minutes: (now_us - arrived_at_us).max(0) / 60_000_000,
        overdue: now_us > due_at_us,
    }
}

/// A report's status, in FHIR DiagnosticReport's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStatus {
    /// 初审: written, not yet signed off.
    Preliminary,
    /// 审核签发: signed by a qualified reader.
    Final,
    /// Changed after it was final, and signed again.
    Amended,
}

impl ReportStatus {
    pub fn code(self) -> &'static str {
        match self {
            ReportStatus::Preliminary => "preliminary",
            ReportStatus::Final => "final",
            ReportStatus::Amended => "amended",
        }
    }

    pub fn parse(code: &str) -> Option<ReportStatus> {
        [
            ReportStatus::Preliminary,
            ReportStatus::Final,
            ReportStatus::Amended,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ReportStatus::Preliminary => "初审",
            ReportStatus::Final => "已签发",
            ReportStatus::Amended => "已修订",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            ReportStatus::Preliminary => "Preliminary",
            ReportStatus::Final => "Final",
            ReportStatus::Amended => "Amended",
        }
    }

    /// Whether the report is signed off (the ordering doctor is told).
    pub fn signed(self) -> bool {
        self != ReportStatus::Preliminary
    }
}

/// What a reader does with a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportStep {
    /// Saves the text as the preliminary report (初审).
    Draft,
    /// Signs the report off (审核签发), or signs an amendment of a final one.
    Sign,
}

/// Who takes the step, and who wrote what is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signer {
    pub staff_id: i64,
    pub practice_years: i64,
    pub licensed: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportRefusal {
    /// Findings and impression are needed (each up to the limit).
    TextRequired,
    /// A signer needs a licence and the years of a qualified reader.
    NotQualified,
    /// Where two signers are required, the preliminary report's author may not sign it.
    SecondSignerRequired,
    /// A signed report is changed only by an amendment (signed), not drafted over.
    AlreadySigned,
    /// Where two signers are required, the second signs the preliminary report as it
    /// was written (changes go back to a draft), and a signed report is not amended
    /// by one person.
    SignAsDrafted,
}

impl ReportRefusal {
    pub fn code(self) -> &'static str {
        match self {
            ReportRefusal::TextRequired => "report_text_required",
            ReportRefusal::NotQualified => "not_a_qualified_reader",
            ReportRefusal::SecondSignerRequired => "second_signer_required",
            ReportRefusal::AlreadySigned => "report_signed",
            ReportRefusal::SignAsDrafted => "sign_as_drafted",
        }
    }
}

fn text_ok(t: &str) -> bool {
    let n = t.trim().chars().count();
    (1..=REPORT_TEXT_MAX_CHARS).contains(&n)
}

/// The report's status after `step` by `signer`, from `current` (`None`: no report yet,
/// with `author` the staff who wrote the preliminary one; `as_drafted`: the text sent
/// is the stored one). DOMAIN.md §8: preliminary → final by a qualified reader →
/// amended; where `double_sign`, two different people: one writes, the other signs
/// the text as written — so a double-signed report is not amended by one person (an
/// amendment there is refused until amendments have their own draft).
#[allow(clippy::too_many_arguments)]
pub fn take_report(
    current: Option<ReportStatus>,
    author: Option<i64>,
    step: ReportStep,
    signer: Signer,
    double_sign: bool,
    as_drafted: bool,
    findings: &str,
    impression: &str,
) -> Result<ReportStatus, ReportRefusal> {
    if !text_ok(findings) || !text_ok(impression) {
        return Err(ReportRefusal::TextRequired);
    }
    match (step, current) {
        (ReportStep::Draft, None | Some(ReportStatus::Preliminary)) => {
            Ok(ReportStatus::Preliminary)
        }
        (ReportStep::Draft, Some(_)) => Err(ReportRefusal::AlreadySigned),
        (ReportStep::Sign, current) => {
            if !signer.licensed || signer.practice_years < FINAL_SIGNER_MIN_YEARS {
                return Err(ReportRefusal::NotQualified);
            }
            match current {
                None if double_sign => Err(ReportRefusal::SecondSignerRequired),
                Some(ReportStatus::Preliminary)
                    if double_sign && author == Some(signer.staff_id) =>
                {
                    Err(ReportRefusal::SecondSignerRequired)
                }
                Some(ReportStatus::Preliminary) if double_sign && !as_drafted => {
                    Err(ReportRefusal::SignAsDrafted)
                }
                None | Some(ReportStatus::Preliminary) => Ok(ReportStatus::Final),
                Some(ReportStatus::Final | ReportStatus::Amended) if double_sign => {
                    Err(ReportRefusal::SignAsDrafted)
                }
                Some(ReportStatus::Final | ReportStatus::Amended) => Ok(ReportStatus::Amended),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_rules_load_with_domain_8s_examples() {
        let r = ReadingRules::builtin();
        let ct = r.rule("CT", Priority::Stat).expect("emergency CT");
        assert_eq!((ct.turnaround_minutes, ct.double_sign), (60, true));
        assert_eq!(
            r.rule("CT", Priority::Routine)
                .map(|r| r.turnaround_minutes),
            Some(240)
        );
        assert!(r.rule("MR", Priority::Routine).is_none());
    }

    #[test]
    fn a_broken_table_is_reported_whole() {
        let text = "# table_version 1\nmodality\tpriority\tturnaround_minutes\tdouble_sign\tsource\n\
                    CT\tsoon\t60\tyes\tdemo\nCT\tstat\t0\tyes\tdemo\nDX\tstat\t30\tmaybe\tdemo\n\
                    DX\troutine\t30\tno\tnowhere\n";
        let problems =
            ReadingRules::parse(text, super::super::items::BUILTIN_SOURCES).expect_err("broken");
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn turnaround_against_the_target() {
        let rule = ReadingRules::builtin().rule("CT", Priority::Stat).unwrap();
        let t = turnaround(rule, 0, 61 * 60_000_000);
        assert_eq!((t.waited_minutes, t.overdue), (61, true));
        let t = turnaround(rule, 0, 60 * 60_000_000);
        assert!(!t.overdue, "at the target itself it is not late");
    }

    /// DOMAIN.md §8: preliminary → final by a qualified reader → amended; two
    /// different signers where the rule says.
    #[test]
    fn the_report_signed_by_the_right_people() {
        use ReportRefusal as R;
        use ReportStatus as S;
        let a = Signer {
            staff_id: 1,
            practice_years: 8,
            licensed: true,
        };
        let b = Signer { staff_id: 2, ..a };
        let junior = Signer {
            staff_id: 3,
            practice_years: 1,
            licensed: true,
        };
        let unlicensed = Signer {
            staff_id: 4,
            practice_years: 10,
            licensed: false,
        };
        type Case = (
            Option<S>,
            Option<i64>,
            ReportStep,
            Signer,
            bool,
            Result<S, R>,
        );
        let cases: &[Case] = &[
            (
                None,
                None,
                ReportStep::Draft,
                junior,
                true,
                Ok(S::Preliminary),
            ),
            (None, None, ReportStep::Sign, a, false, Ok(S::Final)),
            (
                None,
                None,
                ReportStep::Sign,
                a,
                true,
                Err(R::SecondSignerRequired),
            ),
            (
                Some(S::Preliminary),
                Some(1),
                ReportStep::Sign,
                a,
                true,
                Err(R::SecondSignerRequired),
            ),
            (
                Some(S::Preliminary),
                Some(1),
                ReportStep::Sign,
                b,
                true,
                Ok(S::Final),
            ),
            (
                Some(S::Preliminary),
                Some(1),
                ReportStep::Sign,
                a,
                false,
                Ok(S::Final),
            ),
            (
                Some(S::Preliminary),
                Some(3),
                ReportStep::Sign,
                junior,
                false,
                Err(R::NotQualified),
            ),
            (
                None,
                None,
                ReportStep::Sign,
                unlicensed,
                false,
                Err(R::NotQualified),
            ),
            (
                Some(S::Final),
                Some(1),
                ReportStep::Sign,
                a,
                true,
                Err(R::SignAsDrafted),
            ),
            (
                Some(S::Final),
                Some(1),
                ReportStep::Sign,
                a,
                false,
                Ok(S::Amended),
            ),
            (
                Some(S::Amended),
                Some(1),
                ReportStep::Sign,
                b,
                false,
                Ok(S::Amended),
            ),
            (
                Some(S::Final),
                Some(1),
                ReportStep::Draft,
                a,
                false,
                Err(R::AlreadySigned),
            ),
        ];
        for (current, author, step, signer, double, want) in cases {
            let got = take_report(
                *current, *author, *step, *signer, *double, true, "所见", "印象",
            );
            assert_eq!(
                got, *want,
                "{current:?} {step:?} by {} {double}",
                signer.staff_id
            );
        }
        assert_eq!(
            take_report(None, None, ReportStep::Draft, a, false, true, " ", "印象"),
            Err(R::TextRequired)
        );
        // the second signer of a CT signs the draft as written, not a text of their own
        let rewritten = take_report(
            Some(S::Preliminary),
            Some(1),
            ReportStep::Sign,
            b,
            true,
            false,
            "另写",
            "另写",
        );
        assert_eq!(rewritten, Err(R::SignAsDrafted));
        // where one signer suffices, the signer may correct the draft as they sign
        let corrected = take_report(
            Some(S::Preliminary),
            Some(1),
            ReportStep::Sign,
            a,
            false,
            false,
            "改",
            "改",
        );
        assert_eq!(corrected, Ok(S::Final));
    }
}
