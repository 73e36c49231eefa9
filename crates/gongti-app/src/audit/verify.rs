//! `gongti audit verify`: the whole trail read once, in order — every link checked,
//! and every row of the record tables found named by a record of the write that
//! created it (or staged in the outbox, on its way into the chain).

use std::collections::{BTreeMap, HashMap, VecDeque};

use gongti_core::audit::{AuditEntry, ChainBreak, ChainVerifier, ChainedEntry, Outcome};
use gongti_core::checkpoint::{Checkpoint, hex};
use gongti_core::coverage::{IdSet, parse_ids};
use gongti_store::{RecordTable, Store};

use crate::AppResult;

/// Records read per page by the verifier.
pub const AUDIT_VERIFY_PAGE: u32 = 5_000;
/// Uncovered ids named in the report per table at most.
const UNCOVERED_NAMED_MAX: usize = 10;

/// A record table and the records that create its rows: the resource type they name
/// and the actions that create one.
#[derive(Debug, Clone, Copy)]
pub struct Covered {
    pub table: RecordTable,
    pub resource_type: &'static str,
    pub actions: &'static [&'static str],
}

const fn covered(
    table: RecordTable,
    resource_type: &'static str,
    actions: &'static [&'static str],
) -> Covered {
    Covered {
        table,
        resource_type,
        actions,
    }
}

/// What creates each record table's rows. `demo.seed` is the demo generator's bulk
/// load, which names the rows of each batch.
#[rustfmt::skip]
pub const COVERED_TABLES: [Covered; 21] = [
    covered(RecordTable::Residents, "Resident", &["resident.create", "demo.seed"]),
    covered(RecordTable::Contracts, "Contract", &["contract.sign", "contract.renew", "contract.switch", "demo.seed"]),
    covered(RecordTable::Enrolments, "EpisodeOfCare", &["chronic.enrol", "demo.seed"]),
    covered(RecordTable::Followups, "Encounter", &["followup.create", "demo.seed"]),
    covered(RecordTable::HomeReadings, "Observation", &["reading.upload", "demo.seed"]),
    covered(RecordTable::LabResults, "Observation", &["lab.record", "lab.receive", "demo.seed"]),
    covered(RecordTable::ScreeningReadings, "Observation", &["screening.record"]),
    covered(RecordTable::Schedules, "Schedule", &["schedule.publish", "demo.seed"]),
    covered(RecordTable::Bookings, "Booking", &["booking.create", "booking.reschedule", "patient.book"]),
    covered(RecordTable::Referrals, "Referral", &["referral.create"]),
    covered(RecordTable::Consultations, "Consultation", &["consultation.create"]),
    covered(RecordTable::PatientAccounts, "PatientAccount", &["patient_account.open", "demo.seed"]),
    covered(RecordTable::Users, "User", &["user.create", "demo.seed"]),
    covered(RecordTable::Staff, "Staff", &["staff.create", "demo.seed"]),
    covered(RecordTable::Institutions, "Institution", &["institution.create", "demo.seed"]),
    covered(RecordTable::Hl7Messages, "Hl7Message", &["hl7.receive"]),
    covered(RecordTable::ExamOrders, "ExamOrder", &["exam.order"]),
    covered(RecordTable::ExamRecognitions, "ExamRecognition", &["exam.recognise"]),
    covered(RecordTable::ExamStudies, "ExamStudy", &["exam.study.receive"]),
    covered(RecordTable::ExamReports, "ExamReport", &["exam.report.draft", "exam.report.sign"]),
    covered(RecordTable::BureauSettlements, "BureauSettlement", &["bureau_settlement.import", "demo.seed"]),
];

/// Rows of a record table that no record names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncovered {
    pub table: &'static str,
    pub rows: u64,
    /// The first few of them.
    pub ids: Vec<i64>,
}

/// Record hashes kept while the trail is read, to check the checkpoints in it (each
/// covers a record shortly before its own).
const RECENT_HASHES: usize = 1 << 20;

/// What checks the checkpoints: the anchor files' checkpoints, and the public keys
/// whose signatures count.
#[derive(Debug, Clone, Default)]
pub struct Anchors {
    pub checkpoints: Vec<Checkpoint>,
    /// Restore marks, each with how many of `checkpoints` were written before it.
    pub restores: Vec<(usize, Checkpoint)>,
    /// Lines of the anchor files that are neither.
    pub damaged: Vec<String>,
    pub trusted_keys: Vec<[u8; 32]>,
}

