//! Hypertension screening records: office BP readings, the high-risk profile, and
//! each resident's status as the rules last decided it.

use gongti_core::audit::AuditEntry;
use gongti_core::chronic::Bp;
use gongti_core::chronic::screening::ScreeningReading;
use time::Date;

use crate::outbox::{created, stage_audit};
use crate::row::{RowExt, trusted};
use crate::{Page, Result, Store, StoreError, date_cursor, on_read, on_write, split_date_cursor};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScreeningProfile {
    pub bmi_centi: Option<u16>,
    pub waist_cm: Option<u16>,
    pub family_history: bool,
    pub high_salt_diet: bool,
    pub heavy_drinking: bool,
}

/// The status the rules decided, as stored for the worklists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreeningStatus {
    pub resident_id: i64,
    pub resident_name: String,
    pub institution_id: i64,
    /// `due`, `normal`, `recheck_due`, `suspected` (or `not_due`).
    pub state: String,
    pub raised_days: u8,
    pub high_risk: bool,
    pub next_bp_due: Option<Date>,
    pub followup_by: Option<Date>,
}

fn opt_u16(row: &impl RowExt, c: &str) -> Result<Option<u16>> {
    row.opt_i64(c)?
        .map(|v| u16::try_from(v).map_err(|_| StoreError::Corrupt(c.into())))
        .transpose()
}

