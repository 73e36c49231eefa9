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
    /// Saves the text as the preliminary report (初审), or — once the report is
    /// signed — as a draft of its amendment, kept beside the signed report.
    Draft,
    /// Signs the report off (审核签发), or signs an amendment of a final one.
    Sign,
    /// Withdraws the amendment drafted beside a signed report (the signed report
    /// stands as it is).
    Withdraw,
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
    /// Where two signers are required, the author of the preliminary report (or of the
    /// amendment) may not sign it.
    SecondSignerRequired,
    /// Where two signers are required, the second signs the preliminary report (or the
    /// amendment) as it was written: changes go back to a draft.
    SignAsDrafted,
    /// Where two signers are required, a signed report is amended by a draft of the
    /// amendment that another reader signs, not by one person's signature.
    AmendmentDraftRequired,
    /// No amendment is drafted to withdraw.
    NoAmendmentDraft,
}

impl ReportRefusal {
    pub fn code(self) -> &'static str {
        match self {
            ReportRefusal::TextRequired => "report_text_required",
            ReportRefusal::NotQualified => "not_a_qualified_reader",
            ReportRefusal::SecondSignerRequired => "second_signer_required",
            ReportRefusal::SignAsDrafted => "sign_as_drafted",
            ReportRefusal::AmendmentDraftRequired => "amendment_draft_required",
            ReportRefusal::NoAmendmentDraft => "no_amendment_draft",
        }
    }
}

/// What a step makes of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The report itself now has this status.
    Report(ReportStatus),
    /// A draft amendment of the signed report, kept beside it: the signed text stands
    /// (and is what the ordering doctor reads) until the amendment is signed.
    AmendmentDraft,
    /// The amendment drafted is withdrawn; the signed report stands.
    AmendmentWithdrawn,
}

impl Taken {
    /// The status of the version this step keeps (an amendment's draft is a
    /// preliminary version).
    pub fn version_status(self) -> ReportStatus {
        match self {
            Taken::Report(s) => s,
            Taken::AmendmentDraft | Taken::AmendmentWithdrawn => ReportStatus::Preliminary,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Taken::Report(s) => s.code(),
            Taken::AmendmentDraft => "amendment-draft",
            Taken::AmendmentWithdrawn => "amendment-withdrawn",
        }
    }
}

/// The state a step is decided on: the report's status (`None`: no report yet), who
/// wrote it, and who drafted the amendment waiting beside a signed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportState {
    pub status: Option<ReportStatus>,
    pub author: Option<i64>,
    pub amendment_author: Option<i64>,
}

fn text_ok(t: &str) -> bool {
    let n = t.trim().chars().count();
    (1..=REPORT_TEXT_MAX_CHARS).contains(&n)
}