/// The anchor files' checkpoints that count, after the restore marks.
struct InForce<'a> {
    checkpoints: Vec<&'a Checkpoint>,
    /// Marks with good signatures from trusted keys (each also checked like a
    /// checkpoint: the trail must hold its record).
    restores: Vec<&'a Checkpoint>,
    /// Checkpoints past a restore's record written before it: the lost history.
    voided: usize,
    problems: Vec<CheckpointProblem>,
}

impl Anchors {
    /// Adds an anchor file's lines (several files may be read into one `Anchors`).
    pub fn add(&mut self, lines: crate::audit::checkpoint::AnchorLines, path: &std::path::Path) {
        let offset = self.checkpoints.len();
        self.checkpoints.extend(lines.checkpoints);
        self.restores
            .extend(lines.restores.into_iter().map(|(n, m)| (n + offset, m)));
        self.damaged.extend(
            lines
                .damaged
                .into_iter()
                .map(|d| format!("{} line {}: {}", path.display(), d.line, d.problem)),
        );
    }

    /// A trusted restore mark voids the checkpoints written before it (in the same
    /// file) past its record: that history was lost with the restore, and the trail
    /// goes on from the mark. A mark that does not hold voids nothing.
    fn in_force(&self) -> InForce<'_> {
        let mut problems = Vec::new();
        let mut restores = Vec::new();
        let mut void = vec![false; self.checkpoints.len()];
        for (before, mark) in &self.restores {
            if !crate::audit::checkpoint::restore_holds(mark) {
                problems.push(CheckpointProblem::BadSignature {
                    seq: mark.seq,
                    source: Source::AnchorFile,
                });
            } else if !self.trusted_keys.contains(&mark.key) {
                problems.push(CheckpointProblem::UnknownKey {
                    seq: mark.seq,
                    key: hex(&mark.key),
                    source: Source::AnchorFile,
                });
            } else {
                restores.push(mark);
                for (i, c) in self.checkpoints[..*before].iter().enumerate() {
                    void[i] |= c.seq > mark.seq;
                }
            }
        }
        InForce {
            checkpoints: self
                .checkpoints
                .iter()
                .zip(&void)
                .filter(|(_, v)| !**v)
                .map(|(c, _)| c)
                .collect(),
            restores,
            voided: void.iter().filter(|v| **v).count(),
            problems,
        }
    }
}

/// Where a checkpoint was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    AnchorFile,
    Trail,
}

/// What is wrong with the trail as the checkpoints see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointProblem {
    /// The trail's record at a signed checkpoint does not have the signed hash: the
    /// trail was rewritten (or rehashed) there.
    Rewritten {
        seq: i64,
        at_us: i64,
        source: Source,
    },
    /// The trail ends before a signed checkpoint: its newest records were removed.
    Shortened {
        ends: i64,
        checkpoint: i64,
        at_us: i64,
    },
    /// A checkpoint whose signature does not hold.
    BadSignature { seq: i64, source: Source },
    /// A checkpoint signed by a key nobody said to trust.
    UnknownKey {
        seq: i64,
        key: String,
        source: Source,
    },
    /// A line of an anchor file that is not a checkpoint.
    Damaged(String),
    /// A checkpoint record in the trail covers a record too far back to check.
    Unchecked { seq: i64 },
}

/// What the checkpoints say.
#[derive(Debug, Clone, Default)]
pub struct CheckpointFindings {
    pub anchored: usize,
    pub in_trail: usize,
    /// The newest checkpoint that holds, before the first problem: (seq, at_us).
    pub last_good: Option<(i64, i64)>,
    pub problems: Vec<CheckpointProblem>,
    /// Restores the anchor files record: (record the trail went on from, at_us).
    pub restores: Vec<(i64, i64)>,
    /// Checkpoints of the history lost with a restore.
    pub voided: usize,
}

/// The trail's patient index (SQLite) against the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexFinding {
    /// The engine keeps the index (PostgreSQL).
    EngineKept,
    Matches {
        entries: u64,
    },
    Differs {
        entries: u64,
        expected: u64,
    },
}

/// What `gongti audit verify` found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Records checked in the chain (up to the first break).
    pub records: i64,
    /// The last record of the trail.
    pub last_seq: i64,
    pub broken: Option<ChainBreak>,
    /// Records staged by committed writes and not yet moved into the chain.
    pub staged: u64,
    pub uncovered: Vec<Uncovered>,
    pub checkpoints: CheckpointFindings,
    pub index: IndexFinding,
}

