//! What the cloud-management figures read (DOMAIN.md §3): the referrals made or
//! referred back in a window, with their patients for the lists, and the use of the
//! reserved slots. A referral is in a scope when either end is: the sending
//! institution or the receiving hospital, or an institution of the district.

use gongti_core::referral::ReferralStatus;
use gongti_core::referral::figures::{ReferralFact, ReservedUse};
use gongti_core::{IdNumber, Sex};
use time::Date;

use crate::row::{RowExt, trusted};
use crate::{IndicatorScope, Result, Store, StoreError, on_read};

/// A referral with its patient, as the figures and their lists read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferralFactRow {
    pub fact: ReferralFact,
    pub resident_id: i64,
    pub name: String,
    pub id_number: IdNumber,
    pub sex: Sex,
    pub birth_date: Date,
    pub from_institution_name: String,
    pub to_institution_name: String,
}

pub(crate) fn scope_sql(scope: &IndicatorScope, a: &str, b: &str) -> (String, i64, String) {
    match scope {
        IndicatorScope::City => ("($1 = $1 AND $2 = $2)".into(), 0, String::new()),
        IndicatorScope::District(code) => (
            format!("({a}.district_code = $2 OR {b}.district_code = $2) AND $1 = $1"),
            0,
            code.clone(),
        ),
        IndicatorScope::Institution(id) => (
            format!("({a}.id = $1 OR {b}.id = $1) AND $2 = $2"),
            *id,
            String::new(),
        ),
    }
}

impl Store {
    /// Referrals of a scope made, or referred back, in `[from_us, to_us)`.
    pub async fn referral_facts(
        &self,
        scope: &IndicatorScope,
        from_us: i64,
        to_us: i64,
        local_day: impl Fn(i64) -> Date,
    ) -> Result<Vec<ReferralFactRow>> {
        let (filter, institution, district) = scope_sql(scope, "fi", "ti");
        let sql = format!(
            "SELECT f.id, f.from_institution_id, f.status, f.created_at_us, f.resident_id,
                    r.name, r.id_number, r.sex, r.birth_date, fi.name AS from_name, ti.name AS to_name,
                    (SELECT MIN(e.at_us) FROM referral_events e WHERE e.referral_id = f.id AND e.step = 'arrive') AS arrived_at_us,
                    (SELECT MIN(e.at_us) FROM referral_events e WHERE e.referral_id = f.id AND e.step = 'return') AS returned_at_us
             FROM referrals f JOIN residents r ON r.id = f.resident_id
             JOIN institutions fi ON fi.id = f.from_institution_id JOIN institutions ti ON ti.id = f.to_institution_id
             WHERE {filter} AND (
                 (f.created_at_us >= $3 AND f.created_at_us < $4)
                 OR EXISTS (SELECT 1 FROM referral_events e WHERE e.referral_id = f.id AND e.step = 'return'
                            AND e.at_us >= $3 AND e.at_us < $4))
             ORDER BY f.id"
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql))
                .bind(institution).bind(&district).bind(from_us).bind(to_us)
                .fetch_all(pool).await?
                .iter()
                .map(|row| {
                    let corrupt = |what: &str| StoreError::Corrupt(what.into());
                    let created_at_us = row.i64("created_at_us")?;
                    Ok(ReferralFactRow {
                        fact: ReferralFact {
                            id: row.i64("id")?,
                            from_institution_id: row.i64("from_institution_id")?,
                            status: ReferralStatus::parse(&row.text("status")?).ok_or_else(|| corrupt("status"))?,
                            created_on: local_day(created_at_us),
                            created_at_us,
                            arrived_at_us: row.opt_i64("arrived_at_us")?,
                            returned_on: row.opt_i64("returned_at_us")?.map(&local_day),
                        },
                        resident_id: row.i64("resident_id")?,
                        name: row.text("name")?,
                        id_number: crate::residents::stored_id_number(&self.keys, row)?,
                        sex: Sex::from_code(&row.text("sex")?).ok_or_else(|| corrupt("sex"))?,
                        birth_date: row.date("birth_date")?,
                        from_institution_name: row.text("from_name")?,
                        to_institution_name: row.text("to_name")?,
                    })
                })
                .collect()
        })
    }

    /// Reserved slots of a scope's hospitals on days `[from, to]`: held back, taken by
    /// family doctors, and taken by the public after their release.
    pub async fn reserved_use(
        &self,
        scope: &IndicatorScope,
        from: Date,
        to: Date,
    ) -> Result<ReservedUse> {
        let (filter, institution, district) = scope_sql(scope, "i", "i");
        let sql = format!(
            "SELECT CAST(COUNT(*) AS BIGINT) AS offered,
                    CAST(COALESCE(SUM(CASE WHEN b.pool = 'reserved' THEN 1 ELSE 0 END), 0) AS BIGINT) AS by_doctors,
                    CAST(COALESCE(SUM(CASE WHEN b.pool = 'public' THEN 1 ELSE 0 END), 0) AS BIGINT) AS by_public
             FROM slots x JOIN schedules s ON s.id = x.schedule_id JOIN institutions i ON i.id = s.institution_id
             LEFT JOIN bookings b ON b.slot_id = x.id AND b.status IN ('booked', 'checked_in', 'no_show')
             WHERE {filter} AND x.pool = 'reserved' AND x.status <> 'withdrawn' AND s.status = 'published'
               AND s.day >= $3 AND s.day <= $4"
        );
        let (offered, by_doctors, by_public): (i64, i64, i64) = on_read!(self, pool => {
            sqlx::query_as(trusted(&sql))
                .bind(institution).bind(&district).bind(from).bind(to)
                .fetch_one(pool).await?
        });
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(ReservedUse {
            offered: n(offered),
            by_family_doctors: n(by_doctors),
            by_public_after_release: n(by_public),
        })
    }
}
