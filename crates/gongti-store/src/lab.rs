//! Laboratory results (`gongti_core::lab`): stored once per sender's id and resident,
//! never changed, and counted in the kept indicator figures of every enrolment of the
//! resident inside the transaction that stores them — a fasting glucose or an HbA1c
//! as measured on its collection day, and the collection as contact.

use gongti_core::audit::AuditEntry;
use gongti_core::chronic::indicators::VisitFact;
use gongti_core::chronic::{Disease, Params};
use gongti_core::exam::items::CriticalSide;
use gongti_core::exam::report::ResultStatus;
use gongti_core::lab::{LAB_ORDER_BASE, LabTest, ValidLabResult};
use gongti_core::measure::{Mmol, Percent};
use time::Date;

use crate::maintained::{IndicatorEvent, IndicatorUpdate};
use crate::outbox::stage_audit;
use crate::row::{RowExt, Val, id_list, trusted};
use crate::versions::Version;
use crate::{Result, Store, StoreError, on_read, on_write};

/// An enrolment whose kept figures a result changes (every enrolment of its resident,
/// ended ones too: the recompute reads them alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolmentScope {
    pub enrolment_id: i64,
    pub disease: Disease,
    pub enrolled_on: Date,
    pub ended_on: Option<Date>,
    pub scopes: [String; 3],
}

#[derive(Debug, Clone)]
pub struct NewLabResult<'a> {
    pub resident_id: i64,
    pub result: &'a ValidLabResult,
    /// The institution that recorded it (the sender's).
    pub institution_id: i64,
    pub enrolments: Vec<EnrolmentScope>,
    /// Its audit record (the id is filled in when stored).
    pub audit: AuditEntry,
}

/// What happened to one result sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabOutcome {
    pub resident_id: i64,
    /// The stored result's id.
    pub id: i64,
    /// `false` when the resident already had a result with this sender's id.
    pub created: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabResultRecord {
    pub id: i64,
    pub resident_id: i64,
    /// `""` when the sender gave none.
    pub source_system: String,
    pub source_id: String,
    /// The test the chronic-care indicators count it as, when they do.
    pub test: Option<LabTest>,
    /// The code (LOINC when `code_system` is `LN`).
    pub loinc: String,
    pub code_system: String,
    /// The item's name as Gongti knows it or as the laboratory sent it (`""` if none).
    pub display: String,
    /// Hundredths of `unit`, when the value is a number.
    pub value_centi: Option<i64>,
    pub value_text: String,
    pub unit: String,
    pub reference_range: String,
    /// The abnormal flags as sent (`H`, `LL`, …), comma-separated.
    pub flags: String,
    pub status: ResultStatus,
    pub critical: Option<CriticalSide>,
    pub reported: String,
    pub collected_on: Date,
    pub collected_at_us: Option<i64>,
    pub institution_id: i64,
    pub created_at_us: i64,
    /// The HL7 message that brought (or last corrected) it.
    pub hl7_message_id: Option<i64>,
    pub version: Version,
}

pub(crate) const COLUMNS: &str = "id, resident_id, source_system, source_id, test, loinc, code_system, display, value_centi, \
                       value_text, unit, reference_range, flags, status, critical, reported, collected_on, \
                       collected_at_us, institution_id, created_at_us, hl7_message_id, version, version_at_us";

pub(crate) fn record(row: &impl RowExt) -> Result<LabResultRecord> {
    let test = row.text("test")?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("lab result {what}"));
    let created_at_us = row.i64("created_at_us")?;
    Ok(LabResultRecord {
        id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        source_system: row.text("source_system")?,
        source_id: row.text("source_id")?,
        test: match test.as_str() {
            "" => None,
            t => Some(LabTest::parse(t).ok_or_else(|| corrupt("test"))?),
        },
        loinc: row.text("loinc")?,
        code_system: row.text("code_system")?,
        display: row.text("display")?,
        value_centi: row.opt_i64("value_centi")?,
        value_text: row.text("value_text")?,
        unit: row.text("unit")?,
        reference_range: row.text("reference_range")?,
        flags: row.text("flags")?,
        status: ResultStatus::parse(&row.text("status")?).ok_or_else(|| corrupt("status"))?,
        critical: match row.opt_text("critical")? {
            None => None,
            Some(c) => Some(CriticalSide::parse(&c).ok_or_else(|| corrupt("critical side"))?),
        },
        reported: row.text("reported")?,
        collected_on: row.date("collected_on")?,
        collected_at_us: row.opt_i64("collected_at_us")?,
        institution_id: row.i64("institution_id")?,
        created_at_us,
        hl7_message_id: row.opt_i64("hl7_message_id")?,
        version: Version {
            number: row.i64("version")?,
            since_us: row.opt_i64("version_at_us")?.unwrap_or(created_at_us),
        },
    })
}