impl VerifyReport {
    /// Nothing broken, nothing unaccounted for.
    pub fn is_sound(&self) -> bool {
        self.broken.is_none()
            && self.uncovered.is_empty()
            && self.checkpoints.problems.is_empty()
            && !matches!(self.index, IndexFinding::Differs { .. })
    }
}

/// Checks checkpoints as the trail is read in order.
struct CheckpointCheck<'a> {
    anchors: &'a Anchors,
    /// Anchored checkpoints with good signatures from trusted keys, by the record
    /// they cover.
    expected: BTreeMap<i64, Vec<&'a Checkpoint>>,
    recent: VecDeque<(i64, [u8; 32])>,
    /// Checkpoints that held, by the record they cover.
    held: Vec<(i64, i64)>,
    findings: CheckpointFindings,
}

impl<'a> CheckpointCheck<'a> {
    fn new(anchors: &'a Anchors) -> CheckpointCheck<'a> {
        let mut check = CheckpointCheck {
            anchors,
            expected: BTreeMap::new(),
            recent: VecDeque::new(),
            held: Vec::new(),
            findings: CheckpointFindings {
                anchored: anchors.checkpoints.len(),
                ..CheckpointFindings::default()
            },
        };
        for line in &anchors.damaged {
            check
                .findings
                .problems
                .push(CheckpointProblem::Damaged(line.clone()));
        }
        let in_force = anchors.in_force();
        check.findings.problems.extend(in_force.problems);
        check.findings.voided = in_force.voided;
        for mark in in_force.restores {
            check.findings.restores.push((mark.seq, mark.at_us));
            check.expected.entry(mark.seq).or_default().push(mark);
        }
        for c in in_force.checkpoints {
            if check.trusted(c, Source::AnchorFile) {
                check.expected.entry(c.seq).or_default().push(c);
            }
        }
        check
    }

    /// Whether a checkpoint's signature holds and its key is trusted; a problem when not.
    fn trusted(&mut self, c: &Checkpoint, source: Source) -> bool {
        if !crate::audit::checkpoint::signature_holds(c) {
            self.findings
                .problems
                .push(CheckpointProblem::BadSignature { seq: c.seq, source });
            return false;
        }
        if !self.anchors.trusted_keys.contains(&c.key) {
            self.findings.problems.push(CheckpointProblem::UnknownKey {
                seq: c.seq,
                key: hex(&c.key),
                source,
            });
            return false;
        }
        true
    }

    fn push(&mut self, r: &ChainedEntry) {
        if let Some(expected) = self.expected.remove(&r.seq) {
            for c in expected {
                self.compare(c, r.hash, Source::AnchorFile);
            }
        }
        if let Some(found) = Checkpoint::of_record(&r.entry) {
            self.findings.in_trail += 1;
            match found {
                Err(e) => self
                    .findings
                    .problems
                    .push(CheckpointProblem::Damaged(format!("record {}: {e}", r.seq))),
                Ok(c) if self.trusted(&c, Source::Trail) => {
                    match self.recent.iter().rev().find(|(seq, _)| *seq == c.seq) {
                        Some((_, hash)) => self.compare(&c, *hash, Source::Trail),
                        None => self
                            .findings
                            .problems
                            .push(CheckpointProblem::Unchecked { seq: r.seq }),
                    }
                }
                Ok(_) => {}
            }
        }
        if self.recent.len() == RECENT_HASHES {
            self.recent.pop_front();
        }
        self.recent.push_back((r.seq, r.hash));
    }

    fn compare(&mut self, c: &Checkpoint, hash: [u8; 32], source: Source) {
        if c.hash == hash {
            self.held.push((c.seq, c.at_us));
        } else {
            self.findings.problems.push(CheckpointProblem::Rewritten {
                seq: c.seq,
                at_us: c.at_us,
                source,
            });
        }
    }

    /// Ends the check at the trail's last record; `broken` is the chain's own break.
    fn finish(mut self, last_seq: i64, broken: Option<i64>) -> CheckpointFindings {
        for (seq, cs) in std::mem::take(&mut self.expected) {
            let at_us = cs[0].at_us;
            // Never reached: past the trail's end, or its record is gone from the middle.
            self.findings.problems.push(if seq > last_seq {
                CheckpointProblem::Shortened {
                    ends: last_seq,
                    checkpoint: seq,
                    at_us,
                }
            } else {
                CheckpointProblem::Rewritten {
                    seq,
                    at_us,
                    source: Source::AnchorFile,
                }
            });
        }
        let first_problem = self
            .findings
            .problems
            .iter()
            .filter_map(|p| match p {
                CheckpointProblem::Rewritten { seq, .. } => Some(*seq),
                CheckpointProblem::Shortened { ends, .. } => Some(ends + 1),
                _ => None,
            })
            .chain(broken)
            .min()
            .unwrap_or(i64::MAX);
        self.findings.last_good = self
            .held
            .iter()
            .filter(|(seq, _)| *seq < first_problem)
            .max()
            .copied();
        self.findings
    }
}

/// The ids each table's creating records name, collected as the trail is read.
#[derive(Default)]
struct Coverage {
    named: HashMap<RecordTable, IdSet>,
}

impl Coverage {
    fn add(&mut self, e: &AuditEntry) {
        if e.outcome != Outcome::Ok {
            return;
        }
        let Some(ranges) = e.resource_id.as_deref().and_then(parse_ids) else {
            return;
        };
        for c in COVERED_TABLES.iter().filter(|c| {
            c.resource_type == e.resource_type && c.actions.contains(&e.action.as_str())
        }) {
            let set = self.named.entry(c.table).or_default();
            for &(a, b) in &ranges {
                set.insert(a, b);
            }
        }
    }
}

/// Records whose links the start-up check reads when no checkpoint is anchored yet.
const STARTUP_TAIL: i64 = 10_000;

/// The check a server makes before it starts: the newest trusted checkpoint of the
/// anchor files still matches the trail, the trail reaches it, and every link after
/// it holds (the last records when none is anchored yet). Cheap at any size of trail;
/// `gongti audit verify` reads all of it. Returns what is wrong, if anything.
pub async fn startup_check(store: &Store, anchors: &Anchors) -> AppResult<Option<String>> {
    let in_force = anchors.in_force();
    let newest = in_force
        .checkpoints
        .into_iter()
        .filter(|c| {
            anchors.trusted_keys.contains(&c.key) && crate::audit::checkpoint::signature_holds(c)
        })
        .chain(in_force.restores)
        // The newest by when it was signed: after an accepted break the chain grows
        // past a record number an older checkpoint already named.
        .max_by_key(|c| (c.at_us, c.seq));
    let head = store.audit_head().await?.map_or(0, |(seq, _)| seq);
    let mut verifier = match newest {
        Some(c) => {
            let at = store.audit_records(c.seq - 1, 1).await?.records;
            match at.first() {
                Some(r) if r.seq == c.seq && r.hash == c.hash => {}
                Some(r) if r.seq == c.seq => {
                    return Ok(Some(format!(
                        "审计记录 {} 与签名检查点不符 record {} does not match the checkpoint signed at {} µs: the trail was rewritten",
                        c.seq, c.seq, c.at_us
                    )));
                }
                _ => {
                    return Ok(Some(format!(
                        "审计链在 {head} 处结束，早于签名检查点 {} the trail ends at record {head}, before the checkpoint of record {} signed at {} µs: its newest records were removed",
                        c.seq, c.seq, c.at_us
                    )));
                }
            }
            ChainVerifier::after(c.seq, c.hash)
        }
        None => {
            let from = (head - STARTUP_TAIL).max(0);
            match store.audit_records(from - 1, 1).await?.records.first() {
                Some(r) if from > 0 => ChainVerifier::after(r.seq, r.hash),
                _ => ChainVerifier::default(),
            }
        }
    };
    let mut after = verifier.verified();
    loop {
        let page = store.audit_records(after, AUDIT_VERIFY_PAGE).await?;
        let Some(last) = page.records.last() else {
            return Ok(None);
        };
        after = last.seq;
        for r in &page.records {
            if let Err(broken) = verifier.push(r) {
                return Ok(Some(format!(
                    "审计链已被破坏 the audit chain is broken: {broken}"
                )));
            }
        }
    }
}

/// Checks every record table's rows against what the trail (and the outbox) names,
/// and every link of the trail. The record tables and the outbox are read first, in
/// one snapshot, and the chain after it: a row in the snapshot was committed with its
/// records, which were then in the outbox or already in the chain, so the check holds
/// beside a running server. `progress` is told how many records have been read after
/// each page of the chain.
pub async fn verify(
    store: &Store,
    anchors: &Anchors,
    mut progress: impl FnMut(i64),
) -> AppResult<VerifyReport> {
    let snapshot = store.records_snapshot().await?;
    let moved_through = store.audit_outbox_mark().await?.unwrap_or(0);
    let index = store.audit_patient_index_digest().await?;
    let mut expected_index = (0u64, 0u128);
    let mut checkpoints = CheckpointCheck::new(anchors);
    let mut last_seq = 0;
    let mut coverage = Coverage::default();
    for (_, e) in &snapshot.staged {
        coverage.add(e);
    }
    let mut verifier = ChainVerifier::default();
    let mut broken = None;
    let mut after = 0;
    let mut read = 0;
    loop {
        let page = store.audit_records(after, AUDIT_VERIFY_PAGE).await?;
        let Some(last) = page.records.last() else {
            break;
        };
        after = last.seq;
        for record in &page.records {
            if broken.is_none()
                && let Err(b) = verifier.push(record)
            {
                broken = Some(b);
            }
            coverage.add(&record.entry);
            checkpoints.push(record);
            if let (Some((mark, _, _)), Some(patient)) = (index, record.entry.patient_id)
                && record.seq <= mark
            {
                expected_index.0 += 1;
                expected_index.1 ^= gongti_core::audit::index_entry_digest(patient, record.seq);
            }
            last_seq = record.seq;
        }
        read += page.records.len() as i64;
        progress(read);
    }
    let empty = IdSet::default();
    let uncovered = COVERED_TABLES
        .iter()
        .filter_map(|c| {
            let have = snapshot.ids.get(&c.table).unwrap_or(&empty);
            let named = coverage.named.get(&c.table).unwrap_or(&empty);
            let (rows, ids) = have.missing_from(named, UNCOVERED_NAMED_MAX);
            (rows > 0).then_some(Uncovered {
                table: c.table.table(),
                rows,
                ids,
            })
        })
        .collect();
    let index = match index {
        None => IndexFinding::EngineKept,
        Some((_, entries, digest)) if (entries, digest) == expected_index => {
            IndexFinding::Matches { entries }
        }
        Some((_, entries, _)) => IndexFinding::Differs {
            entries,
            expected: expected_index.0,
        },
    };
    Ok(VerifyReport {
        records: verifier.verified(),
        last_seq,
        checkpoints: checkpoints.finish(last_seq, broken.as_ref().map(ChainBreak::seq)),
        broken,
        staged: snapshot
            .staged
            .iter()
            .filter(|(id, _)| *id > moved_through)
            .count() as u64,
        uncovered,
        index,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_table_has_the_records_that_create_its_rows() {
        for table in RecordTable::ALL {
            assert_eq!(
                COVERED_TABLES.iter().filter(|c| c.table == table).count(),
                1,
                "{table:?}"
            );
        }
    }

    #[test]
    fn only_a_creating_record_that_went_through_covers_a_row() {
        let mut coverage = Coverage::default();
        let entry = |action: &str, resource_type: &str, id: &str, outcome: Outcome| AuditEntry {
            at_us: 0,
            actor_user_id: None,
            actor_username: "t".into(),
            role: None,
            institution_id: None,
            action: action.into(),
            resource_type: resource_type.into(),
            resource_id: Some(id.into()),
            patient_id: None,
            reason: None,
            outcome,
            detail: None,
            request_id: None,
        };
        coverage.add(&entry("resident.create", "Resident", "1", Outcome::Ok));
        coverage.add(&entry("demo.seed", "Resident", "10..12", Outcome::Ok));
        // A read names a resident it did not create; a refused create names none.
        coverage.add(&entry("resident.read", "Resident", "5", Outcome::Ok));
        coverage.add(&entry("resident.create", "Resident", "6", Outcome::Invalid));
        // Home and screening readings share a resource type, not their actions.
        coverage.add(&entry("screening.record", "Observation", "7", Outcome::Ok));
        let residents = &coverage.named[&RecordTable::Residents];
        let covered: Vec<i64> = (0..15).filter(|id| residents.contains(*id)).collect();
        assert_eq!(covered, vec![1, 10, 11, 12]);
        assert!(coverage.named[&RecordTable::ScreeningReadings].contains(7));
        assert!(!coverage.named.contains_key(&RecordTable::HomeReadings));
    }
}
