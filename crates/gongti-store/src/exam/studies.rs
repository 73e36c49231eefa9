//! Studies the PACS reported stable (DOMAIN.md §8): each kept once by its study UID and
//! matched to its order — by the study UID the worklist pre-assigned, else by the
//! accession number of an open imaging or ECG order —, which then moves to in progress
//! with a step of the modality's; the feed's position is kept in the same transaction,
//! so a study is taken exactly once across restarts.

use gongti_core::audit::AuditEntry;

use crate::outbox::stage_audit;
use crate::row::{RowExt, trusted};
use crate::{Result, Store, on_read, on_write};

/// The settings key of the PACS changes feed's position.
const FEED_SEQ: &str = "orthanc_changes_seq";

/// A study as the PACS describes it.
#[derive(Debug, Clone)]
pub struct StableStudy<'a> {
    pub study_uid: &'a str,
    pub orthanc_id: &'a str,
    pub accession_number: &'a str,
    /// (0010,0020) as the modality wrote it (from the worklist: `GT` and the record's id).
    pub patient_id: &'a str,
    /// Its series' modalities, `\`-separated (DICOM's ModalitiesInStudy).
    pub modalities: &'a str,
    pub description: &'a str,
    pub instances: i64,
    pub received_at_us: i64,
    /// The changes feed's position after this study.
    pub feed_seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyRecord {
    pub id: i64,
    pub study_uid: String,
    pub orthanc_id: String,
    pub accession_number: String,
    pub order_id: Option<i64>,
    pub resident_id: Option<i64>,
    pub modalities: String,
    pub description: String,
    pub instances: i64,
    pub received_at_us: i64,
}

/// What taking a study did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StudyTaken {
    /// Kept and matched to an order (`started`: the order moved to in progress).
    Matched {
        study_id: i64,
        order_id: i64,
        resident_id: i64,
        started: bool,
    },
    /// Kept with no order.
    Unmatched { study_id: i64 },
    /// Known already: its instance count brought up to date.
    Known { study_id: i64 },
}

const STUDY_COLUMNS: &str = "id, study_uid, orthanc_id, accession_number, order_id, resident_id, modalities, \
                             description, instances, received_at_us";

fn study(row: &impl RowExt) -> Result<StudyRecord> {
    Ok(StudyRecord {
        id: row.i64("id")?,
        study_uid: row.text("study_uid")?,
        orthanc_id: row.text("orthanc_id")?,
        accession_number: row.text("accession_number")?,
        order_id: row.opt_i64("order_id")?,
        resident_id: row.opt_i64("resident_id")?,
        modalities: row.text("modalities")?,
        description: row.text("description")?,
        instances: row.i64("instances")?,
        received_at_us: row.i64("received_at_us")?,
    })
}

