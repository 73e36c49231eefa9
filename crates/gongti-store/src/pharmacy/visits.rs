//! Online repeat visits (互联网复诊, DOMAIN.md §4): the request with its first message
//! and the care relationship that lets the institution asked read the record, in one
//! transaction; each step guarded by the status it was decided on; messages with their
//! images; documents a doctor accepted as offline diagnoses; each doctor's online
//! clinic. Issuing a prescription in a visit ends it inside the prescription's own
//! transaction (`pharmacy::prescriptions`).

use gongti_core::audit::AuditEntry;
use gongti_core::pharmacy::visit::VisitStatus;
use time::Date;

use crate::outbox::{created, stage_audit};
use crate::row::{RowExt, hash32};
use crate::{Result, Store, StoreError, on_read, on_write};

/// How long the institution that took a prescribed visit still reads the record (a
/// revision of the prescription screens it again), in µs: 30 days.
pub const PRESCRIBED_ACCESS_US: i64 = 30 * 86_400 * 1_000_000;

/// How long the institution asked reads the record of a request nobody has ended, in
/// µs: 30 days (taking it or prescribing keeps it open while the visit needs it).
pub const WAITING_ACCESS_US: i64 = 30 * 86_400 * 1_000_000;

/// An image to keep: its type (read from the bytes), SHA-256 and bytes.
#[derive(Debug, Clone)]
pub struct NewImage {
    pub content_type: &'static str,
    pub sha256: [u8; 32],
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct NewVisit {
    pub resident_id: i64,
    pub destination: &'static str,
    pub institution_id: i64,
    pub team_id: Option<i64>,
    pub disease_icd10: Option<String>,
    pub complaint: String,
    pub basis: Option<String>,
    pub images: Vec<NewImage>,
    pub keep_until: Date,
    pub chat_keep_until: Date,
    pub now_us: i64,
}

/// A visit with the names its pages show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRecord {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub destination: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub team_id: Option<i64>,
    pub disease_icd10: Option<String>,
    pub complaint: String,
    pub basis: Option<String>,
    pub status: VisitStatus,
    pub doctor_staff_id: Option<i64>,
    pub doctor_name: Option<String>,
    pub prescription_id: Option<i64>,
    pub end_reason: Option<String>,
    pub end_note: Option<String>,
    pub requested_at_us: i64,
    pub accepted_at_us: Option<i64>,
    pub ended_at_us: Option<i64>,
    pub changed_at_us: i64,
    pub keep_until: Date,
    /// A long prescription the doctor asked the patient to confirm: its weeks, when
    /// asked, when confirmed.
    pub long_weeks: Option<i64>,
    pub long_asked_at_us: Option<i64>,
    pub long_confirmed_at_us: Option<i64>,
}

/// An image as a message lists it (without its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: i64,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub id: i64,
    /// `resident` or `doctor`.
    pub sender: String,
    pub staff_id: Option<i64>,
    pub staff_name: Option<String>,
    pub body: String,
    pub sent_at_us: i64,
    pub keep_until: Date,
    pub images: Vec<ImageInfo>,
}

/// A message to add, guarded by the visit's status.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub visit_id: i64,
    pub from_status: VisitStatus,
    pub sender: &'static str,
    pub staff_id: Option<i64>,
    pub body: &'a str,
    pub images: Vec<NewImage>,
    pub keep_until: Date,
    pub now_us: i64,
}

/// A step that moves a visit, guarded by the status (and doctor) it was decided on.
#[derive(Debug, Clone)]
pub struct VisitChange<'a> {
    pub visit_id: i64,
    pub from_status: VisitStatus,
    pub to_status: VisitStatus,
    /// The doctor who takes it (`accept`) or must hold it (the doctor's other steps).
    pub doctor_staff_id: Option<i64>,
    pub end_reason: Option<&'a str>,
    pub end_note: Option<&'a str>,
    pub now_us: i64,
}

/// A long-prescription step of a visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LongStep {
    Ask {
        weeks: i64,
    },
    /// What the resident was shown: the weeks and when they were asked.
    Confirm {
        weeks: i64,
        asked_at_us: i64,
    },
}

/// A document a doctor accepts as an offline diagnosis.
#[derive(Debug, Clone)]
pub struct AcceptedDocument<'a> {
    pub visit_id: i64,
    pub resident_id: i64,
    pub image_id: i64,
    pub icd10: &'a str,
    pub institution_id: i64,
    pub staff_id: i64,
    /// The visit's disease and basis from now on.
    pub basis: &'a str,
    pub now_us: i64,
}

