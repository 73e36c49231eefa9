//! Bringing a region's existing records in (a FHIR transaction Bundle): residents
//! registered or updated and enrolments from their real days, written in one
//! transaction with every audit record — all of it or none. The use case decided and
//! validated everything first (`app::import`); the database still refuses a taken ID
//! number, a second active enrolment in a programme or a record that moved on from the
//! version the update expected, and then nothing is written.

use gongti_core::audit::AuditEntry;
use gongti_core::resident::ValidResident;

use crate::chronic::{NewEnrolment, insert_enrolment_in};
use crate::outbox::{created, stage_audit};
use crate::residents::{
    ID_NUMBER_INDEX, SealedNumbers, insert_many, insert_many_sql, registered, seal_numbers,
    update_resident_in,
};
use crate::row::trusted;
use crate::{Result, Store, StoreError, on_write};

/// Whose record an imported enrolment belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportPatient {
    /// The resident registered by the plan's registration at this index.
    New(usize),
    Existing(i64),
}

#[derive(Debug, Clone)]
pub struct ImportRegistration {
    pub resident: ValidResident,
    pub home_institution_id: i64,
    pub audit: AuditEntry,
}

#[derive(Debug, Clone)]
pub struct ImportUpdate {
    pub id: i64,
    pub resident: ValidResident,
    pub expected_version: Option<i64>,
    pub audit: AuditEntry,
}

#[derive(Debug, Clone)]
pub struct ImportEnrolment {
    pub patient: ImportPatient,
    /// Its `resident_id` is set from `patient` when written.
    pub enrolment: NewEnrolment,
    pub audit: AuditEntry,
}

/// What one import writes.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    pub registrations: Vec<ImportRegistration>,
    pub updates: Vec<ImportUpdate>,
    pub enrolments: Vec<ImportEnrolment>,
}

/// The ids an import created, in the plan's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub residents: Vec<i64>,
    pub enrolments: Vec<i64>,
}

/// Residents per INSERT statement (as a registration batch writes them).
const RESIDENTS_PER_INSERT: usize = 128;

impl Store {
    /// Writes `plan` in one transaction with its audit records: all of it or, on any
    /// refusal ([`StoreError::Duplicate`] for a taken ID number or a programme already
    /// active, [`StoreError::Changed`] for an update whose record moved on,
    /// [`StoreError::NotFound`]), nothing.
    pub async fn import(&self, plan: &ImportPlan, now_us: i64) -> Result<Imported> {
        let sealed: Vec<SealedNumbers> = plan
            .registrations
            .iter()
            .map(|r| seal_numbers(&self.keys, &r.resident.id_number, r.resident.phone.as_ref()))
            .collect();
        let taken = || StoreError::Duplicate(ID_NUMBER_INDEX.into());
        let mut distinct = std::collections::HashSet::with_capacity(sealed.len());
        if !sealed.iter().all(|s| distinct.insert(s.id_hash)) {
            return Err(taken());
        }
        let rows: Vec<(&ValidResident, i64, &SealedNumbers)> = plan
            .registrations
            .iter()
            .zip(&sealed)
            .map(|(r, s)| (&r.resident, r.home_institution_id, s))
            .collect();
        let updates: Vec<SealedNumbers> = plan
            .updates
            .iter()
            .map(|u| seal_numbers(&self.keys, &u.resident.id_number, u.resident.phone.as_ref()))
            .collect();
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut residents = Vec::with_capacity(rows.len());
            let mut staged = Vec::new();
            for chunk in rows.chunks(RESIDENTS_PER_INSERT) {
                let inserted = insert_many!(tx, chunk, now_us);
                for (_, _, s) in chunk {
                    residents.push(*inserted.get(&s.id_hash[..]).ok_or_else(taken)?);
                }
            }
            for (r, id) in plan.registrations.iter().zip(&residents) {
                staged.extend(registered(std::slice::from_ref(&r.audit), *id));
            }
            for (u, s) in plan.updates.iter().zip(&updates) {
                let done = update_resident_in!(tx, u.id, &u.resident, s, now_us, u.expected_version);
                if done == 0 {
                    return Err(if u.expected_version.is_some() {
                        StoreError::Changed("version")
                    } else {
                        StoreError::NotFound
                    });
                }
                staged.push(u.audit.clone());
            }
            let mut enrolments = Vec::with_capacity(plan.enrolments.len());
            for e in &plan.enrolments {
                let mut n = e.enrolment.clone();
                n.resident_id = match e.patient {
                    ImportPatient::New(i) => *residents.get(i).ok_or(StoreError::NotFound)?,
                    ImportPatient::Existing(id) => id,
                };
                let id = insert_enrolment_in!(tx, &n, now_us);
                let mut audit = e.audit.clone();
                audit.patient_id = Some(n.resident_id);
                staged.extend(created(std::slice::from_ref(&audit), id));
                enrolments.push(id);
            }
            stage_audit!(tx, &staged);
            tx.commit().await?;
            Ok(Imported { residents, enrolments })
        })
    }
}