impl Store {
    /// Stores a screening reading (taken at the status's institution) and the status
    /// decided with it, in one transaction.
    pub async fn insert_screening_reading(
        &self,
        staff_id: i64,
        reading: &ScreeningReading,
        status: &ScreeningStatus,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO screening_readings (resident_id, institution_id, staff_id, measured_on, sbp_mmhg, dbp_mmhg, created_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(status.resident_id).bind(status.institution_id).bind(staff_id).bind(reading.on)
            .bind(i64::from(reading.bp.sbp_mmhg)).bind(i64::from(reading.bp.dbp_mmhg)).bind(now_us)
            .fetch_one(&mut *tx).await?;
            upsert_status!(tx, status, now_us);
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
        });
        Ok(())
    }

    /// Replaces the high-risk profile and the status decided with it.
    pub async fn set_screening_profile(
        &self,
        resident_id: i64,
        profile: &ScreeningProfile,
        status: &ScreeningStatus,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO screening_profiles (resident_id, bmi_centi, waist_cm, family_history, high_salt_diet, heavy_drinking, updated_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (resident_id) DO UPDATE SET bmi_centi = excluded.bmi_centi, waist_cm = excluded.waist_cm,
                     family_history = excluded.family_history, high_salt_diet = excluded.high_salt_diet,
                     heavy_drinking = excluded.heavy_drinking, updated_at_us = excluded.updated_at_us",
            )
            .bind(resident_id).bind(profile.bmi_centi.map(i64::from)).bind(profile.waist_cm.map(i64::from))
            .bind(profile.family_history).bind(profile.high_salt_diet).bind(profile.heavy_drinking).bind(now_us)
            .execute(&mut *tx).await?;
            upsert_status!(tx, status, now_us);
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// A resident's screening readings (oldest first) and high-risk profile.
    pub async fn screening_of(
        &self,
        resident_id: i64,
    ) -> Result<(Vec<ScreeningReading>, ScreeningProfile)> {
        on_write!(self, pool => {
            let readings: Vec<(Date, i64, i64)> = sqlx::query_as(
                "SELECT measured_on, sbp_mmhg, dbp_mmhg FROM screening_readings WHERE resident_id = $1 ORDER BY measured_on, id LIMIT 1000",
            )
            .bind(resident_id).fetch_all(pool).await?;
            let readings = readings
                .into_iter()
                .map(|(on, s, d)| {
                    Ok(ScreeningReading {
                        on,
                        bp: Bp::new(
                            u16::try_from(s).map_err(|_| StoreError::Corrupt("sbp".into()))?,
                            u16::try_from(d).map_err(|_| StoreError::Corrupt("dbp".into()))?,
                        ),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let row = sqlx::query("SELECT * FROM screening_profiles WHERE resident_id = $1")
                .bind(resident_id).fetch_optional(pool).await?;
            let profile = match row {
                Some(r) => ScreeningProfile {
                    bmi_centi: opt_u16(&r, "bmi_centi")?,
                    waist_cm: opt_u16(&r, "waist_cm")?,
                    family_history: r.bool("family_history")?,
                    high_salt_diet: r.bool("high_salt_diet")?,
                    heavy_drinking: r.bool("heavy_drinking")?,
                },
                None => ScreeningProfile::default(),
            };
            Ok((readings, profile))
        })
    }

    /// Residents of an institution in a screening state, soonest date first: the
    /// follow-up-by date for `suspected`, the next BP due otherwise (`due_by` limits it).
    pub async fn screening_worklist(
        &self,
        institution_id: i64,
        state: &str,
        due_by: Option<Date>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<ScreeningStatus>> {
        let (after_on, after_id) = split_date_cursor(after)?;
        let sql = "SELECT s.resident_id, r.name AS resident_name, s.institution_id, s.state, s.raised_days, s.high_risk,
                          s.next_bp_due, s.followup_by, COALESCE(s.followup_by, s.next_bp_due, $5) AS sort_on
                   FROM screening_status s JOIN residents r ON r.id = s.resident_id
                   WHERE s.institution_id = $1 AND s.state = $2 AND ($3 IS NULL OR s.next_bp_due <= $3)
                     AND (COALESCE(s.followup_by, s.next_bp_due, $5) > $4
                          OR (COALESCE(s.followup_by, s.next_bp_due, $5) = $4 AND s.resident_id > $6))
                   ORDER BY sort_on, s.resident_id LIMIT $7";
        let rows: Vec<(ScreeningStatus, Date)> = on_read!(self, pool => {
            sqlx::query(trusted(sql))
                .bind(institution_id).bind(state).bind(due_by).bind(after_on)
                .bind(time::macros::date!(9999 - 12 - 31)).bind(after_id).bind(i64::from(limit) + 1)
                .fetch_all(pool).await?
                .iter()
                .map(|r| {
                    Ok((ScreeningStatus {
                        resident_id: r.i64("resident_id")?,
                        resident_name: r.text("resident_name")?,
                        institution_id: r.i64("institution_id")?,
                        state: r.text("state")?,
                        raised_days: u8::try_from(r.i64("raised_days")?).unwrap_or(u8::MAX),
                        high_risk: r.bool("high_risk")?,
                        next_bp_due: r.opt_date("next_bp_due")?,
                        followup_by: r.opt_date("followup_by")?,
                    }, r.date("sort_on")?))
                })
                .collect::<Result<_>>()
        })?;
        let page = Page::from_overfetch(rows, limit, |(s, on)| date_cursor(*on, s.resident_id));
        Ok(Page {
            items: page.items.into_iter().map(|(s, _)| s).collect(),
            next_after: page.next_after,
        })
    }
}

/// Upserts a screening status inside an open transaction (either engine).
macro_rules! upsert_status {
    ($tx:expr, $s:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO screening_status (resident_id, institution_id, state, raised_days, high_risk, next_bp_due, followup_by, updated_at_us)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (resident_id) DO UPDATE SET institution_id = excluded.institution_id, state = excluded.state,
                 raised_days = excluded.raised_days, high_risk = excluded.high_risk, next_bp_due = excluded.next_bp_due,
                 followup_by = excluded.followup_by, updated_at_us = excluded.updated_at_us",
        )
        .bind($s.resident_id).bind($s.institution_id).bind(&$s.state).bind(i64::from($s.raised_days))
        .bind($s.high_risk).bind($s.next_bp_due).bind($s.followup_by).bind($now)
        .execute(&mut *$tx).await?;
    };
}
use upsert_status;