/// An offline diagnosis found on file: the code, the institution's name, when (µs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnosisOnFile {
    pub icd10: String,
    pub institution: String,
    pub at_us: i64,
}

const COLUMNS: &str = "v.id, v.resident_id, r.name AS resident_name, v.destination, v.institution_id,
    i.name AS institution_name, v.team_id, v.disease_icd10, v.complaint, v.basis, v.status, v.doctor_staff_id,
    s.name AS doctor_name, v.prescription_id, v.end_reason, v.end_note, v.requested_at_us, v.accepted_at_us,
    v.ended_at_us, v.changed_at_us, v.keep_until, v.long_weeks, v.long_asked_at_us, v.long_confirmed_at_us";
const FROM: &str = "FROM online_visits v JOIN residents r ON r.id = v.resident_id
    JOIN institutions i ON i.id = v.institution_id LEFT JOIN staff s ON s.id = v.doctor_staff_id";

fn visit(row: &impl RowExt) -> Result<VisitRecord> {
    Ok(VisitRecord {
        id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        resident_name: row.text("resident_name")?,
        destination: row.text("destination")?,
        institution_id: row.i64("institution_id")?,
        institution_name: row.text("institution_name")?,
        team_id: row.opt_i64("team_id")?,
        disease_icd10: row.opt_text("disease_icd10")?,
        complaint: row.text("complaint")?,
        basis: row.opt_text("basis")?,
        status: VisitStatus::parse(&row.text("status")?)
            .ok_or_else(|| StoreError::Corrupt("online visit status".into()))?,
        doctor_staff_id: row.opt_i64("doctor_staff_id")?,
        doctor_name: row.opt_text("doctor_name")?,
        prescription_id: row.opt_i64("prescription_id")?,
        end_reason: row.opt_text("end_reason")?,
        end_note: row.opt_text("end_note")?,
        requested_at_us: row.i64("requested_at_us")?,
        accepted_at_us: row.opt_i64("accepted_at_us")?,
        ended_at_us: row.opt_i64("ended_at_us")?,
        changed_at_us: row.i64("changed_at_us")?,
        keep_until: row.date("keep_until")?,
        long_weeks: row.opt_i64("long_weeks")?,
        long_asked_at_us: row.opt_i64("long_asked_at_us")?,
        long_confirmed_at_us: row.opt_i64("long_confirmed_at_us")?,
    })
}

