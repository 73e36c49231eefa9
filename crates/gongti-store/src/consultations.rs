//! Remote consultations (DOMAIN.md §3): the request with its files and the consulted
//! hospital's care relationship in one transaction; the answer and the close guarded by
//! the status they were decided on; the lists of both sides and of a resident.

use gongti_core::audit::AuditEntry;
use gongti_core::consultation::ConsultationStatus;

use crate::outbox::{created, stage_audit};
use crate::row::{RowExt, hash32, trusted};
use crate::{Page, Result, Store, StoreError, on_read, on_write};

#[derive(Debug, Clone)]
pub struct NewConsultation {
    pub resident_id: i64,
    pub from_institution_id: i64,
    pub from_staff_id: i64,
    pub to_institution_id: i64,
    pub to_department_id: i64,
    pub to_staff_id: Option<i64>,
    pub question: String,
    pub video_at_us: Option<i64>,
    /// (file name, content type, SHA-256, bytes)
    pub files: Vec<(String, String, [u8; 32], Vec<u8>)>,
    pub now_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub id: i64,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsultationRecord {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub status: ConsultationStatus,
    pub from_institution_id: i64,
    pub from_institution_name: String,
    pub from_staff_id: i64,
    pub from_staff_name: String,
    pub to_institution_id: i64,
    pub to_institution_name: String,
    pub to_department_id: i64,
    pub to_department_name: String,
    pub to_staff_id: Option<i64>,
    pub question: String,
    pub video_at_us: Option<i64>,
    pub opinion: Option<String>,
    pub answered_by_staff_id: Option<i64>,
    pub answered_at_us: Option<i64>,
    pub files: Vec<FileInfo>,
    pub created_at_us: i64,
    pub changed_at_us: i64,
    pub version: crate::Version,
}

/// Which consultations a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsultationBox {
    /// Asked of an institution and still open.
    Inbox {
        institution_id: i64,
    },
    /// Asked by an institution, any status.
    Sent {
        institution_id: i64,
    },
    Resident {
        resident_id: i64,
    },
}

const COLUMNS: &str = "c.id, c.resident_id, r.name AS resident_name, c.status, c.from_institution_id,
    fi.name AS from_institution_name, c.from_staff_id, fs.name AS from_staff_name, c.to_institution_id,
    ti.name AS to_institution_name, c.to_department_id, d.name AS to_department_name, c.to_staff_id,
    c.question, c.video_at_us, c.opinion, c.answered_by_staff_id, c.answered_at_us, c.created_at_us, c.changed_at_us,
    c.version, COALESCE(c.version_at_us, c.created_at_us) AS version_at_us";
const FROM: &str = "FROM consultations c JOIN residents r ON r.id = c.resident_id
    JOIN institutions fi ON fi.id = c.from_institution_id JOIN staff fs ON fs.id = c.from_staff_id
    JOIN institutions ti ON ti.id = c.to_institution_id JOIN departments d ON d.id = c.to_department_id";

fn consultation(row: &impl RowExt) -> Result<ConsultationRecord> {
    Ok(ConsultationRecord {
        id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        resident_name: row.text("resident_name")?,
        status: ConsultationStatus::parse(&row.text("status")?)
            .ok_or_else(|| StoreError::Corrupt("consultation status".into()))?,
        from_institution_id: row.i64("from_institution_id")?,
        from_institution_name: row.text("from_institution_name")?,
        from_staff_id: row.i64("from_staff_id")?,
        from_staff_name: row.text("from_staff_name")?,
        to_institution_id: row.i64("to_institution_id")?,
        to_institution_name: row.text("to_institution_name")?,
        to_department_id: row.i64("to_department_id")?,
        to_department_name: row.text("to_department_name")?,
        to_staff_id: row.opt_i64("to_staff_id")?,
        question: row.text("question")?,
        video_at_us: row.opt_i64("video_at_us")?,
        opinion: row.opt_text("opinion")?,
        answered_by_staff_id: row.opt_i64("answered_by_staff_id")?,
        answered_at_us: row.opt_i64("answered_at_us")?,
        files: Vec::new(),
        created_at_us: row.i64("created_at_us")?,
        changed_at_us: row.i64("changed_at_us")?,
        version: crate::Version::of(row)?,
    })
}

impl Store {
    /// The institution (and its kind) a department belongs to.
    pub async fn department_home(&self, department_id: i64) -> Result<(i64, String)> {
        on_read!(self, pool => {
            sqlx::query_as(
                "SELECT i.id, i.kind FROM departments d JOIN institutions i ON i.id = d.institution_id WHERE d.id = $1",
            )
            .bind(department_id)
            .fetch_optional(pool).await?
            .ok_or(StoreError::NotFound)
        })
    }