/// What the indicators read of a stored result: a measurement on its collection day
/// that is not a follow-up (contact, never face to face), ordered after the day's
/// follow-ups ([`LAB_ORDER_BASE`]).
pub fn lab_fact(id: i64, test: LabTest, value_centi: i64, collected_on: Date) -> Result<VisitFact> {
    let centi =
        i32::try_from(value_centi).map_err(|_| StoreError::Corrupt("lab result value".into()))?;
    Ok(VisitFact {
        visit_on: collected_on,
        id: LAB_ORDER_BASE + id,
        face_to_face: false,
        age_years: 0,
        bp: None,
        fpg: (test == LabTest::FastingGlucose).then(|| Mmol::from_centi(centi)),
        hba1c: (test == LabTest::Hba1c).then(|| Percent::from_centi(centi)),
    })
}

/// The kept-figure updates a new result makes.
pub(crate) fn lab_updates(
    id: i64,
    result: &ValidLabResult,
    enrolments: &[EnrolmentScope],
) -> Result<Vec<IndicatorUpdate>> {
    let fact = lab_fact(
        id,
        result.test,
        i64::from(result.value_centi),
        result.collected_on,
    )?;
    Ok(enrolments
        .iter()
        .map(|e| IndicatorUpdate {
            enrolment_id: e.enrolment_id,
            disease: e.disease,
            enrolled_on: e.enrolled_on,
            ended_on: e.ended_on,
            scopes: e.scopes.clone(),
            event: IndicatorEvent::Visit(fact),
        })
        .collect())
}

/// The stored result a repeat names: `$1` resident, `$2` system, `$3` value.
pub(crate) const EXISTING: &str =
    "SELECT id FROM lab_results WHERE resident_id = $1 AND source_system = $2 AND source_id = $3";

/// A result's insert, skipping one whose sender's id the resident already has (see
/// [`lab_values`]).
pub(crate) const INSERT_RESULT: &str = "INSERT INTO lab_results (resident_id, source_id, test, loinc, value_centi, reported,
        collected_on, collected_at_us, institution_id, entered_by_user_id, created_at_us, source_system,
        value_text, unit, display)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT (resident_id, source_system, source_id) DO NOTHING RETURNING id";

/// The values of [`INSERT_RESULT`].
pub(crate) fn lab_values(
    resident_id: i64,
    r: &gongti_core::lab::ValidLabResult,
    institution_id: i64,
    user_id: i64,
    now_us: i64,
) -> [Val<'_>; 15] {
    [
        Val::int(resident_id),
        Val::text(&r.source_id),
        Val::text(r.test.code()),
        Val::text(&r.loinc),
        Val::int(r.value_centi),
        Val::text(&r.reported),
        Val::day(r.collected_on),
        Val::Int(r.collected_at_us),
        Val::int(institution_id),
        Val::int(user_id),
        Val::int(now_us),
        Val::text(&r.source_system),
        Val::owned(gongti_core::exam::items::centi_text(i64::from(
            r.value_centi,
        ))),
        Val::text(r.test.unit()),
        Val::text(r.test.label_zh()),
    ]
}

/// [`insert_lab_result_in!`] followed, for a repeat, by the stored result's id, in a
/// transaction of the SQLite hot path ([`crate::direct`]): the id and whether it is new.
pub(crate) fn insert_lab_result_direct(
    tx: &rusqlite::Transaction<'_>,
    resident_id: i64,
    r: &gongti_core::lab::ValidLabResult,
    institution_id: i64,
    user_id: i64,
    now_us: i64,
) -> Result<(i64, bool)> {
    use crate::direct::first_numbered;
    let values = lab_values(resident_id, r, institution_id, user_id, now_us);
    match first_numbered(tx, INSERT_RESULT, &values, |row| row.i64("id")) {
        Ok(id) => Ok((id, true)),
        Err(StoreError::NotFound) => {
            let key = [
                Val::int(resident_id),
                Val::text(&r.source_system),
                Val::text(&r.source_id),
            ];
            Ok((
                first_numbered(tx, EXISTING, &key, |row| row.i64("id"))?,
                false,
            ))
        }
        Err(e) => Err(e),
    }
}

/// Inserts one result in the open transaction `$tx`; evaluates to `Some(id)` when new,
/// `None` when the resident already has a result with the sender's id.
macro_rules! insert_lab_result_in {
    ($tx:ident, $resident_id:expr, $r:expr, $institution_id:expr, $user_id:expr, $now_us:expr) => {{
        let values = $crate::lab::lab_values($resident_id, $r, $institution_id, $user_id, $now_us);
        let row: Option<(i64,)> =
            $crate::row::bind_vals!(sqlx::query_as($crate::lab::INSERT_RESULT), &values)
                .fetch_optional(&mut *$tx)
                .await?;
        row.map(|(id,)| id)
    }};
}
pub(crate) use insert_lab_result_in;

