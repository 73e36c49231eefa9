//! Issued prescriptions (DOMAIN.md §4): the row that says where one stands, every
//! signed version, every step of its review. A step is taken only from the status and
//! version it was decided on (a guarded update), so two pharmacists never both decide
//! the same prescription and a decision never lands on a version it did not see.

use gongti_core::audit::AuditEntry;

use crate::outbox::stage_audit;
use crate::row::{RowExt, trusted};
use crate::{Page, Result, Store, StoreError, on_read, on_write};

/// A version as signed by its prescriber, with the check's judgement of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedVersion {
    pub content: String,
    pub digest: String,
    pub signature: String,
    pub signer_key: String,
    pub verdict: String,
    pub ruleset_version: String,
    /// The findings as JSON.
    pub findings: String,
    /// The queue rank its findings give (0 high … 3 none).
    pub queue_rank: i64,
}

/// A signing key used for the first time (recorded with the signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUse<'a> {
    pub public_key: &'a str,
    pub staff_id: i64,
    pub data_key_id: i64,
}

/// A prescription to issue.
#[derive(Debug, Clone, Copy)]
pub struct NewPrescription<'a> {
    pub resident_id: i64,
    pub institution_id: i64,
    pub prescriber_staff_id: i64,
    pub channel: &'a str,
    /// The online visit it is written in: the visit ends as prescribed in the same
    /// transaction, only while the prescriber holds it open.
    pub online_visit_id: Option<i64>,
    pub now_us: i64,
    pub key: KeyUse<'a>,
}

/// Where a prescription stands, with the names a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrescriptionRecord {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub institution_id: i64,
    pub institution_name: String,
    pub prescriber_staff_id: i64,
    pub prescriber_name: String,
    pub status: String,
    pub version: i64,
    pub channel: String,
    pub queue_rank: i64,
    pub confirmed: bool,
    pub waiting_since_us: i64,
    pub issued_at_us: i64,
    pub changed_at_us: i64,
    /// Where it was sent once passed (or the pharmacy that filled it), pickup or
    /// delivery, and the delivery address.
    pub pharmacy_id: Option<i64>,
    pub fulfilment: Option<String>,
    pub delivery_address: Option<String>,
    /// The online visit it was written in (互联网复诊).
    pub online_visit_id: Option<i64>,
}

/// One kept version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    pub version: i64,
    pub content: String,
    pub digest: String,
    pub signature: String,
    pub signer_key: String,
    pub verdict: String,
    pub ruleset_version: String,
    pub findings: String,
    pub at_us: i64,
}

/// One step of the review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub id: i64,
    pub version: i64,
    pub step: String,
    /// The status the step left.
    pub status: String,
    pub staff_id: i64,
    pub staff_name: String,
    pub reason: Option<String>,
    pub signature: Option<String>,
    pub signer_key: Option<String>,
    pub at_us: i64,
}

/// A step to record, taken from `from_status` at `from_version`.
#[derive(Debug, Clone)]
pub struct StepChange<'a> {
    pub prescription_id: i64,
    pub from_status: &'a str,
    pub from_version: i64,
    pub step: &'a str,
    pub to_status: &'a str,
    pub staff_id: i64,
    pub reason: Option<&'a str>,
    /// The step's signature and the key's first use, when the step is signed.
    pub signature: Option<(&'a str, KeyUse<'a>)>,
    /// Whether the prescriber has confirmed the (resulting) version's findings.
    pub confirmed: bool,
    /// Whether the step puts the prescription back in the queue (now).
    pub requeue: bool,
    /// A new version (a revision), signed.
    pub new_version: Option<&'a SignedVersion>,
    pub now_us: i64,
}

/// Which prescriptions a list holds.
#[derive(Debug, Clone, Default)]
pub struct PrescriptionFilter {
    pub status: Option<String>,
    pub prescriber_staff_id: Option<i64>,
    pub resident_id: Option<i64>,
    /// Only these institutions' prescriptions (`None`: every institution).
    pub institution_id: Option<i64>,
}

/// A position in the pharmacists' queue: rank, waiting since, id.
pub type QueueKey = (i64, i64, i64);

const COLUMNS: &str = "p.id, p.resident_id, r.name AS resident_name, p.institution_id,
    i.name AS institution_name, p.prescriber_staff_id, s.name AS prescriber_name, p.status,
    p.version, p.channel, p.queue_rank, p.confirmed, p.waiting_since_us, p.issued_at_us,
    p.changed_at_us, p.pharmacy_id, p.fulfilment, p.delivery_address, p.online_visit_id";