impl Store {
    /// Takes a stable study (see the module) with its audit record (`audit`, whose
    /// resource and patient are filled in here), in one transaction.
    pub async fn receive_study(
        &self,
        s: &StableStudy<'_>,
        audit: &AuditEntry,
    ) -> Result<StudyTaken> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO settings (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(FEED_SEQ).bind(s.feed_seq.to_string())
            .execute(&mut *tx).await?;
            let known: Option<(i64,)> = sqlx::query_as("SELECT id FROM exam_studies WHERE study_uid = $1")
                .bind(s.study_uid).fetch_optional(&mut *tx).await?;
            if let Some((id,)) = known {
                sqlx::query("UPDATE exam_studies SET instances = $2, modalities = $3 WHERE id = $1")
                    .bind(id).bind(s.instances).bind(s.modalities)
                    .execute(&mut *tx).await?;
                tx.commit().await?;
                return Ok(StudyTaken::Known { study_id: id });
            }
            let by_uid: Option<(i64, i64, String)> = sqlx::query_as(
                "SELECT id, resident_id, status FROM exam_orders WHERE study_uid = $1 AND category <> 'lab'",
            )
            .bind(s.study_uid).fetch_optional(&mut *tx).await?;
            // by accession number only when the patient id is the order's patient's too:
            // a mistyped accession never puts one patient's images on another's order
            let order = match by_uid {
                Some(o) => Some(o),
                None if !s.accession_number.is_empty() => {
                    let found: Option<(i64, i64, String)> = sqlx::query_as(
                        "SELECT id, resident_id, status FROM exam_orders
                         WHERE accession_number = $1 AND category <> 'lab'
                           AND status IN ('received', 'accepted', 'in-progress')",
                    )
                    .bind(s.accession_number).fetch_optional(&mut *tx).await?;
                    found.filter(|o| {
                        gongti_core::exam::worklist::patient_id(o.1) == s.patient_id.trim()
                    })
                }
                None => None,
            };
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO exam_studies (study_uid, orthanc_id, accession_number, order_id, resident_id,
                     modalities, description, instances, received_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(s.study_uid).bind(s.orthanc_id).bind(s.accession_number)
            .bind(order.as_ref().map(|o| o.0)).bind(order.as_ref().map(|o| o.1))
            .bind(s.modalities).bind(s.description).bind(s.instances).bind(s.received_at_us)
            .fetch_one(&mut *tx).await?;
            let mut entry = audit.clone();
            entry.resource_type = "ExamStudy".into();
            entry.resource_id = Some(id.to_string());
            let taken = match order {
                None => {
                    entry.detail = Some(format!("{} matched no open order", s.accession_number));
                    StudyTaken::Unmatched { study_id: id }
                }
                Some((order_id, resident_id, status)) => {
                    let started = status == "received" || status == "accepted";
                    let started = started && sqlx::query(
                        "UPDATE exam_orders SET status = 'in-progress', changed_at_us = $2
                         WHERE id = $1 AND status IN ('received', 'accepted')",
                    )
                    .bind(order_id).bind(s.received_at_us).execute(&mut *tx).await?.rows_affected() == 1;
                    if started {
                        sqlx::query(
                            "INSERT INTO exam_order_events (order_id, status, at_us, note)
                             VALUES ($1, 'in-progress', $2, '影像已到达 images received')",
                        )
                        .bind(order_id).bind(s.received_at_us).execute(&mut *tx).await?;
                    }
                    entry.patient_id = Some(resident_id);
                    entry.detail = Some(format!("order {order_id}: {} instances", s.instances));
                    StudyTaken::Matched { study_id: id, order_id, resident_id, started }
                }
            };
            stage_audit!(tx, std::slice::from_ref(&entry));
            tx.commit().await?;
            Ok(taken)
        })
    }

    /// Moves the changes feed's position (a batch with no stable study).
    pub async fn set_feed_seq(&self, seq: i64) -> Result<()> {
        self.set_setting(FEED_SEQ, &seq.to_string()).await
    }

    /// The changes feed's position, when it was ever read.
    pub async fn feed_seq(&self) -> Result<Option<i64>> {
        Ok(self.setting(FEED_SEQ).await?.and_then(|v| v.parse().ok()))
    }

    pub async fn studies_of_order(&self, order_id: i64) -> Result<Vec<StudyRecord>> {
        let sql =
            format!("SELECT {STUDY_COLUMNS} FROM exam_studies WHERE order_id = $1 ORDER BY id");
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(order_id).fetch_all(pool).await?.iter().map(study).collect()
        })
    }

    pub async fn exam_study_by_uid(&self, study_uid: &str) -> Result<Option<StudyRecord>> {
        let sql = format!("SELECT {STUDY_COLUMNS} FROM exam_studies WHERE study_uid = $1");
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(study_uid).fetch_optional(pool).await?.as_ref().map(study).transpose()
        })
    }

    /// The studies the PACS holds under an accession number (an order's, normally one).
    pub async fn studies_by_accession(&self, accession_number: &str) -> Result<Vec<StudyRecord>> {
        let sql = format!(
            "SELECT {STUDY_COLUMNS} FROM exam_studies WHERE accession_number = $1 ORDER BY id LIMIT 100"
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(accession_number).fetch_all(pool).await?.iter().map(study).collect()
        })
    }

    /// A resident's studies answering orders that `institution_id` placed or works (as
    /// its centre), oldest first; `accession_number` narrows them to one order's.
    pub async fn studies_for_institution(
        &self,
        resident_id: i64,
        institution_id: i64,
        accession_number: Option<&str>,
    ) -> Result<Vec<StudyRecord>> {
        let columns = STUDY_COLUMNS
            .split(", ")
            .map(|c| format!("x.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM exam_studies x JOIN exam_orders o ON o.id = x.order_id
             WHERE x.resident_id = $1 AND (o.placer_institution_id = $2 OR o.centre_institution_id = $2)
               AND ($3 IS NULL OR o.accession_number = $3)
             ORDER BY x.id LIMIT 1000"
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(resident_id).bind(institution_id).bind(accession_number)
                .fetch_all(pool).await?.iter().map(study).collect()
        })
    }

    pub async fn exam_study(&self, id: i64) -> Result<Option<StudyRecord>> {
        let sql = format!("SELECT {STUDY_COLUMNS} FROM exam_studies WHERE id = $1");
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?.as_ref().map(study).transpose()
        })
    }
}