impl Store {
    /// Stores results in one transaction with their audit records and the kept figures
    /// they change; a result whose sender's id the resident already has is answered
    /// with the stored one's id and changes nothing (no audit record of a creation).
    pub async fn insert_lab_results(
        &self,
        results: &[NewLabResult<'_>],
        entered_by_user_id: i64,
        now_us: i64,
        params: &Params,
    ) -> Result<Vec<LabOutcome>> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut outcomes = Vec::with_capacity(results.len());
            let mut staged = Vec::new();
            let mut updates = Vec::new();
            for n in results {
                let inserted = insert_lab_result_in!(
                    tx, n.resident_id, n.result, n.institution_id, entered_by_user_id, now_us
                );
                match inserted {
                    Some(id) => {
                        updates.extend(lab_updates(id, n.result, &n.enrolments)?);
                        let mut audit = n.audit.clone();
                        audit.resource_id = Some(id.to_string());
                        staged.push(audit);
                        outcomes.push(LabOutcome { resident_id: n.resident_id, id, created: true });
                    }
                    None => {
                        let (id,): (i64,) = sqlx::query_as(EXISTING)
                            .bind(n.resident_id).bind(&n.result.source_system).bind(&n.result.source_id)
                            .fetch_one(&mut *tx).await?;
                        outcomes.push(LabOutcome { resident_id: n.resident_id, id, created: false });
                    }
                }
            }
            crate::maintained::apply_indicator_updates!(tx, updates, params);
            stage_audit!(tx, &staged);
            tx.commit().await?;
            Ok(outcomes)
        })
    }

    /// What the kept figures of a new enrolment read of its resident's earlier
    /// records: when each home reading was taken, and the laboratory results.
    pub async fn indicator_history(&self, resident_id: i64) -> Result<(Vec<i64>, Vec<VisitFact>)> {
        on_read!(self, pool => {
            let taken: Vec<(i64,)> = sqlx::query_as(
                "SELECT taken_at_us FROM home_readings WHERE resident_id = $1",
            )
            .bind(resident_id).fetch_all(pool).await?;
            let labs = sqlx::query(
                "SELECT id, test, value_centi, collected_on FROM lab_results WHERE resident_id = $1 AND test <> ''",
            )
            .bind(resident_id).fetch_all(pool).await?
            .iter()
            .map(|row| {
                let test = row.text("test")?;
                let test = LabTest::parse(&test).ok_or_else(|| StoreError::Corrupt("lab test".into()))?;
                lab_fact(row.i64("id")?, test, row.i64("value_centi")?, row.date("collected_on")?)
            })
            .collect::<Result<Vec<_>>>()?;
            Ok((taken.into_iter().map(|(t,)| t).collect(), labs))
        })
    }

    /// A result as it is now.
    pub async fn lab_result(&self, id: i64) -> Result<Option<LabResultRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM lab_results WHERE id = $1");
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(id)
                .fetch_optional(pool).await?.as_ref().map(record).transpose()
        })
    }

    /// A result as it was before a correction (`None`: not a version it had before).
    pub async fn lab_result_version(
        &self,
        id: i64,
        version: i64,
    ) -> Result<Option<LabResultRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM lab_results WHERE id = $1");
        crate::versions::superseded!(self, crate::Kept::LabResults, "", &sql, id, version, record)
    }

    /// A resident's results, newest collection first.
    pub async fn lab_results_of_resident(&self, resident_id: i64) -> Result<Vec<LabResultRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM lab_results WHERE resident_id = $1 ORDER BY collected_on DESC, id DESC"
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(resident_id)
                .fetch_all(pool).await?.iter().map(record).collect()
        })
    }

    /// The results of several residents (a bulk export's page) stored after
    /// `since_us` (all when `None`), by resident then id.
    pub async fn lab_results_of_residents(
        &self,
        residents: &[i64],
        since_us: Option<i64>,
    ) -> Result<Vec<LabResultRecord>> {
        if residents.is_empty() {
            return Ok(Vec::new());
        }
        // The ids are integers read back from the database, not client input.
        let sql = format!(
            "SELECT {COLUMNS} FROM lab_results WHERE resident_id IN ({})
               AND ($1 IS NULL OR created_at_us > $1) ORDER BY resident_id, id",
            id_list(residents.iter().copied())
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(since_us)
                .fetch_all(pool).await?.iter().map(record).collect()
        })
    }
}
