//! Home readings and the alerts urgent ones raise. A batch is written in one
//! transaction with multi-row statements; the client's reading id makes uploads
//! idempotent (`ON CONFLICT DO NOTHING` on both engines).

use gongti_core::audit::AuditEntry;
use gongti_core::chronic::Bp;
use gongti_core::chronic::readings::{ReadingValue, ValidReading};

use crate::outbox::stage_audit;
use crate::row::{RowExt, Val, id_list, trusted};
use crate::{Result, Store, StoreError, on_read, on_write};

/// Rows per INSERT statement (two or three bound parameters each, the rest written in).
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

#[derive(Debug, Clone)]
pub struct NewReading<'a> {
    pub resident_id: i64,
    pub reading: &'a ValidReading,
    /// The alert to raise if this reading is new.
    pub alert: Option<NewAlert>,
}

/// Who uploaded a reading: a staff member's or client system's sign-in, or the
/// resident's own account (患者自助).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploader {
    User(i64),
    Account(i64),
}

impl Uploader {
    /// The account's id as written into the statement (`NULL` for a user).
    pub(crate) fn account_sql(self) -> String {
        match self {
            Uploader::User(_) => "NULL".to_owned(),
            Uploader::Account(id) => id.to_string(),
        }
    }

    /// The user's id bound as `$1` (none for a resident's account).
    pub(crate) fn bound_user(self) -> Option<i64> {
        match self {
            Uploader::User(id) => Some(id),
            Uploader::Account(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    pub institution_id: i64,
    pub team_id: Option<i64>,
    pub code: &'static str,
}

/// What happened to one uploaded reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingOutcome {
    pub resident_id: i64,
    pub client_reading_id: String,
    /// The stored id when this upload created it; `None` for a repeat.
    pub id: Option<i64>,
    pub alert_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingRecord {
    pub id: i64,
    pub resident_id: i64,
    pub client_reading_id: String,
    pub taken_at_us: i64,
    pub bp: Option<Bp>,
    pub pulse_bpm: Option<i64>,
    pub glucose_centi_mmol: Option<i64>,
    pub glucose_context: Option<String>,
    pub device: Option<String>,
    /// When Gongti received it: the time of its only version (a reading is never changed).
    pub received_at_us: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub institution_id: i64,
    pub team_id: Option<i64>,
    pub reading_id: Option<i64>,
    pub code: String,
    pub open: bool,
    pub raised_at_us: i64,
    /// The hypertension risk level of the resident, when stratified.
    pub risk_level: Option<String>,
    pub version: crate::Version,
}

fn reading(row: &impl RowExt) -> Result<ReadingRecord> {
    let sbp = row.opt_i64("sbp_mmhg")?;
    let dbp = row.opt_i64("dbp_mmhg")?;
    let bp = match (sbp, dbp) {
        (Some(s), Some(d)) => Some(Bp::new(
            u16::try_from(s).map_err(|_| StoreError::Corrupt("sbp".into()))?,
            u16::try_from(d).map_err(|_| StoreError::Corrupt("dbp".into()))?,
        )),
        _ => None,
    };
    Ok(ReadingRecord {
        id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        client_reading_id: row.text("client_reading_id")?,
        taken_at_us: row.i64("taken_at_us")?,
        bp,
        pulse_bpm: row.opt_i64("pulse_bpm")?,
        glucose_centi_mmol: row.opt_i64("glucose_centi_mmol")?,
        glucose_context: row.opt_text("glucose_context")?,
        device: row.opt_text("device")?,
        received_at_us: row.i64("received_at_us")?,
    })
}

fn alert(row: &impl RowExt) -> Result<AlertRecord> {
    Ok(AlertRecord {
        id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        resident_name: row.text("resident_name")?,
        institution_id: row.i64("institution_id")?,
        team_id: row.opt_i64("team_id")?,
        reading_id: row.opt_i64("reading_id")?,
        code: row.text("code")?,
        open: row.text("status")? == "open",
        raised_at_us: row.i64("raised_at_us")?,
        risk_level: row.opt_text("risk_level")?,
        version: crate::Version::of(row)?,
    })
}

/// The INSERT of a chunk of readings. Integers (ids, times, mmHg, hundredths of
/// mmol/L, a resident's account) and our own codes are written into the statement; only
/// the client's strings (reading id, device) are bound: `$1` the uploading user (none
/// for a resident's account), `$2` the time received, then one or two per row. Binding
/// a dozen values per row cost more than the insert itself.
pub(crate) fn insert_sql(chunk: &[NewReading<'_>], uploader: Uploader) -> String {
    use std::fmt::Write;
    let mut sql = String::from(
        "INSERT INTO home_readings (resident_id, client_reading_id, kind, taken_at_us, sbp_mmhg, dbp_mmhg, \
         pulse_bpm, glucose_centi_mmol, glucose_context, device, uploaded_by_user_id, received_at_us, \
         uploaded_by_account_id) VALUES ",
    );
    let account = uploader.account_sql();
    let mut n = 2;
    let opt = |v: Option<i64>| v.map_or_else(|| "NULL".to_owned(), |v| v.to_string());
    for (i, r) in chunk.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        n += 1;
        let id = n;
        let device = match r.reading.device {
            Some(_) => {
                n += 1;
                format!("${n}")
            }
            None => "NULL".to_owned(),
        };
        let v = &r.reading.value;
        let (sbp, dbp, pulse, glucose, context) = match *v {
            ReadingValue::Bp { bp, pulse_bpm } => (
                Some(i64::from(bp.sbp_mmhg)),
                Some(i64::from(bp.dbp_mmhg)),
                pulse_bpm.map(i64::from),
                None,
                "NULL".to_owned(),
            ),
            ReadingValue::Glucose { glucose, context } => (
                None,
                None,
                None,
                Some(i64::from(glucose.centi())),
                format!("'{}'", context.code()),
            ),
        };
        let _ = write!(
            sql,
            "({},${id},'{}',{},{},{},{},{},{context},{device},$1,$2,{account})",
            r.resident_id,
            v.kind(),
            r.reading.taken_at_us,
            opt(sbp),
            opt(dbp),
            opt(pulse),
            opt(glucose),
        );
    }
    sql.push_str(
        " ON CONFLICT (resident_id, client_reading_id) DO NOTHING RETURNING id, resident_id, client_reading_id",
    );
    sql
}

/// The values [`insert_sql`]'s statement binds: the uploader and the time, then each
/// reading's client id and device.
pub(crate) fn insert_values<'a>(
    chunk: &[NewReading<'a>],
    uploader: Uploader,
    now_us: i64,
) -> Vec<Val<'a>> {
    let mut values = vec![Val::Int(uploader.bound_user()), Val::int(now_us)];
    for r in chunk {
        values.push(Val::text(&r.reading.client_reading_id));
        if let Some(d) = &r.reading.device {
            values.push(Val::text(d));
        }
    }
    values
}

/// Each reading's outcome before its insert: none stored yet.
pub(crate) fn unsettled(readings: &[NewReading<'_>]) -> Vec<ReadingOutcome> {
    readings
        .iter()
        .map(|r| ReadingOutcome {
            resident_id: r.resident_id,
            client_reading_id: r.reading.client_reading_id.clone(),
            id: None,
            alert_id: None,
        })
        .collect()
}

/// Settles the outcome of a row the insert returned (`id`, its resident and client
/// id) among a chunk's: the first of equal ids in the batch is the one stored.
pub(crate) fn settle(outcomes: &mut [ReadingOutcome], id: i64, resident_id: i64, client: &str) {
    if let Some(o) = outcomes
        .iter_mut()
        .find(|o| o.id.is_none() && o.resident_id == resident_id && o.client_reading_id == client)
    {
        o.id = Some(id);
    }
}

/// An urgent reading's alert (see [`alert_values`]).
pub(crate) const RAISE_ALERT: &str = "INSERT INTO alerts (resident_id, institution_id, team_id, reading_id, code, status, raised_at_us)
    VALUES ($1, $2, $3, $4, $5, 'open', $6) RETURNING id";

/// The values of [`RAISE_ALERT`].
pub(crate) fn alert_values(
    resident_id: i64,
    a: &NewAlert,
    reading_id: i64,
    now_us: i64,
) -> [Val<'static>; 6] {
    [
        Val::int(resident_id),
        Val::int(a.institution_id),
        Val::Int(a.team_id),
        Val::int(reading_id),
        Val::text(a.code),
        Val::int(now_us),
    ]
}

/// [`insert_readings_in!`] in a transaction of the SQLite hot path ([`crate::direct`]).
pub(crate) fn insert_readings_direct(
    tx: &rusqlite::Transaction<'_>,
    readings: &[NewReading<'_>],
    uploader: Uploader,
    now_us: i64,
) -> Result<Vec<ReadingOutcome>> {
    let mut outcomes = unsettled(readings);
    for (chunk_index, chunk) in readings.chunks(ROWS_PER_STATEMENT).enumerate() {
        let offset = chunk_index * ROWS_PER_STATEMENT;
        let mut statement = tx.prepare(&insert_sql(chunk, uploader))?;
        crate::direct::bind_numbered(&mut statement, &insert_values(chunk, uploader, now_us))?;
        let mut rows = statement.raw_query();
        while let Some(row) = rows.next()? {
            let client: String = row.get(2)?;
            settle(
                &mut outcomes[offset..offset + chunk.len()],
                row.get(0)?,
                row.get(1)?,
                &client,
            );
        }
    }
    for (o, r) in outcomes.iter_mut().zip(readings) {
        if let (Some(reading_id), Some(a)) = (o.id, &r.alert) {
            let values = alert_values(r.resident_id, a, reading_id, now_us);
            o.alert_id = Some(crate::direct::first_numbered(
                tx,
                RAISE_ALERT,
                &values,
                |row| row.i64("id"),
            )?);
        }
    }
    Ok(outcomes)
}

/// Stores `$readings` (`&[NewReading]`) in the open transaction `$tx`, skipping a
/// reading whose client id the resident already has, and raises the alerts of the new
/// urgent ones; evaluates to each reading's outcome, in order.
macro_rules! insert_readings_in {
    ($tx:ident, $readings:expr, $uploader:expr, $now_us:expr) => {{
        let readings: &[$crate::readings::NewReading<'_>] = $readings;
        let uploader: $crate::readings::Uploader = $uploader;
        let now_us: i64 = $now_us;
        let mut outcomes = $crate::readings::unsettled(readings);
        for (chunk_index, chunk) in readings
            .chunks($crate::readings::ROWS_PER_STATEMENT)
            .enumerate()
        {
            use $crate::row::RowExt as _;
            let sql = $crate::readings::insert_sql(chunk, uploader);
            let values = $crate::readings::insert_values(chunk, uploader, now_us);
            let inserted =
                $crate::row::bind_vals!(sqlx::query($crate::row::trusted(&sql)), &values)
                    .fetch_all(&mut *$tx)
                    .await?;
            let offset = chunk_index * $crate::readings::ROWS_PER_STATEMENT;
            for row in &inserted {
                $crate::readings::settle(
                    &mut outcomes[offset..offset + chunk.len()],
                    row.i64("id")?,
                    row.i64("resident_id")?,
                    &row.text("client_reading_id")?,
                );
            }
        }
        for (o, r) in outcomes.iter_mut().zip(readings) {
            if let (Some(reading_id), Some(a)) = (o.id, &r.alert) {
                let values = $crate::readings::alert_values(r.resident_id, a, reading_id, now_us);
                let (alert_id,): (i64,) =
                    $crate::row::bind_vals!(sqlx::query_as($crate::readings::RAISE_ALERT), &values)
                        .fetch_one(&mut *$tx)
                        .await?;
                o.alert_id = Some(alert_id);
            }
        }
        outcomes
    }};
}
pub(crate) use insert_readings_in;

/// The stored reading a repeat names: `$1` resident, `$2` the client's id.
pub(crate) const EXISTING_READING: &str =
    "SELECT id FROM home_readings WHERE resident_id = $1 AND client_reading_id = $2";

const ALERT_SELECT: &str = "SELECT a.id, a.resident_id, r.name AS resident_name, a.institution_id, a.team_id, \
    a.reading_id, a.code, a.status, a.raised_at_us, \
    a.version, COALESCE(a.version_at_us, a.raised_at_us) AS version_at_us, \
    (SELECT e.risk_level FROM chronic_enrolments e WHERE e.resident_id = a.resident_id \
       AND e.disease = 'hypertension' AND e.status = 'active') AS risk_level \
    FROM alerts a JOIN residents r ON r.id = a.resident_id";

/// Where a resident's alerts go (`$1` the resident, `$2` today): the team and
/// institution of the contract in force, else the institution managing an active
/// enrolment, else the institution that holds the record.
pub(crate) const ALERT_HOME: &str = "SELECT COALESCE(
         (SELECT c.institution_id FROM contracts c WHERE c.resident_id = r.id
            AND c.status IN ('active', 'renewed', 'switched') AND c.start_on <= $2 AND c.end_on >= $2
          ORDER BY c.start_on DESC LIMIT 1),
         (SELECT e.institution_id FROM chronic_enrolments e WHERE e.resident_id = r.id AND e.status = 'active'
          ORDER BY e.id LIMIT 1),
         r.home_institution_id) AS institution_id,
       (SELECT c.team_id FROM contracts c WHERE c.resident_id = r.id
            AND c.status IN ('active', 'renewed', 'switched') AND c.start_on <= $2 AND c.end_on >= $2
          ORDER BY c.start_on DESC LIMIT 1) AS team_id
     FROM residents r WHERE r.id = $1";

impl Store {
    /// Where a resident's alerts go: the team and institution of the contract in force
    /// on `today`, else the institution managing an active enrolment, else the
    /// institution that holds the record.
    pub async fn alert_home(
        &self,
        resident_id: i64,
        today: time::Date,
    ) -> Result<(i64, Option<i64>)> {
        on_read!(self, pool => {
            let row = sqlx::query(ALERT_HOME)
            .bind(resident_id).bind(today)
            .fetch_optional(pool).await?
            .ok_or(StoreError::NotFound)?;
            Ok((row.i64("institution_id")?, row.opt_i64("team_id")?))
        })
    }

    /// Stores a batch of readings in one transaction; a reading whose client id the
    /// resident already has is skipped. New urgent readings raise their alerts.
    /// `audit` gives the batch's audit records from what it stored; they commit with it.
    pub async fn insert_readings(
        &self,
        readings: &[NewReading<'_>],
        uploader: Uploader,
        now_us: i64,
        maintain: Option<(
            &gongti_core::chronic::Params,
            &[crate::maintained::IndicatorUpdate],
        )>,
        audit: crate::AuditFor<'_, [ReadingOutcome]>,
    ) -> Result<Vec<ReadingOutcome>> {
        let outcomes = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let outcomes = insert_readings_in!(tx, readings, uploader, now_us);
            if let Some((params, updates)) = maintain {
                crate::maintained::apply_indicator_updates!(tx, updates, params);
            }
            stage_audit!(tx, &audit(&outcomes));
            tx.commit().await?;
            outcomes
        });
        Ok(outcomes)
    }

    /// A resident's readings taken in `[from_us, to_us)`, newest first, at most
    /// `limit`.
    pub async fn readings_of_resident(
        &self,
        resident_id: i64,
        from_us: i64,
        to_us: i64,
        limit: u32,
    ) -> Result<Vec<ReadingRecord>> {
        on_read!(self, pool => {
            sqlx::query(
                "SELECT id, resident_id, client_reading_id, taken_at_us, sbp_mmhg, dbp_mmhg, pulse_bpm,
                        glucose_centi_mmol, glucose_context, device, received_at_us
                 FROM home_readings WHERE resident_id = $1 AND taken_at_us >= $2 AND taken_at_us < $3
                 ORDER BY taken_at_us DESC, id DESC LIMIT $4",
            )
            .bind(resident_id).bind(from_us).bind(to_us).bind(i64::from(limit))
            .fetch_all(pool).await?.iter().map(reading).collect()
        })
    }

    /// Up to `limit` readings of several residents (a bulk export's page) received
    /// after `since_us` (all when `None`), by id after `after` — a resident may upload
    /// for years, so they are read in chunks.
    pub async fn readings_of_residents(
        &self,
        residents: &[i64],
        since_us: Option<i64>,
        after: i64,
        limit: u32,
    ) -> Result<crate::Page<ReadingRecord>> {
        if residents.is_empty() {
            return Ok(crate::Page {
                items: Vec::new(),
                next_after: None,
            });
        }
        // The ids are integers read back from the database, not client input.
        let sql = format!(
            "SELECT id, resident_id, client_reading_id, taken_at_us, sbp_mmhg, dbp_mmhg, pulse_bpm,
                    glucose_centi_mmol, glucose_context, device, received_at_us
             FROM home_readings WHERE resident_id IN ({}) AND ($1 IS NULL OR received_at_us > $1) AND id > $2
             ORDER BY id LIMIT $3",
            id_list(residents.iter().copied())
        );
        let rows: Vec<ReadingRecord> = on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(since_us).bind(after).bind(i64::from(limit) + 1)
                .fetch_all(pool).await?.iter().map(reading).collect::<Result<_>>()
        })?;
        Ok(crate::Page::from_overfetch(rows, limit, |r| r.id))
    }

    /// Which of several residents have readings received after `since_us` (all when
    /// `None`).
    pub async fn residents_with_readings(
        &self,
        residents: &[i64],
        since_us: Option<i64>,
    ) -> Result<Vec<i64>> {
        if residents.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT DISTINCT resident_id FROM home_readings WHERE resident_id IN ({})
               AND ($1 IS NULL OR received_at_us > $1)",
            id_list(residents.iter().copied())
        );
        let ids: Vec<(i64,)> = on_read!(self, pool => {
            sqlx::query_as(trusted(&sql)).bind(since_us).fetch_all(pool).await?
        });
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// The alerts of several residents (a bulk export's page) whose version is newer
    /// than `since_us` (all when `None`), by resident then id.
    pub async fn alerts_of_residents(
        &self,
        residents: &[i64],
        since_us: Option<i64>,
    ) -> Result<Vec<AlertRecord>> {
        if residents.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "{ALERT_SELECT} WHERE a.resident_id IN ({})
               AND ($1 IS NULL OR COALESCE(a.version_at_us, a.raised_at_us) > $1) ORDER BY a.resident_id, a.id",
            id_list(residents.iter().copied())
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(since_us).fetch_all(pool).await?.iter().map(alert).collect()
        })
    }

    /// Open alerts of an institution (optionally one team), newest first.
    pub async fn open_alerts(
        &self,
        institution_id: i64,
        team_id: Option<i64>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<crate::Page<AlertRecord>> {
        let sql = format!(
            "{ALERT_SELECT} WHERE a.institution_id = $1 AND a.status = 'open' AND ($2 IS NULL OR a.team_id = $2)
               AND a.id < $3 ORDER BY a.id DESC LIMIT $4"
        );
        let rows: Vec<AlertRecord> = on_read!(self, pool => {
            sqlx::query(trusted(&sql))
                .bind(institution_id).bind(team_id).bind(after.unwrap_or(i64::MAX)).bind(i64::from(limit) + 1)
                .fetch_all(pool).await?.iter().map(alert).collect::<Result<_>>()
        })?;
        Ok(crate::Page::from_overfetch(rows, limit, |a| a.id))
    }

    /// A resident's alerts, newest first (at most `limit`).
    pub async fn alerts_of_resident(
        &self,
        resident_id: i64,
        limit: u32,
    ) -> Result<Vec<AlertRecord>> {
        let sql = format!("{ALERT_SELECT} WHERE a.resident_id = $1 ORDER BY a.id DESC LIMIT $2");
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(resident_id).bind(i64::from(limit))
                .fetch_all(pool).await?.iter().map(alert).collect()
        })
    }

    /// A superseded version of an alert (`None`: not a version it had before).
    pub async fn alert_version(&self, id: i64, version: i64) -> Result<Option<AlertRecord>> {
        let sql = format!("{ALERT_SELECT} WHERE a.id = $1");
        crate::versions::superseded!(self, crate::Kept::Alerts, "a", &sql, id, version, |row| {
            alert(row)
        })
    }

    pub async fn alert(&self, id: i64) -> Result<AlertRecord> {
        let sql = format!("{ALERT_SELECT} WHERE a.id = $1");
        on_read!(self, pool => {
            let row = sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(alert).transpose()?.ok_or(StoreError::NotFound)
        })
    }

    /// Marks an open alert as seen; [`StoreError::Changed`] if it no longer is open.
    pub async fn acknowledge_alert(
        &self,
        id: i64,
        staff_id: i64,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        let done = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE alerts SET status = 'acknowledged', acknowledged_by_staff_id = $1, acknowledged_at_us = $2
                 WHERE id = $3 AND status = 'open'",
            )
            .bind(staff_id).bind(now_us).bind(id)
            .execute(&mut *tx).await?.rows_affected();
            if done == 1 {
                stage_audit!(tx, audit);
                tx.commit().await?;
            }
            done
        });
        if done == 1 {
            Ok(())
        } else {
            Err(StoreError::Changed("alert"))
        }
    }
}
