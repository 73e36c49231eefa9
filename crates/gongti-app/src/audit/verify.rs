//! `gongti audit verify`: the whole trail read once, in order — every link checked,
//! and every row of the record tables found named by a record of the write that
//! created it (or staged in the outbox, on its way into the chain).

use std::collections::HashMap;

use gongti_core::audit::{AuditEntry, ChainBreak, ChainVerifier, Outcome};
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

/// What creates each record table's rows. `demo.seed` is the demo generator's bulk
/// load, which names the rows of each batch.
pub const COVERED_TABLES: [Covered; 14] = [
    Covered {
        table: RecordTable::Residents,
        resource_type: "Resident",
        actions: &["resident.create", "demo.seed"],
    },
    Covered {
        table: RecordTable::Contracts,
        resource_type: "Contract",
        actions: &[
            "contract.sign",
            "contract.renew",
            "contract.switch",
            "demo.seed",
        ],
    },
    Covered {
        table: RecordTable::Enrolments,
        resource_type: "EpisodeOfCare",
        actions: &["chronic.enrol", "demo.seed"],
    },
    Covered {
        table: RecordTable::Followups,
        resource_type: "Encounter",
        actions: &["followup.create", "demo.seed"],
    },
    Covered {
        table: RecordTable::HomeReadings,
        resource_type: "Observation",
        actions: &["reading.upload", "demo.seed"],
    },
    Covered {
        table: RecordTable::ScreeningReadings,
        resource_type: "Observation",
        actions: &["screening.record"],
    },
    Covered {
        table: RecordTable::Schedules,
        resource_type: "Schedule",
        actions: &["schedule.publish", "demo.seed"],
    },
    Covered {
        table: RecordTable::Bookings,
        resource_type: "Booking",
        actions: &["booking.create", "booking.reschedule", "patient.book"],
    },
    Covered {
        table: RecordTable::Referrals,
        resource_type: "Referral",
        actions: &["referral.create"],
    },
    Covered {
        table: RecordTable::Consultations,
        resource_type: "Consultation",
        actions: &["consultation.create"],
    },
    Covered {
        table: RecordTable::PatientAccounts,
        resource_type: "PatientAccount",
        actions: &["patient_account.open", "demo.seed"],
    },
    Covered {
        table: RecordTable::Users,
        resource_type: "User",
        actions: &["user.create", "demo.seed"],
    },
    Covered {
        table: RecordTable::Staff,
        resource_type: "Staff",
        actions: &["staff.create", "demo.seed"],
    },
    Covered {
        table: RecordTable::Institutions,
        resource_type: "Institution",
        actions: &["institution.create", "demo.seed"],
    },
];

/// Rows of a record table that no record names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uncovered {
    pub table: &'static str,
    pub rows: u64,
    /// The first few of them.
    pub ids: Vec<i64>,
}

/// What `gongti audit verify` found.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Records checked in the chain (up to the first break).
    pub records: i64,
    pub broken: Option<ChainBreak>,
    /// Records staged by committed writes and not yet moved into the chain.
    pub staged: u64,
    pub uncovered: Vec<Uncovered>,
}

impl VerifyReport {
    /// Nothing broken and nothing unaccounted for.
    pub fn is_sound(&self) -> bool {
        self.broken.is_none() && self.uncovered.is_empty()
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

/// Checks every record table's rows against what the trail (and the outbox) names,
/// and every link of the trail. The record tables and the outbox are read first, in
/// one snapshot, and the chain after it: a row in the snapshot was committed with its
/// records, which were then in the outbox or already in the chain, so the check holds
/// beside a running server. `progress` is told how many records have been read after
/// each page of the chain.
pub async fn verify(store: &Store, mut progress: impl FnMut(i64)) -> AppResult<VerifyReport> {
    let snapshot = store.records_snapshot().await?;
    let mut coverage = Coverage::default();
    for e in &snapshot.staged {
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
    Ok(VerifyReport {
        records: verifier.verified(),
        broken,
        staged: snapshot.staged.len() as u64,
        uncovered,
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
