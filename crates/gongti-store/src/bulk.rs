//! Bulk loading for the demo generator: enrolments with their maintained figures and
//! follow-ups with their verdicts, many rows per statement, one transaction per
//! call. Nothing here decides anything: the generator runs the rules first.

use gongti_core::chronic::Bp;
use time::Date;

use crate::chronic::{RiskProfile, StoredRisk};
use crate::outbox::stage_audit;
use crate::row::{RowExt, trusted};
use crate::{Result, Store, on_write};

/// Parameters per row stay well under both engines' limits per statement.
pub(crate) const PARAMS_PER_STATEMENT: usize = 4_000;

/// An enrolment as the generator built it, maintained figures included.
#[derive(Debug, Clone)]
pub struct BulkEnrolment {
    pub resident_id: i64,
    pub disease: &'static str,
    pub icd10: &'static str,
    pub diagnosed_on: Date,
    pub institution_id: i64,
    pub enrolled_on: Date,
    pub staff_id: i64,
    pub profile: RiskProfile,
    pub highest_bp: Option<Bp>,
    pub risk: Option<StoredRisk>,
    pub last_followup_on: Option<Date>,
    pub last_face_to_face_on: Option<Date>,
    pub last_classification: Option<u8>,
    pub next_due_on: Option<Date>,
    /// Ended (结案) on this day for this reason code (`EndReason`), if it has.
    pub ended: Option<(Date, &'static str)>,
}

/// A follow-up as the generator built it, verdict included.
#[derive(Debug, Clone)]
pub struct BulkFollowup {
    /// Index into the enrolments passed in the same call.
    pub enrolment: usize,
    pub method: &'static str,
    pub visit_on: Date,
    pub age_years: u8,
    pub bp: Option<Bp>,
    pub fpg_centi_mmol: Option<i32>,
    pub hba1c_centi_percent: Option<i32>,
    pub classification: Option<u8>,
    pub urgent_referral: bool,
    pub refer: bool,
    pub reasons: String,
    pub next_due_on: Date,
    pub counts_face_to_face: bool,
}

impl Store {
    /// Writes enrolments and their follow-ups in one transaction; returns the
    /// enrolment ids in the order given. `audit` gives the records of the (enrolment
    /// ids, follow-up ids) written; they commit with them.
    pub async fn insert_chronic_bulk(
        &self,
        enrolments: &[BulkEnrolment],
        followups: &[BulkFollowup],
        institution_of: &[i64],
        ruleset_version: &str,
        now_us: i64,
        audit: crate::AuditFor<'_, (Vec<i64>, Vec<i64>)>,
    ) -> Result<Vec<i64>> {
        const E_COLS: usize = 25;
        const F_COLS: usize = 20;
        let mut ids = vec![0i64; enrolments.len()];
        let mut followup_ids = Vec::with_capacity(followups.len());
        let ids = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let per = (PARAMS_PER_STATEMENT / E_COLS).max(1);
            for (chunk_index, chunk) in enrolments.chunks(per).enumerate() {
                let sql = format!(
                    "INSERT INTO chronic_enrolments (resident_id, disease, icd10, diagnosed_on, institution_id, enrolled_on,
                         enrolled_by_staff_id, smoking, dyslipidaemia, impaired_glucose, family_history_early_cvd,
                         target_organ_damage, ckd_stage, cvd, diabetes_complications, highest_sbp_mmhg, highest_dbp_mmhg,
                         risk_level, risk_factors, last_followup_on, last_face_to_face_on, last_classification, next_due_on,
                         created_at_us, changed_at_us, diagnosed_offline, status)
                     VALUES {} RETURNING id, resident_id, disease",
                    crate::row::value_rows(crate::row::numbered(&tx), chunk.len(), E_COLS, ", TRUE, 'active'")
                );
                let mut q = sqlx::query(trusted(&sql));
                for e in chunk {
                    let p = &e.profile;
                    q = q.bind(e.resident_id).bind(e.disease).bind(e.icd10).bind(e.diagnosed_on)
                        .bind(e.institution_id).bind(e.enrolled_on).bind(e.staff_id).bind(p.smoking)
                        .bind(p.dyslipidaemia).bind(p.impaired_glucose).bind(p.family_history_early_cvd)
                        .bind(p.target_organ_damage).bind(i64::from(p.ckd_stage)).bind(p.cvd)
                        .bind(p.diabetes_complications)
                        .bind(e.highest_bp.map(|b| i64::from(b.sbp_mmhg))).bind(e.highest_bp.map(|b| i64::from(b.dbp_mmhg)))
                        .bind(e.risk.as_ref().map(|r| r.level.code())).bind(e.risk.as_ref().map(|r| r.factors.join(",")))
                        .bind(e.last_followup_on).bind(e.last_face_to_face_on)
                        .bind(e.last_classification.map(i64::from)).bind(e.next_due_on).bind(now_us).bind(now_us);
                }
                let offset = chunk_index * per;
                for row in q.fetch_all(&mut *tx).await? {
                    let (id, resident_id, disease) = (row.i64("id")?, row.i64("resident_id")?, row.text("disease")?);
                    if let Some(i) = chunk.iter().position(|e| e.resident_id == resident_id && e.disease == disease) {
                        ids[offset + i] = id;
                    }
                }
            }
            for (e, id) in enrolments.iter().zip(&ids) {
                if let Some((ended_on, reason)) = e.ended {
                    sqlx::query(
                        "UPDATE chronic_enrolments SET status = 'ended', ended_on = $1, end_reason = $2, next_due_on = NULL
                         WHERE id = $3",
                    )
                    .bind(ended_on).bind(reason).bind(*id)
                    .execute(&mut *tx).await?;
                    if reason == gongti_core::chronic::record::EndReason::Died.code() {
                        sqlx::query(
                            "UPDATE residents SET deceased_on = $1
                             WHERE id = $2 AND (deceased_on IS NULL OR deceased_on > $1)",
                        )
                        .bind(ended_on).bind(e.resident_id)
                        .execute(&mut *tx).await?;
                    }
                }
            }
            let per = (PARAMS_PER_STATEMENT / F_COLS).max(1);
            for chunk in followups.chunks(per) {
                let sql = format!(
                    "INSERT INTO followups (enrolment_id, resident_id, disease, institution_id, staff_id, method, visit_on,
                         age_years, sbp_mmhg, dbp_mmhg, fpg_centi_mmol, hba1c_centi_percent, classification,
                         urgent_referral, refer, reasons, next_due_on, counts_face_to_face, ruleset_version, created_at_us,
                         symptoms, pregnant_or_breastfeeding, adverse_reaction, complication)
                     VALUES {} RETURNING id",
                    crate::row::value_rows(crate::row::numbered(&tx), chunk.len(), F_COLS, ", '', FALSE, 'none', 'none'")
                );
                let mut q = sqlx::query(trusted(&sql));
                for f in chunk {
                    let e = &enrolments[f.enrolment];
                    q = q.bind(ids[f.enrolment]).bind(e.resident_id).bind(e.disease).bind(institution_of[f.enrolment])
                        .bind(e.staff_id).bind(f.method).bind(f.visit_on).bind(i64::from(f.age_years))
                        .bind(f.bp.map(|b| i64::from(b.sbp_mmhg))).bind(f.bp.map(|b| i64::from(b.dbp_mmhg)))
                        .bind(f.fpg_centi_mmol.map(i64::from)).bind(f.hba1c_centi_percent.map(i64::from))
                        .bind(f.classification.map(i64::from)).bind(f.urgent_referral).bind(f.refer)
                        .bind(&f.reasons).bind(f.next_due_on).bind(f.counts_face_to_face).bind(ruleset_version)
                        .bind(now_us);
                }
                for row in q.fetch_all(&mut *tx).await? {
                    followup_ids.push(row.i64("id")?);
                }
            }
            let ids = (ids, followup_ids);
            stage_audit!(tx, &audit(&ids));
            tx.commit().await?;
            ids.0
        });
        Ok(ids)
    }
}