const FROM: &str = "FROM prescriptions p JOIN residents r ON r.id = p.resident_id
    JOIN institutions i ON i.id = p.institution_id JOIN staff s ON s.id = p.prescriber_staff_id";

fn record(row: &impl RowExt) -> Result<PrescriptionRecord> {
    Ok(PrescriptionRecord {
        id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        resident_name: row.text("resident_name")?,
        institution_id: row.i64("institution_id")?,
        institution_name: row.text("institution_name")?,
        prescriber_staff_id: row.i64("prescriber_staff_id")?,
        prescriber_name: row.text("prescriber_name")?,
        status: row.text("status")?,
        version: row.i64("version")?,
        channel: row.text("channel")?,
        queue_rank: row.i64("queue_rank")?,
        confirmed: row.bool("confirmed")?,
        waiting_since_us: row.i64("waiting_since_us")?,
        issued_at_us: row.i64("issued_at_us")?,
        changed_at_us: row.i64("changed_at_us")?,
        pharmacy_id: row.opt_i64("pharmacy_id")?,
        fulfilment: row.opt_text("fulfilment")?,
        delivery_address: row.opt_text("delivery_address")?,
        online_visit_id: row.opt_i64("online_visit_id")?,
    })
}

fn version(row: &impl RowExt) -> Result<VersionRecord> {
    Ok(VersionRecord {
        version: row.i64("version")?,
        content: row.text("content")?,
        digest: row.text("digest")?,
        signature: row.text("signature")?,
        signer_key: row.text("signer_key")?,
        verdict: row.text("verdict")?,
        ruleset_version: row.text("ruleset_version")?,
        findings: row.text("findings")?,
        at_us: row.i64("at_us")?,
    })
}

fn step(row: &impl RowExt) -> Result<StepRecord> {
    Ok(StepRecord {
        id: row.i64("id")?,
        version: row.i64("version")?,
        step: row.text("step")?,
        status: row.text("status")?,
        staff_id: row.i64("staff_id")?,
        staff_name: row.text("staff_name")?,
        reason: row.opt_text("reason")?,
        signature: row.opt_text("signature")?,
        signer_key: row.opt_text("signer_key")?,
        at_us: row.i64("at_us")?,
    })
}

/// Records a signing key's public half the first time it signs.
macro_rules! note_key {
    ($tx:ident, $key:expr, $now_us:expr) => {{
        let key: KeyUse<'_> = $key;
        sqlx::query(
            "INSERT INTO signing_keys (public_key, staff_id, data_key_id, first_used_us)
             VALUES ($1, $2, $3, $4) ON CONFLICT (public_key) DO NOTHING",
        )
        .bind(key.public_key)
        .bind(key.staff_id)
        .bind(key.data_key_id)
        .bind($now_us)
        .execute(&mut *$tx)
        .await?;
    }};
}

const INSERT_VERSION: &str = "INSERT INTO prescription_versions (prescription_id, version, content,
    digest, signature, signer_key, verdict, ruleset_version, findings, at_us)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const INSERT_STEP: &str = "INSERT INTO prescription_steps (prescription_id, version, step, status,
    staff_id, reason, signature, signer_key, at_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