    /// Records a consultation request, its files and the consulted hospital's care
    /// relationship in one transaction.
    pub async fn insert_consultation(
        &self,
        n: &NewConsultation,
        audit: &[AuditEntry],
    ) -> Result<i64> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (care_id,): (i64,) = sqlx::query_as(
                "INSERT INTO care_relationships (resident_id, institution_id, kind, opened_at_us)
                 VALUES ($1, $2, 'consultation', $3) RETURNING id",
            )
            .bind(n.resident_id).bind(n.to_institution_id).bind(n.now_us)
            .fetch_one(&mut *tx).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO consultations (resident_id, status, from_institution_id, from_staff_id, to_institution_id,
                     to_department_id, to_staff_id, question, video_at_us, care_relationship_id, created_at_us, changed_at_us)
                 VALUES ($1, 'requested', $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
            )
            .bind(n.resident_id).bind(n.from_institution_id).bind(n.from_staff_id).bind(n.to_institution_id)
            .bind(n.to_department_id).bind(n.to_staff_id).bind(&n.question).bind(n.video_at_us).bind(care_id)
            .bind(n.now_us)
            .fetch_one(&mut *tx).await?;
            for (name, content_type, hash, bytes) in &n.files {
                sqlx::query(
                    "INSERT INTO consultation_files (consultation_id, filename, content_type, size_bytes, sha256, data, created_at_us)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(id).bind(name).bind(content_type).bind(bytes.len() as i64).bind(&hash[..]).bind(&bytes[..])
                .bind(n.now_us)
                .execute(&mut *tx).await?;
            }
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            Ok(id)
        })
    }

    /// A consultation's files (without their bytes).
    pub async fn consultation_files(&self, consultation_id: i64) -> Result<Vec<FileInfo>> {
        on_read!(self, pool => {
            sqlx::query(
                "SELECT id, filename, content_type, size_bytes, sha256 FROM consultation_files
                 WHERE consultation_id = $1 ORDER BY id",
            )
            .bind(consultation_id)
            .fetch_all(pool).await?
            .iter()
            .map(|row| {
                Ok(FileInfo {
                    id: row.i64("id")?,
                    filename: row.text("filename")?,
                    content_type: row.text("content_type")?,
                    size_bytes: row.i64("size_bytes")?,
                    sha256: hash32(row, "sha256")?,
                })
            })
            .collect()
        })
    }

    /// A superseded version of a consultation, with its files (`None`: not a version it
    /// had before).
    pub async fn consultation_version(
        &self,
        id: i64,
        version: i64,
    ) -> Result<Option<ConsultationRecord>> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE c.id = $1");
        let found: Option<ConsultationRecord> = crate::versions::superseded!(
            self,
            crate::Kept::Consultations,
            "c",
            &sql,
            id,
            version,
            consultation
        )?;
        match found {
            Some(mut c) => {
                c.files = self.consultation_files(id).await?;
                Ok(Some(c))
            }
            None => Ok(None),
        }
    }

    /// A consultation with its files (read through the writer: right after a change).
    pub async fn consultation(&self, id: i64) -> Result<ConsultationRecord> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE c.id = $1");
        let mut c = on_write!(self, pool => {
            consultation(&sqlx::query(trusted(&sql)).bind(id).fetch_one(pool).await?)
        })?;
        c.files = self.consultation_files(id).await?;
        Ok(c)
    }

    /// One file's bytes, with its description.
    pub async fn consultation_file(
        &self,
        consultation_id: i64,
        file_id: i64,
    ) -> Result<(FileInfo, Vec<u8>)> {
        on_read!(self, pool => {
            let row = sqlx::query(
                "SELECT id, filename, content_type, size_bytes, sha256, data FROM consultation_files
                 WHERE consultation_id = $1 AND id = $2",
            )
            .bind(consultation_id).bind(file_id)
            .fetch_one(pool).await?;
            Ok((
                FileInfo {
                    id: row.i64("id")?,
                    filename: row.text("filename")?,
                    content_type: row.text("content_type")?,
                    size_bytes: row.i64("size_bytes")?,
                    sha256: hash32(&row, "sha256")?,
                },
                row.bytes("data")?,
            ))
        })
    }

    /// Moves a consultation from `from` to `to` (with the opinion when answering); a
    /// status that is no longer open ends the consulted hospital's access.
    pub async fn change_consultation(
        &self,
        id: i64,
        from: ConsultationStatus,
        to: ConsultationStatus,
        opinion: Option<(&str, i64)>,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE consultations SET status = $1, changed_at_us = $2,
                     opinion = COALESCE($3, opinion), answered_by_staff_id = COALESCE($4, answered_by_staff_id),
                     answered_at_us = CASE WHEN $3 IS NULL THEN answered_at_us ELSE $2 END
                 WHERE id = $5 AND status = $6",
            )
            .bind(to.code()).bind(now_us).bind(opinion.map(|o| o.0)).bind(opinion.map(|o| o.1))
            .bind(id).bind(from.code())
            .execute(&mut *tx).await?;
            if done.rows_affected() != 1 {
                return Err(StoreError::Changed("consultation"));
            }
            if !to.is_open() {
                sqlx::query(
                    "UPDATE care_relationships SET closed_at_us = $1
                     WHERE id = (SELECT care_relationship_id FROM consultations WHERE id = $2) AND closed_at_us IS NULL",
                )
                .bind(now_us).bind(id).execute(&mut *tx).await?;
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// A box of consultations, newest first (files not loaded).
    pub async fn consultations(
        &self,
        which: ConsultationBox,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<ConsultationRecord>> {
        let (filter, key) = match which {
            ConsultationBox::Inbox { institution_id } => (
                "c.to_institution_id = $2 AND c.status IN ('requested', 'answered')",
                institution_id,
            ),
            ConsultationBox::Sent { institution_id } => {
                ("c.from_institution_id = $2", institution_id)
            }
            ConsultationBox::Resident { resident_id } => ("c.resident_id = $2", resident_id),
        };
        let sql = format!(
            "SELECT {COLUMNS} {FROM} WHERE {filter} AND ($1 IS NULL OR c.id < $1) ORDER BY c.id DESC LIMIT $3"
        );
        let rows: Vec<ConsultationRecord> = on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(after).bind(key).bind(i64::from(limit) + 1)
                .fetch_all(pool).await?.iter().map(consultation).collect::<Result<_>>()
        })?;
        Ok(Page::from_overfetch(rows, limit, |c| c.id))
    }
}