/// What `step` by `signer` makes of the report in `state` (`as_drafted`: the text sent
/// is the stored draft — the amendment's where one waits, else the report's).
/// DOMAIN.md §8: preliminary → final by a qualified reader → amended; where
/// `double_sign`, two different people: one writes, the other signs the text as written
/// — the preliminary report, and likewise an amendment, which one reader drafts beside
/// the signed report and another signs. Where one signer suffices, a qualified reader
/// may amend and sign at once, or draft the amendment first.
pub fn take_report(
    state: ReportState,
    step: ReportStep,
    signer: Signer,
    double_sign: bool,
    as_drafted: bool,
    findings: &str,
    impression: &str,
) -> Result<Taken, ReportRefusal> {
    use ReportStatus as S;
    let signed = state.status.is_some_and(S::signed);
    if step == ReportStep::Withdraw {
        // anyone of the centre withdraws a draft; the text sent does not matter
        return match (signed, state.amendment_author) {
            (true, Some(_)) => Ok(Taken::AmendmentWithdrawn),
            _ => Err(ReportRefusal::NoAmendmentDraft),
        };
    }
    if !text_ok(findings) || !text_ok(impression) {
        return Err(ReportRefusal::TextRequired);
    }
    match step {
        ReportStep::Withdraw => Err(ReportRefusal::NoAmendmentDraft),
        ReportStep::Draft if signed => Ok(Taken::AmendmentDraft),
        ReportStep::Draft => Ok(Taken::Report(S::Preliminary)),
        ReportStep::Sign => {
            if !signer.licensed || signer.practice_years < FINAL_SIGNER_MIN_YEARS {
                return Err(ReportRefusal::NotQualified);
            }
            // who wrote the text being signed, where two signers are required
            let written_by = if signed {
                state.amendment_author
            } else {
                state.author
            };
            if double_sign {
                match written_by {
                    None if signed => return Err(ReportRefusal::AmendmentDraftRequired),
                    None => return Err(ReportRefusal::SecondSignerRequired),
                    Some(a) if a == signer.staff_id => {
                        return Err(ReportRefusal::SecondSignerRequired);
                    }
                    Some(_) if !as_drafted => return Err(ReportRefusal::SignAsDrafted),
                    Some(_) => {}
                }
            }
            Ok(Taken::Report(if signed { S::Amended } else { S::Final }))
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
    /// different signers where the rule says, for the report and for its amendment.
    #[test]
    fn the_report_signed_by_the_right_people() {
        use ReportRefusal as R;
        use ReportStatus as S;
        use ReportStep::{Draft, Sign, Withdraw};
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
        let state = |status, author, amendment_author| ReportState {
            status,
            author,
            amendment_author,
        };
        let none = ReportState::default();
        let draft_by_1 = state(Some(S::Preliminary), Some(1), None);
        let final_by_1 = state(Some(S::Final), Some(1), None);
        let amending_1 = state(Some(S::Final), Some(2), Some(1));
        let amended_amending_3 = state(Some(S::Amended), Some(1), Some(3));
        let ok = |s| Ok(Taken::Report(s));
        // (state, step, signer, double signing, as drafted, what it makes)
        type Case = (
            ReportState,
            ReportStep,
            Signer,
            bool,
            bool,
            Result<Taken, R>,
        );
        let cases: &[Case] = &[
            // a draft by anyone of the centre, qualified or not
            (none, Draft, junior, true, true, ok(S::Preliminary)),
            (draft_by_1, Draft, junior, false, false, ok(S::Preliminary)),
            // one signer: the first signature, with or without a draft, corrected or not
            (none, Sign, a, false, true, ok(S::Final)),
            (draft_by_1, Sign, a, false, true, ok(S::Final)),
            (draft_by_1, Sign, a, false, false, ok(S::Final)),
            (draft_by_1, Sign, junior, false, true, Err(R::NotQualified)),
            (none, Sign, unlicensed, false, true, Err(R::NotQualified)),
            // two signers: another person signs the draft as written
            (none, Sign, a, true, true, Err(R::SecondSignerRequired)),
            (
                draft_by_1,
                Sign,
                a,
                true,
                true,
                Err(R::SecondSignerRequired),
            ),
            (draft_by_1, Sign, b, true, true, ok(S::Final)),
            (draft_by_1, Sign, b, true, false, Err(R::SignAsDrafted)),
            // a signed report: a draft is an amendment's, kept beside it
            (final_by_1, Draft, a, true, false, Ok(Taken::AmendmentDraft)),
            (
                final_by_1,
                Draft,
                junior,
                false,
                false,
                Ok(Taken::AmendmentDraft),
            ),
            (amending_1, Draft, b, true, false, Ok(Taken::AmendmentDraft)),
            // one signer amends at once, or signs a drafted amendment (even their own)
            (final_by_1, Sign, a, false, false, ok(S::Amended)),
            (amending_1, Sign, a, false, true, ok(S::Amended)),
            (amended_amending_3, Sign, b, false, false, ok(S::Amended)),
            (final_by_1, Sign, junior, false, false, Err(R::NotQualified)),
            // two signers: no amendment by one signature; the drafter does not sign it;
            // another signs it as drafted
            (
                final_by_1,
                Sign,
                a,
                true,
                true,
                Err(R::AmendmentDraftRequired),
            ),
            (
                final_by_1,
                Sign,
                b,
                true,
                true,
                Err(R::AmendmentDraftRequired),
            ),
            (
                amending_1,
                Sign,
                a,
                true,
                true,
                Err(R::SecondSignerRequired),
            ),
            (amending_1, Sign, b, true, false, Err(R::SignAsDrafted)),
            (amending_1, Sign, b, true, true, ok(S::Amended)),
            (amended_amending_3, Sign, b, true, true, ok(S::Amended)),
            (
                amending_1,
                Sign,
                unlicensed,
                true,
                true,
                Err(R::NotQualified),
            ),
            // an amendment's draft is withdrawn by anyone of the centre; nothing else is
            (
                amending_1,
                Withdraw,
                junior,
                true,
                false,
                Ok(Taken::AmendmentWithdrawn),
            ),
            (
                amending_1,
                Withdraw,
                b,
                false,
                false,
                Ok(Taken::AmendmentWithdrawn),
            ),
            (
                final_by_1,
                Withdraw,
                a,
                true,
                false,
                Err(R::NoAmendmentDraft),
            ),
            (
                draft_by_1,
                Withdraw,
                a,
                true,
                false,
                Err(R::NoAmendmentDraft),
            ),
            (none, Withdraw, a, false, false, Err(R::NoAmendmentDraft)),
        ];
        for (i, (state, step, signer, double, as_drafted, want)) in cases.iter().enumerate() {
            let got = take_report(*state, *step, *signer, *double, *as_drafted, "所见", "印象");
            assert_eq!(
                got, *want,
                "case {i}: {state:?} {step:?} by {} double {double}",
                signer.staff_id
            );
        }
        assert_eq!(
            take_report(none, Draft, a, false, true, " ", "印象"),
            Err(R::TextRequired)
        );
        assert_eq!(
            take_report(final_by_1, Draft, a, false, true, "所见", ""),
            Err(R::TextRequired)
        );
        assert_eq!(Taken::AmendmentDraft.version_status(), S::Preliminary);
        assert_eq!(
            take_report(amending_1, Withdraw, a, true, false, "", ""),
            Ok(Taken::AmendmentWithdrawn),
            "no text needed to withdraw"
        );
        assert_eq!(Taken::Report(S::Amended).version_status(), S::Amended);
    }
}