impl Store {
    /// Issues a prescription in one transaction: its row, its first version (signed by
    /// `sign` once the id is known), the `issue` step and the audit records `audit`
    /// gives for the id. Returns the id.
    pub async fn issue_prescription(
        &self,
        n: &NewPrescription<'_>,
        sign: impl FnOnce(i64) -> SignedVersion,
        audit: impl FnOnce(i64) -> Vec<AuditEntry>,
    ) -> Result<i64> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO prescriptions (resident_id, institution_id, prescriber_staff_id, status, version,
                     channel, queue_rank, waiting_since_us, issued_at_us, changed_at_us)
                 VALUES ($1, $2, $3, 'pending_review', 1, $4, 3, $5, $5, $5) RETURNING id",
            )
            .bind(n.resident_id).bind(n.institution_id).bind(n.prescriber_staff_id).bind(n.channel)
            .bind(n.now_us)
            .fetch_one(&mut *tx).await?;
            if let Some(visit_id) = n.online_visit_id {
                let done = sqlx::query(
                    "UPDATE online_visits SET status = 'prescribed', prescription_id = $1, ended_at_us = $2, changed_at_us = $2
                     WHERE id = $3 AND status = 'open' AND doctor_staff_id = $4 AND resident_id = $5",
                )
                .bind(id).bind(n.now_us).bind(visit_id).bind(n.prescriber_staff_id).bind(n.resident_id)
                .execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Changed("online_visit"));
                }
                sqlx::query("UPDATE prescriptions SET online_visit_id = $1 WHERE id = $2")
                    .bind(visit_id).bind(id).execute(&mut *tx).await?;
                sqlx::query(
                    "UPDATE care_relationships SET until_us = $1
                     WHERE id = (SELECT care_relationship_id FROM online_visits WHERE id = $2) AND closed_at_us IS NULL",
                )
                .bind(n.now_us + super::visits::PRESCRIBED_ACCESS_US).bind(visit_id)
                .execute(&mut *tx).await?;
            }
            let v = sign(id);
            sqlx::query("UPDATE prescriptions SET queue_rank = $1 WHERE id = $2")
                .bind(v.queue_rank).bind(id).execute(&mut *tx).await?;
            sqlx::query(INSERT_VERSION)
                .bind(id).bind(1_i64).bind(&v.content).bind(&v.digest).bind(&v.signature)
                .bind(&v.signer_key).bind(&v.verdict).bind(&v.ruleset_version).bind(&v.findings)
                .bind(n.now_us)
                .execute(&mut *tx).await?;
            sqlx::query(INSERT_STEP)
                .bind(id).bind(1_i64).bind("issue").bind("pending_review").bind(n.prescriber_staff_id)
                .bind(None::<String>).bind(Some(v.signature.as_str())).bind(Some(v.signer_key.as_str()))
                .bind(n.now_us)
                .execute(&mut *tx).await?;
            note_key!(tx, n.key, n.now_us);
            stage_audit!(tx, &audit(id));
            tx.commit().await?;
            Ok(id)
        })
    }

    /// Records a step, only if the prescription is still at `from_status` and
    /// `from_version` (else [`StoreError::Changed`]), with its audit records.
    pub async fn record_prescription_step(
        &self,
        c: &StepChange<'_>,
        audit: &[AuditEntry],
    ) -> Result<()> {
        let version = c.from_version + i64::from(c.new_version.is_some());
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE prescriptions SET status = $1, version = $2, confirmed = $3,
                     waiting_since_us = CASE WHEN $4 THEN $5 ELSE waiting_since_us END,
                     queue_rank = COALESCE($6, queue_rank), changed_at_us = $5
                 WHERE id = $7 AND status = $8 AND version = $9
                   AND (NOT $10 OR NOT EXISTS (SELECT 1 FROM insurance_settlements s
                        WHERE s.prescription_id = $7 AND s.status = 'settled'))",
            )
            .bind(c.to_status).bind(version).bind(c.confirmed).bind(c.requeue).bind(c.now_us)
            .bind(c.new_version.map(|v| v.queue_rank)).bind(c.prescription_id).bind(c.from_status)
            .bind(c.from_version).bind(c.to_status == "cancelled")
            .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Changed("prescription"));
            }
            if let Some(v) = c.new_version {
                sqlx::query(INSERT_VERSION)
                    .bind(c.prescription_id).bind(version).bind(&v.content).bind(&v.digest)
                    .bind(&v.signature).bind(&v.signer_key).bind(&v.verdict).bind(&v.ruleset_version)
                    .bind(&v.findings).bind(c.now_us)
                    .execute(&mut *tx).await?;
            }
            sqlx::query(INSERT_STEP)
                .bind(c.prescription_id).bind(version).bind(c.step).bind(c.to_status).bind(c.staff_id)
                .bind(c.reason).bind(c.signature.map(|(s, _)| s)).bind(c.signature.map(|(_, k)| k.public_key))
                .bind(c.now_us)
                .execute(&mut *tx).await?;
            if let Some((_, key)) = c.signature {
                note_key!(tx, key, c.now_us);
            }
            stage_audit!(tx, audit);
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn prescription(&self, id: i64) -> Result<PrescriptionRecord> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE p.id = $1");
        on_write!(self, pool => {
            match sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await? {
                Some(row) => record(&row),
                None => Err(StoreError::NotFound),
            }
        })
    }

    /// Every version of a prescription, the first first.
    pub async fn prescription_versions(&self, id: i64) -> Result<Vec<VersionRecord>> {
        on_write!(self, pool => {
            let rows = sqlx::query(
                "SELECT version, content, digest, signature, signer_key, verdict, ruleset_version,
                     findings, at_us FROM prescription_versions WHERE prescription_id = $1 ORDER BY version",
            )
            .bind(id).fetch_all(pool).await?;
            rows.iter().map(version).collect()
        })
    }

    /// Every step of a prescription, in order.
    pub async fn prescription_steps(&self, id: i64) -> Result<Vec<StepRecord>> {
        on_write!(self, pool => {
            let rows = sqlx::query(
                "SELECT t.id, t.version, t.step, t.status, t.staff_id, s.name AS staff_name, t.reason,
                     t.signature, t.signer_key, t.at_us
                 FROM prescription_steps t JOIN staff s ON s.id = t.staff_id
                 WHERE t.prescription_id = $1 ORDER BY t.id",
            )
            .bind(id).fetch_all(pool).await?;
            rows.iter().map(step).collect()
        })
    }

    /// The staff member a public signing key belongs to, if it ever signed.
    pub async fn signing_key_owner(&self, public_key: &str) -> Result<Option<i64>> {
        let row: Option<(i64,)> = on_write!(self, pool => {
            sqlx::query_as("SELECT staff_id FROM signing_keys WHERE public_key = $1")
                .bind(public_key).fetch_optional(pool).await?
        });
        Ok(row.map(|(id,)| id))
    }

    /// The pharmacists' queue: prescriptions awaiting review, the most severe finding
    /// first, then the longest waiting; `after` continues from a position.
    pub async fn prescription_queue(
        &self,
        institution_id: Option<i64>,
        after: Option<QueueKey>,
        limit: u32,
    ) -> Result<(Vec<PrescriptionRecord>, Option<QueueKey>)> {
        let (rank, since, id) = after.unwrap_or((-1, i64::MIN, i64::MIN));
        let sql = format!(
            "SELECT {COLUMNS} {FROM} WHERE p.status = 'pending_review'
               AND ($1 IS NULL OR p.institution_id = $1)
               AND (p.queue_rank > $2 OR (p.queue_rank = $2 AND (p.waiting_since_us > $3
                    OR (p.waiting_since_us = $3 AND p.id > $4))))
             ORDER BY p.queue_rank, p.waiting_since_us, p.id LIMIT $5"
        );
        let mut items: Vec<PrescriptionRecord> = on_read!(self, pool => {
            let rows = sqlx::query(trusted(&sql))
                .bind(institution_id).bind(rank).bind(since).bind(id).bind(i64::from(limit) + 1)
                .fetch_all(pool).await?;
            rows.iter().map(record).collect::<Result<_>>()?
        });
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|p| (p.queue_rank, p.waiting_since_us, p.id))
        } else {
            None
        };
        Ok((items, next))
    }

    /// How many prescriptions await review (in one institution, or all).
    pub async fn prescriptions_waiting(&self, institution_id: Option<i64>) -> Result<i64> {
        let (n,): (i64,) = on_read!(self, pool => {
            sqlx::query_as(
                "SELECT COUNT(*) FROM prescriptions WHERE status = 'pending_review'
                   AND ($1 IS NULL OR institution_id = $1)",
            )
            .bind(institution_id).fetch_one(pool).await?
        });
        Ok(n)
    }

    /// Prescriptions by filter, the newest first.
    pub async fn prescriptions(
        &self,
        f: &PrescriptionFilter,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<PrescriptionRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} {FROM} WHERE ($1 IS NULL OR p.status = $1)
               AND ($2 IS NULL OR p.prescriber_staff_id = $2)
               AND ($3 IS NULL OR p.resident_id = $3)
               AND ($4 IS NULL OR p.institution_id = $4)
               AND ($5 IS NULL OR p.id < $5)
             ORDER BY p.id DESC LIMIT $6"
        );
        let items: Vec<PrescriptionRecord> = on_read!(self, pool => {
            let rows = sqlx::query(trusted(&sql))
                .bind(f.status.as_deref()).bind(f.prescriber_staff_id).bind(f.resident_id)
                .bind(f.institution_id).bind(after).bind(i64::from(limit) + 1)
                .fetch_all(pool).await?;
            rows.iter().map(record).collect::<Result<_>>()?
        });
        Ok(Page::from_overfetch(items, limit, |p| p.id))
    }
}