/// Inserts a message and its images in `$tx`; evaluates to the message's id.
macro_rules! insert_message {
    ($tx:ident, $visit:expr, $sender:expr, $staff:expr, $body:expr, $images:expr, $keep:expr, $now:expr) => {{
        let (message_id,): (i64,) = sqlx::query_as(
            "INSERT INTO online_visit_messages (visit_id, sender, staff_id, body, sent_at_us, keep_until)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind($visit).bind($sender).bind($staff).bind($body).bind($now).bind($keep)
        .fetch_one(&mut *$tx).await?;
        for image in $images {
            sqlx::query(
                "INSERT INTO online_visit_images (visit_id, message_id, content_type, size_bytes, sha256, data)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind($visit).bind(message_id).bind(image.content_type).bind(image.bytes.len() as i64)
            .bind(&image.sha256[..]).bind(&image.bytes[..])
            .execute(&mut *$tx).await?;
        }
        message_id
    }};
}

impl Store {
    /// Records a request: the care relationship, the visit and its first message (the
    /// complaint with its images), in one transaction.
    pub async fn insert_online_visit(&self, n: &NewVisit, audit: &[AuditEntry]) -> Result<i64> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (care_id,): (i64,) = sqlx::query_as(
                "INSERT INTO care_relationships (resident_id, institution_id, kind, opened_at_us, until_us)
                 VALUES ($1, $2, 'online_visit', $3, $4) RETURNING id",
            )
            .bind(n.resident_id).bind(n.institution_id).bind(n.now_us).bind(n.now_us + WAITING_ACCESS_US)
            .fetch_one(&mut *tx).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO online_visits (resident_id, destination, institution_id, team_id, disease_icd10, complaint,
                     basis, status, care_relationship_id, requested_at_us, changed_at_us, keep_until)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'waiting', $8, $9, $9, $10) RETURNING id",
            )
            .bind(n.resident_id).bind(n.destination).bind(n.institution_id).bind(n.team_id)
            .bind(n.disease_icd10.as_deref()).bind(&n.complaint).bind(n.basis.as_deref()).bind(care_id)
            .bind(n.now_us).bind(n.keep_until)
            .fetch_one(&mut *tx).await?;
            insert_message!(tx, id, "resident", None::<i64>, &n.complaint, &n.images, n.chat_keep_until, n.now_us);
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            Ok(id)
        })
    }

    /// A visit by id.
    pub async fn online_visit(&self, id: i64) -> Result<VisitRecord> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE v.id = $1");
        on_read!(self, pool => {
            let row = sqlx::query(crate::row::trusted(&sql))
                .bind(id)
                .fetch_optional(pool).await?
                .ok_or(StoreError::NotFound)?;
            visit(&row)
        })
    }

    /// A visit's messages, oldest first, each with its images (without bytes).
    pub async fn online_visit_messages(&self, visit_id: i64) -> Result<Vec<MessageRecord>> {
        on_read!(self, pool => {
            let mut messages = sqlx::query(
                "SELECT m.id, m.sender, m.staff_id, s.name AS staff_name, m.body, m.sent_at_us, m.keep_until
                 FROM online_visit_messages m LEFT JOIN staff s ON s.id = m.staff_id
                 WHERE m.visit_id = $1 ORDER BY m.id",
            )
            .bind(visit_id)
            .fetch_all(pool).await?
            .iter()
            .map(|row| {
                Ok(MessageRecord {
                    id: row.i64("id")?,
                    sender: row.text("sender")?,
                    staff_id: row.opt_i64("staff_id")?,
                    staff_name: row.opt_text("staff_name")?,
                    body: row.text("body")?,
                    sent_at_us: row.i64("sent_at_us")?,
                    keep_until: row.date("keep_until")?,
                    images: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
            let images = sqlx::query(
                "SELECT id, message_id, content_type, size_bytes, sha256 FROM online_visit_images
                 WHERE visit_id = $1 ORDER BY id",
            )
            .bind(visit_id)
            .fetch_all(pool).await?;
            for row in &images {
                let message_id = row.i64("message_id")?;
                if let Some(m) = messages.iter_mut().find(|m| m.id == message_id) {
                    m.images.push(ImageInfo {
                        id: row.i64("id")?,
                        content_type: row.text("content_type")?,
                        size_bytes: row.i64("size_bytes")?,
                        sha256: hash32(row, "sha256")?,
                    });
                }
            }
            Ok(messages)
        })
    }

    /// An image: its visit, type and bytes.
    pub async fn online_visit_image(&self, image_id: i64) -> Result<(i64, String, Vec<u8>)> {
        on_read!(self, pool => {
            let row = sqlx::query("SELECT visit_id, content_type, data FROM online_visit_images WHERE id = $1")
                .bind(image_id)
                .fetch_optional(pool).await?
                .ok_or(StoreError::NotFound)?;
            Ok((row.i64("visit_id")?, row.text("content_type")?, row.bytes("data")?))
        })
    }

    /// Adds a message, only while the visit is at `from_status` (else
    /// [`StoreError::Changed`]); a doctor's message only while they hold the visit.
    pub async fn add_online_visit_message(
        &self,
        m: &NewMessage<'_>,
        audit: &[AuditEntry],
    ) -> Result<i64> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE online_visits SET changed_at_us = $1
                 WHERE id = $2 AND status = $3 AND ($4 IS NULL OR doctor_staff_id = $4)",
            )
            .bind(m.now_us).bind(m.visit_id).bind(m.from_status.code()).bind(m.staff_id)
            .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Changed("online_visit"));
            }
            let id = insert_message!(tx, m.visit_id, m.sender, m.staff_id, m.body, &m.images, m.keep_until, m.now_us);
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Records a long-prescription step with its message: the doctor asks (`Ask`,
    /// while they hold the open visit; a new ask wants a new confirmation) or the
    /// resident confirms what they were shown (`Confirm`: only that ask — its weeks and
    /// time — and only once).
    pub async fn long_confirmation_step(
        &self,
        m: &NewMessage<'_>,
        step: LongStep,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = match step {
                LongStep::Ask { weeks } => sqlx::query(
                    "UPDATE online_visits SET long_weeks = $1, long_asked_at_us = $2, long_confirmed_at_us = NULL,
                         changed_at_us = $2
                     WHERE id = $3 AND status = 'open' AND doctor_staff_id = $4",
                )
                .bind(weeks).bind(m.now_us).bind(m.visit_id).bind(m.staff_id)
                .execute(&mut *tx).await?,
                LongStep::Confirm { weeks, asked_at_us } => sqlx::query(
                    "UPDATE online_visits SET long_confirmed_at_us = $1, changed_at_us = $1
                     WHERE id = $2 AND status = 'open' AND long_weeks = $3 AND long_asked_at_us = $4
                       AND long_confirmed_at_us IS NULL",
                )
                .bind(m.now_us).bind(m.visit_id).bind(weeks).bind(asked_at_us)
                .execute(&mut *tx).await?,
            };
            if done.rows_affected() == 0 {
                return Err(StoreError::Changed("online_visit"));
            }
            insert_message!(tx, m.visit_id, m.sender, m.staff_id, m.body, &m.images, m.keep_until, m.now_us);
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Moves a visit, only from `from_status` (and, for a doctor's step on a visit they
    /// hold, only while they hold it); an ending closes the care relationship.
    pub async fn change_online_visit(
        &self,
        c: &VisitChange<'_>,
        audit: &[AuditEntry],
    ) -> Result<()> {
        let accepting = c.from_status == VisitStatus::Waiting && c.to_status == VisitStatus::Open;
        let ending = !c.to_status.is_open();
        let guard_doctor = c.from_status == VisitStatus::Open && c.doctor_staff_id.is_some();
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE online_visits SET status = $1, changed_at_us = $2,
                     doctor_staff_id = CASE WHEN $3 THEN $4 ELSE doctor_staff_id END,
                     accepted_at_us = CASE WHEN $3 THEN $2 ELSE accepted_at_us END,
                     ended_at_us = CASE WHEN $5 THEN $2 ELSE ended_at_us END,
                     end_reason = COALESCE($6, end_reason), end_note = COALESCE($7, end_note)
                 WHERE id = $8 AND status = $9 AND (NOT $10 OR doctor_staff_id = $4)",
            )
            .bind(c.to_status.code()).bind(c.now_us).bind(accepting).bind(c.doctor_staff_id).bind(ending)
            .bind(c.end_reason).bind(c.end_note).bind(c.visit_id).bind(c.from_status.code()).bind(guard_doctor)
            .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Changed("online_visit"));
            }
            if ending {
                sqlx::query(
                    "UPDATE care_relationships SET closed_at_us = $1
                     WHERE id = (SELECT care_relationship_id FROM online_visits WHERE id = $2) AND closed_at_us IS NULL",
                )
                .bind(c.now_us).bind(c.visit_id)
                .execute(&mut *tx).await?;
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Keeps a document a doctor accepted as an offline diagnosis and makes it the
    /// visit's basis, while the doctor holds the open visit.
    pub async fn accept_offline_document(
        &self,
        d: &AcceptedDocument<'_>,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE online_visits SET disease_icd10 = $1, basis = $2, changed_at_us = $3
                 WHERE id = $4 AND status = 'open' AND doctor_staff_id = $5
                   AND EXISTS (SELECT 1 FROM online_visit_images g JOIN online_visit_messages m ON m.id = g.message_id
                               WHERE g.id = $6 AND g.visit_id = $4 AND m.sender = 'resident')",
            )
            .bind(d.icd10).bind(d.basis).bind(d.now_us).bind(d.visit_id).bind(d.staff_id).bind(d.image_id)
            .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Changed("online_visit"));
            }
            // The document is part of the record now: kept as long as the visit.
            sqlx::query(
                "UPDATE online_visit_messages SET keep_until = (SELECT v.keep_until FROM online_visits v WHERE v.id = $1)
                 WHERE id = (SELECT g.message_id FROM online_visit_images g WHERE g.id = $2)",
            )
            .bind(d.visit_id).bind(d.image_id)
            .execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO offline_diagnosis_documents (resident_id, icd10, visit_id, image_id, institution_id, staff_id, accepted_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(d.resident_id).bind(d.icd10).bind(d.visit_id).bind(d.image_id).bind(d.institution_id)
            .bind(d.staff_id).bind(d.now_us)
            .execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(())
        })
    }

    /// The offline diagnoses on file besides enrolments: documents doctors accepted,
    /// and referrals the hospital returned with a plan (by the referral's programme).
    pub async fn offline_diagnoses_on_file(
        &self,
        resident_id: i64,
    ) -> Result<(Vec<DiagnosisOnFile>, Vec<(String, DiagnosisOnFile)>)> {
        on_read!(self, pool => {
            let documents = sqlx::query(
                "SELECT d.icd10, i.name, d.accepted_at_us FROM offline_diagnosis_documents d
                 JOIN institutions i ON i.id = d.institution_id WHERE d.resident_id = $1 ORDER BY d.id",
            )
            .bind(resident_id)
            .fetch_all(pool).await?
            .iter()
            .map(|row| Ok(DiagnosisOnFile {
                icd10: row.text("icd10")?,
                institution: row.text("name")?,
                at_us: row.i64("accepted_at_us")?,
            }))
            .collect::<Result<Vec<_>>>()?;
            let returns = sqlx::query(
                "SELECT f.disease, i.name, f.changed_at_us FROM referrals f JOIN institutions i ON i.id = f.to_institution_id
                 WHERE f.resident_id = $1 AND f.status = 'returned' AND f.return_plan IS NOT NULL ORDER BY f.id",
            )
            .bind(resident_id)
            .fetch_all(pool).await?
            .iter()
            .map(|row| Ok((row.text("disease")?, DiagnosisOnFile {
                icd10: String::new(),
                institution: row.text("name")?,
                at_us: row.i64("changed_at_us")?,
            })))
            .collect::<Result<Vec<_>>>()?;
            Ok((documents, returns))
        })
    }

    /// A resident's visits, newest first.
    pub async fn resident_online_visits(
        &self,
        resident_id: i64,
        limit: u32,
    ) -> Result<Vec<VisitRecord>> {
        let sql =
            format!("SELECT {COLUMNS} {FROM} WHERE v.resident_id = $1 ORDER BY v.id DESC LIMIT $2");
        on_read!(self, pool => {
            sqlx::query(crate::row::trusted(&sql))
                .bind(resident_id).bind(i64::from(limit))
                .fetch_all(pool).await?
                .iter()
                .map(visit)
                .collect()
        })
    }

    /// The online clinic's queue at an institution: visits waiting, oldest first, and
    /// how many wait in all; with `doctor`, also the open visits that doctor holds.
    pub async fn online_visit_queue(
        &self,
        institution_id: i64,
        doctor_staff_id: i64,
        limit: u32,
    ) -> Result<(Vec<VisitRecord>, Vec<VisitRecord>, i64)> {
        let waiting_sql = format!(
            "SELECT {COLUMNS} {FROM} WHERE v.institution_id = $1 AND v.status = 'waiting'
             ORDER BY v.requested_at_us, v.id LIMIT $2"
        );
        let held_sql = format!(
            "SELECT {COLUMNS} {FROM} WHERE v.doctor_staff_id = $1 AND v.status = 'open'
             ORDER BY v.accepted_at_us, v.id LIMIT $2"
        );
        on_read!(self, pool => {
            let waiting = sqlx::query(crate::row::trusted(&waiting_sql))
                .bind(institution_id).bind(i64::from(limit))
                .fetch_all(pool).await?
                .iter()
                .map(visit)
                .collect::<Result<Vec<_>>>()?;
            let held = sqlx::query(crate::row::trusted(&held_sql))
                .bind(doctor_staff_id).bind(i64::from(limit))
                .fetch_all(pool).await?
                .iter()
                .map(visit)
                .collect::<Result<Vec<_>>>()?;
            let (count,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM online_visits WHERE institution_id = $1 AND status = 'waiting'",
            )
            .bind(institution_id)
            .fetch_one(pool).await?;
            Ok((waiting, held, count))
        })
    }

    /// Opens a doctor's online clinic until `until_us` (audited with it).
    pub async fn open_online_clinic(
        &self,
        staff_id: i64,
        institution_id: i64,
        now_us: i64,
        until_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO online_clinic_sessions (staff_id, institution_id, opened_at_us, until_us) VALUES ($1, $2, $3, $4)",
            )
            .bind(staff_id).bind(institution_id).bind(now_us).bind(until_us)
            .execute(&mut *tx).await?;
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Until when the doctor's online clinic at the institution is open, if it is.
    pub async fn online_clinic_open_until(
        &self,
        staff_id: i64,
        institution_id: i64,
        now_us: i64,
    ) -> Result<Option<i64>> {
        on_read!(self, pool => {
            let (until,): (Option<i64>,) = sqlx::query_as(
                "SELECT MAX(until_us) FROM online_clinic_sessions
                 WHERE staff_id = $1 AND institution_id = $2 AND until_us > $3",
            )
            .bind(staff_id).bind(institution_id).bind(now_us)
            .fetch_one(pool).await?;
            Ok(until)
        })
    }
}
