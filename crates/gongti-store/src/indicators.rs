//! The raw records behind the chronic-disease indicators: the enrolments of a scope
//! with their follow-ups and latest home reading in a window, a chunk at a time so a
//! city's worth of patients never sits in memory at once.

use gongti_core::chronic::indicators::{PatientFacts, VisitFact};
use gongti_core::chronic::{Bp, Disease};
use gongti_core::measure::{Mmol, Percent};
use gongti_core::{IdNumber, Sex};
use time::Date;

use crate::row::{RowExt, id_list, trusted};
use crate::{Result, Store, StoreError, on_read};

/// Whose patients: the managing institution, its district, or the whole city.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndicatorScope {
    City,
    District(String),
    Institution(i64),
}

impl IndicatorScope {
    /// The scope's key in the kept counters: `c` city, `d:<code>` district, `i:<id>`.
    pub fn counter_key(&self) -> String {
        match self {
            IndicatorScope::City => "c".to_owned(),
            IndicatorScope::District(code) => format!("d:{code}"),
            IndicatorScope::Institution(id) => format!("i:{id}"),
        }
    }
}

/// One enrolled patient with the facts the indicators read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorPatient {
    pub enrolment_id: i64,
    pub resident_id: i64,
    pub name: String,
    pub id_number: IdNumber,
    pub sex: Sex,
    pub birth_date: Date,
    pub institution_id: i64,
    pub institution_name: String,
    pub facts: PatientFacts,
}

/// The windows of records a period's indicators read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndicatorWindow {
    /// Enrolled on or before this day.
    pub enrolled_by: Date,
    /// Not ended before this day.
    pub active_from: Date,
    /// Follow-ups on these days (inclusive).
    pub visits_from: Date,
    pub visits_to: Date,
    /// Home readings taken in `[readings_from_us, readings_to_us)`.
    pub readings_from_us: i64,
    pub readings_to_us: i64,
}

/// A resident and the instant of their latest home reading in the window.
type LatestReading = (i64, i64);

/// One visit as packed by the chunk query: id, day, face to face (0/1), age, SBP, DBP,
/// FPG and HbA1c in hundredths, empty when not measured.
fn unpack_visit(text: &str) -> Result<VisitFact> {
    let corrupt = || StoreError::Corrupt(format!("packed follow-up {text:?}"));
    let mut f = text.split(',');
    let mut next = || f.next().ok_or_else(corrupt);
    let int = |v: &str| v.parse::<i64>().map_err(|_| corrupt());
    let opt = |v: &str| {
        if v.is_empty() {
            Ok(None)
        } else {
            int(v).map(Some)
        }
    };
    let id = int(next()?)?;
    let day = next()?;
    let visit_on = Date::parse(
        day,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| corrupt())?;
    let face_to_face = next()? == "1";
    let age_years = u8::try_from(int(next()?)?).map_err(|_| corrupt())?;
    let small = |v: Option<i64>| {
        v.map(|x| u16::try_from(x).map_err(|_| corrupt()))
            .transpose()
    };
    let centi = |v: Option<i64>| {
        v.map(|x| i32::try_from(x).map_err(|_| corrupt()))
            .transpose()
    };
    let sbp = small(opt(next()?)?)?;
    let dbp = small(opt(next()?)?)?;
    let fpg = centi(opt(next()?)?)?;
    let hba1c = centi(opt(next()?)?)?;
    Ok(VisitFact {
        visit_on,
        id,
        face_to_face,
        age_years,
        bp: sbp.zip(dbp).map(|(s, d)| Bp::new(s, d)),
        fpg: fpg.map(Mmol::from_centi),
        hba1c: hba1c.map(Percent::from_centi),
    })
}

/// One enrolment's packed follow-ups (see [`chunk_sql`]), unpacked onto `out`.
fn push_visits(out: &mut Vec<(i64, VisitFact)>, enrolment_id: i64, packed: &str) -> Result<()> {
    for one in packed.split(';') {
        out.push((enrolment_id, unpack_visit(one)?));
    }
    Ok(())
}

/// One row of the chunk's patient query.
fn patient_of(
    keys: &crate::crypto::DataKeys,
    row: &impl RowExt,
    disease: Disease,
) -> Result<IndicatorPatient> {
    let sex = row.text("sex")?;
    Ok(IndicatorPatient {
        enrolment_id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        name: row.text("name")?,
        id_number: crate::residents::stored_id_number(keys, row)?,
        sex: Sex::from_code(&sex).ok_or_else(|| StoreError::Corrupt("sex".into()))?,
        birth_date: row.date("birth_date")?,
        institution_id: row.i64("institution_id")?,
        institution_name: row.text("institution_name")?,
        facts: PatientFacts {
            disease,
            enrolled_on: row.date("enrolled_on")?,
            ended_on: row.opt_date("ended_on")?,
            visits: Vec::new(),
            reading_days: Vec::new(),
        },
    })
}

/// The follow-up and home-reading queries of a chunk of patients: one row per
/// enrolment with its visits packed as text (fields by ',', visits by ';') — a quarter
/// of the rows through the driver, which costs more per row than the packing does —
/// and each resident's latest reading. `$1`/`$2` are the window's bounds.
fn chunk_sql(
    enrolments: impl Iterator<Item = i64>,
    residents: impl Iterator<Item = i64>,
    engine: crate::EngineKind,
) -> (String, String) {
    let (enrolments, residents) = (id_list(enrolments), id_list(residents));
    let packed = match engine {
        crate::EngineKind::Sqlite => {
            "group_concat(id || ',' || visit_on || ',' || counts_face_to_face || ',' || age_years || ',' ||
                COALESCE(sbp_mmhg, '') || ',' || COALESCE(dbp_mmhg, '') || ',' || COALESCE(fpg_centi_mmol, '') || ',' ||
                COALESCE(hba1c_centi_percent, ''), ';')"
        }
        crate::EngineKind::Postgres => {
            "string_agg(id || ',' || to_char(visit_on, 'YYYY-MM-DD') || ',' || CASE WHEN counts_face_to_face THEN '1' ELSE '0' END
                || ',' || age_years || ',' || COALESCE(sbp_mmhg::text, '') || ',' || COALESCE(dbp_mmhg::text, '') || ',' ||
                COALESCE(fpg_centi_mmol::text, '') || ',' || COALESCE(hba1c_centi_percent::text, ''), ';')"
        }
    };
    (
        format!(
            "SELECT enrolment_id, {packed} AS visits
             FROM followups WHERE enrolment_id IN ({enrolments}) AND visit_on >= $1 AND visit_on <= $2
             GROUP BY enrolment_id"
        ),
        format!(
            "SELECT resident_id, MAX(taken_at_us) AS latest FROM home_readings
             WHERE resident_id IN ({residents}) AND taken_at_us >= $1 AND taken_at_us < $2 GROUP BY resident_id"
        ),
    )
}

/// The laboratory results of a chunk's residents collected in the window (`$1`/`$2`
/// the window's days): each counts as a measurement on its day for every enrolment of
/// its resident (`store::lab`).
fn labs_sql(residents: impl Iterator<Item = i64>) -> String {
    format!(
        "SELECT resident_id, id, test, value_centi, collected_on FROM lab_results
         WHERE resident_id IN ({}) AND test <> '' AND collected_on >= $1 AND collected_on <= $2",
        id_list(residents)
    )
}

/// A resident's laboratory result as the figures read it.
type LabRow = (i64, VisitFact);

fn lab_row(resident_id: i64, id: i64, test: &str, value_centi: i64, on: Date) -> Result<LabRow> {
    let test = gongti_core::lab::LabTest::parse(test)
        .ok_or_else(|| StoreError::Corrupt(format!("lab test {test:?}")))?;
    Ok((
        resident_id,
        crate::lab::lab_fact(id, test, value_centi, on)?,
    ))
}

/// The condition on enrolments `e` of a scope, with its two parameters: `$1` the
/// institution, `$2` the district (each referenced whatever the scope, as SQLite's
/// numbered parameters must be).
fn scope_filter(scope: &IndicatorScope) -> (&'static str, i64, String) {
    match scope {
        IndicatorScope::City => ("($1 = $1 AND $2 = $2)", 0, String::new()),
        IndicatorScope::District(code) => (
            "(e.institution_id IN (SELECT id FROM institutions WHERE district_code = $2) AND $1 = $1)",
            0,
            code.clone(),
        ),
        IndicatorScope::Institution(id) => {
            ("(e.institution_id = $1 AND $2 = $2)", *id, String::new())
        }
    }
}

/// The enrolments of a scope in some programmes with ids in a range, with what the
/// figures read of them, and the scope's two parameters (see [`scope_filter`]).
fn facts_enrolments_sql(scope: &IndicatorScope, diseases: &[Disease]) -> (String, i64, String) {
    let (scope_sql, institution, district) = scope_filter(scope);
    // Programme codes from the enum, not client input.
    let diseases = diseases
        .iter()
        .map(|d| format!("'{}'", d.code()))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "SELECT e.id, e.resident_id, e.disease, e.enrolled_on, e.ended_on FROM chronic_enrolments e
         WHERE {scope_sql} AND e.disease IN ({diseases}) AND e.enrolled_on <= $3
           AND (e.ended_on IS NULL OR e.ended_on >= $4) AND e.id > $5 AND e.id <= $6
         ORDER BY e.id"
    );
    (sql, institution, district)
}

/// A day as the SQLite engine stores it, `YYYY-MM-DD`, read without allocating.
fn stored_day(value: rusqlite::types::ValueRef<'_>) -> Result<Date> {
    let text = value
        .as_str()
        .map_err(|e| StoreError::Corrupt(format!("a stored day: {e}")))?;
    crate::direct::parse_day(text)
        .ok_or_else(|| StoreError::Corrupt(format!("a stored day {text:?}")))
}

fn corrupt_value(what: &str, value: i64) -> StoreError {
    StoreError::Corrupt(format!("{what} {value}"))
}

/// A facts range counts as dense when it holds at least one asked enrolment in this
/// many ids.
const FACTS_DENSE_SHARE: i64 = 2;

/// Room for this many follow-ups is made at a patient's first.
const FACTS_VISITS_RESERVED: usize = 6;

/// One enrolment of a facts range: its id, its resident, its facts.
type RangeEnrolment = (i64, i64, PatientFacts);

/// A range's enrolments in id order, as the follow-ups and readings are attached.
struct FactsRange {
    enrolments: Vec<RangeEnrolment>,
    /// Where the last follow-up went: they arrive grouped by enrolment.
    last: usize,
}

impl FactsRange {
    fn new(enrolments: Vec<RangeEnrolment>) -> FactsRange {
        FactsRange {
            enrolments,
            last: 0,
        }
    }

    /// The facts of an enrolment of the range, if it is one.
    fn of(&mut self, enrolment_id: i64) -> Option<&mut PatientFacts> {
        let hit = match self.enrolments.get(self.last) {
            Some((id, _, _)) if *id == enrolment_id => Some(self.last),
            _ => self
                .enrolments
                .binary_search_by_key(&enrolment_id, |(id, _, _)| *id)
                .ok(),
        };
        hit.map(|i| {
            self.last = i;
            &mut self.enrolments[i].2
        })
    }

    /// Gives every enrolment of a resident the day of their latest reading (a
    /// resident may hold several: both programmes, or one ended and enrolled again).
    fn attach_readings(&mut self, readings: Vec<LatestReading>, reading_day: impl Fn(i64) -> Date) {
        self.per_resident(readings, |facts, latest_us| {
            facts.reading_days.push(reading_day(latest_us));
        });
    }

    /// Gives every enrolment of a resident their laboratory results.
    fn attach_labs(&mut self, labs: Vec<LabRow>) {
        self.per_resident(labs, |facts, fact| facts.visits.push(fact));
    }

    /// Applies each resident's record to the facts of every enrolment of theirs.
    fn per_resident<T: Copy>(
        &mut self,
        records: Vec<(i64, T)>,
        mut apply: impl FnMut(&mut PatientFacts, T),
    ) {
        if records.is_empty() {
            return;
        }
        let mut by_resident: Vec<(i64, usize)> = self
            .enrolments
            .iter()
            .enumerate()
            .map(|(i, (_, resident, _))| (*resident, i))
            .collect();
        by_resident.sort_unstable();
        for (resident_id, record) in records {
            let from = by_resident.partition_point(|(r, _)| *r < resident_id);
            for &(_, i) in by_resident[from..]
                .iter()
                .take_while(|(r, _)| *r == resident_id)
            {
                apply(&mut self.enrolments[i].2, record);
            }
        }
    }

    fn into_facts(self) -> Vec<PatientFacts> {
        self.enrolments.into_iter().map(|(_, _, f)| f).collect()
    }
}

fn facts_of(disease: &str, enrolled_on: Date, ended_on: Option<Date>) -> Result<PatientFacts> {
    Ok(PatientFacts {
        disease: Disease::parse(disease)
            .ok_or_else(|| StoreError::Corrupt(format!("programme {disease:?}")))?,
        enrolled_on,
        ended_on,
        visits: Vec::new(),
        reading_days: Vec::new(),
    })
}

/// A chunk's laboratory results on a direct SQLite connection.
fn sqlite_labs(conn: &rusqlite::Connection, sql: &str, w: &IndicatorWindow) -> Result<Vec<LabRow>> {
    let mut statement = conn.prepare(sql)?;
    let mut rows = statement.query(rusqlite::named_params! {
        "$1": w.visits_from.to_string(), "$2": w.visits_to.to_string(),
    })?;
    let mut labs = Vec::new();
    while let Some(row) = rows.next()? {
        let test: String = row.get(2)?;
        labs.push(lab_row(
            row.get(0)?,
            row.get(1)?,
            &test,
            row.get(3)?,
            stored_day(row.get_ref(4)?)?,
        )?);
    }
    Ok(labs)
}

/// The SQLite facts scan of one range, on a direct connection: the enrolments, then
/// their follow-ups from the covering index `followups_facts` (never the 42-column
/// rows), then each resident's latest home reading — integers and days read in place.
fn sqlite_facts_range(
    conn: &rusqlite::Connection,
    scope: &IndicatorScope,
    diseases: &[Disease],
    w: &IndicatorWindow,
    (after, through): (i64, i64),
) -> Result<(FactsRange, Vec<LatestReading>)> {
    let (sql, institution, district) = facts_enrolments_sql(scope, diseases);
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query(rusqlite::named_params! {
        "$1": institution, "$2": district,
        "$3": w.enrolled_by.to_string(), "$4": w.active_from.to_string(),
        "$5": after, "$6": through,
    })?;
    let mut enrolments = Vec::new();
    while let Some(row) = rows.next()? {
        let ended_on = match row.get_ref(4)? {
            rusqlite::types::ValueRef::Null => None,
            v => Some(stored_day(v)?),
        };
        let disease = row
            .get_ref(2)?
            .as_str()
            .map_err(|e| StoreError::Corrupt(format!("programme: {e}")))?;
        let facts = facts_of(disease, stored_day(row.get_ref(3)?)?, ended_on)?;
        enrolments.push((row.get(0)?, row.get(1)?, facts));
    }
    let mut range = FactsRange::new(enrolments);
    if range.enrolments.is_empty() {
        return Ok((range, Vec::new()));
    }
    // Most of the range's ids asked for (the city, say): one walk along the index over
    // the whole range, skipping the few rows of other enrolments, costs less than
    // looking up each enrolment. A sparse range (an institution): one lookup each.
    let dense = range.enrolments.len() as i64 * FACTS_DENSE_SHARE >= through - after;
    let columns = "SELECT enrolment_id, id, visit_on, counts_face_to_face, age_years, sbp_mmhg,
                dbp_mmhg, fpg_centi_mmol, hba1c_centi_percent
         FROM followups INDEXED BY followups_facts";
    let (mut cached, mut listed);
    let statement: &mut rusqlite::Statement<'_> = if dense {
        cached = conn.prepare_cached(&format!(
            "{columns} WHERE enrolment_id > $3 AND enrolment_id <= $4 AND visit_on >= $1 AND visit_on <= $2"
        ))?;
        &mut cached
    } else {
        // Not cached: the list makes every such statement a new one.
        listed = conn.prepare(&format!(
            "{columns} WHERE enrolment_id IN ({}) AND visit_on >= $1 AND visit_on <= $2 AND $3 = $3 AND $4 = $4",
            id_list(range.enrolments.iter().map(|(id, _, _)| *id))
        ))?;
        &mut listed
    };
    let mut rows = statement.query(rusqlite::named_params! {
        "$1": w.visits_from.to_string(), "$2": w.visits_to.to_string(),
        "$3": after, "$4": through,
    })?;
    let small = |v: Option<i64>| {
        v.map(|x| u16::try_from(x).map_err(|_| corrupt_value("follow-up BP", x)))
            .transpose()
    };
    let centi = |v: Option<i64>| {
        v.map(|x| i32::try_from(x).map_err(|_| corrupt_value("follow-up value", x)))
            .transpose()
    };
    while let Some(row) = rows.next()? {
        let Some(facts) = range.of(row.get(0)?) else {
            continue;
        };
        if facts.visits.capacity() == 0 {
            // About four a year each: one allocation for most patients, not two.
            facts.visits.reserve_exact(FACTS_VISITS_RESERVED);
        }
        let age: i64 = row.get(4)?;
        let sbp = small(row.get(5)?)?;
        let dbp = small(row.get(6)?)?;
        facts.visits.push(VisitFact {
            id: row.get(1)?,
            visit_on: stored_day(row.get_ref(2)?)?,
            face_to_face: row.get(3)?,
            age_years: u8::try_from(age).map_err(|_| corrupt_value("follow-up age", age))?,
            bp: sbp.zip(dbp).map(|(s, d)| Bp::new(s, d)),
            fpg: centi(row.get(7)?)?.map(Mmol::from_centi),
            hba1c: centi(row.get(8)?)?.map(Percent::from_centi),
        });
    }
    let labs = sqlite_labs(
        conn,
        &labs_sql(range.enrolments.iter().map(|(_, resident, _)| *resident)),
        w,
    )?;
    range.attach_labs(labs);
    let readings_sql = format!(
        "SELECT resident_id, MAX(taken_at_us) FROM home_readings
         WHERE resident_id IN ({}) AND taken_at_us >= $1 AND taken_at_us < $2 GROUP BY resident_id",
        id_list(range.enrolments.iter().map(|(_, resident, _)| *resident))
    );
    let mut statement = conn.prepare(&readings_sql)?;
    let mut rows = statement.query(rusqlite::named_params! {
        "$1": w.readings_from_us, "$2": w.readings_to_us,
    })?;
    let mut readings = Vec::new();
    while let Some(row) = rows.next()? {
        readings.push((row.get(0)?, row.get(1)?));
    }
    Ok((range, readings))
}

impl Store {
    /// The lowest and highest enrolment id, if there are enrolments: the span a facts
    /// scan divides into ranges.
    pub async fn enrolment_id_span(&self) -> Result<Option<(i64, i64)>> {
        let (low, high): (Option<i64>, Option<i64>) = on_read!(self, pool => {
            sqlx::query_as("SELECT MIN(id), MAX(id) FROM chronic_enrolments")
                .fetch_one(pool)
                .await?
        });
        Ok(low.zip(high))
    }

    /// The enrolments of a scope in the given programmes with ids in `after+1 ..=
    /// through`, with their follow-ups and latest home reading in the window: what
    /// the figures need and nothing of who the patients are
    /// ([`Store::indicator_patients`] adds that, for the lists). On SQLite it reads no
    /// resident or institution rows, and the follow-ups from their covering index.
    pub async fn indicator_facts(
        &self,
        scope: &IndicatorScope,
        diseases: &[Disease],
        w: &IndicatorWindow,
        (after, through): (i64, i64),
        reading_day: impl Fn(i64) -> Date,
    ) -> Result<Vec<PatientFacts>> {
        let (mut range, readings) = if let Some(direct) = self.direct() {
            let (scope, diseases, w) = (scope.clone(), diseases.to_vec(), *w);
            direct
                .scan(move |conn| sqlite_facts_range(conn, &scope, &diseases, &w, (after, through)))
                .await?
        } else {
            self.pooled_facts_range(scope, diseases, w, (after, through))
                .await?
        };
        range.attach_readings(readings, reading_day);
        Ok(range.into_facts())
    }

    /// The facts of a range through the pool (PostgreSQL): the same three reads, the
    /// follow-ups packed per enrolment.
    async fn pooled_facts_range(
        &self,
        scope: &IndicatorScope,
        diseases: &[Disease],
        w: &IndicatorWindow,
        (after, through): (i64, i64),
    ) -> Result<(FactsRange, Vec<LatestReading>)> {
        let (sql, institution, district) = facts_enrolments_sql(scope, diseases);
        let enrolments: Vec<RangeEnrolment> = on_read!(self, pool => {
            sqlx::query(trusted(&sql))
                .bind(institution).bind(&district).bind(w.enrolled_by).bind(w.active_from)
                .bind(after).bind(through)
                .fetch_all(pool).await?
                .iter()
                .map(|row| Ok((
                    row.i64("id")?,
                    row.i64("resident_id")?,
                    facts_of(&row.text("disease")?, row.date("enrolled_on")?, row.opt_date("ended_on")?)?,
                )))
                .collect::<Result<_>>()
        })?;
        let mut range = FactsRange::new(enrolments);
        if range.enrolments.is_empty() {
            return Ok((range, Vec::new()));
        }
        let (visits_sql, readings_sql) = chunk_sql(
            range.enrolments.iter().map(|(id, _, _)| *id),
            range.enrolments.iter().map(|(_, resident, _)| *resident),
            self.kind(),
        );
        let (visits, readings) = self.chunk_records(&visits_sql, &readings_sql, w).await?;
        for (enrolment_id, visit) in visits {
            if let Some(facts) = range.of(enrolment_id) {
                facts.visits.push(visit);
            }
        }
        let labs = self
            .pooled_labs(
                &labs_sql(range.enrolments.iter().map(|(_, resident, _)| *resident)),
                w,
            )
            .await?;
        range.attach_labs(labs);
        Ok((range, readings))
    }

    /// A chunk's laboratory results through the pool.
    async fn pooled_labs(&self, sql: &str, w: &IndicatorWindow) -> Result<Vec<LabRow>> {
        on_read!(self, pool => {
            sqlx::query(trusted(sql))
                .bind(w.visits_from).bind(w.visits_to)
                .fetch_all(pool).await?
                .iter()
                .map(|row| lab_row(
                    row.i64("resident_id")?,
                    row.i64("id")?,
                    &row.text("test")?,
                    row.i64("value_centi")?,
                    row.date("collected_on")?,
                ))
                .collect()
        })
    }

    /// A chunk's follow-ups (unpacked) and latest readings through the pool.
    async fn chunk_records(
        &self,
        visits_sql: &str,
        readings_sql: &str,
        w: &IndicatorWindow,
    ) -> Result<(Vec<(i64, VisitFact)>, Vec<LatestReading>)> {
        Ok(on_read!(self, pool => {
            let packed: Vec<(i64, String)> = sqlx::query_as(trusted(visits_sql))
                .bind(w.visits_from).bind(w.visits_to)
                .fetch_all(pool).await?;
            let mut visits = Vec::new();
            for (enrolment_id, text) in &packed {
                push_visits(&mut visits, *enrolment_id, text)?;
            }
            let readings: Vec<LatestReading> = sqlx::query_as(trusted(readings_sql))
                .bind(w.readings_from_us).bind(w.readings_to_us)
                .fetch_all(pool).await?;
            (visits, readings)
        }))
    }

    /// The next chunk of a scope's patients in a programme, by enrolment id after
    /// `after`, with their follow-ups and latest home reading in the window.
    pub async fn indicator_patients(
        &self,
        scope: &IndicatorScope,
        disease: Disease,
        w: &IndicatorWindow,
        after: i64,
        limit: u32,
        reading_day: impl Fn(i64) -> Date,
    ) -> Result<Vec<IndicatorPatient>> {
        let (scope_sql, institution, district) = scope_filter(scope);
        let sql = format!(
            "SELECT e.id, e.resident_id, r.name, r.id_number, r.sex, r.birth_date, e.institution_id,
                    i.name AS institution_name, e.enrolled_on, e.ended_on
             FROM chronic_enrolments e
             JOIN residents r ON r.id = e.resident_id
             JOIN institutions i ON i.id = e.institution_id
             WHERE {scope_sql} AND e.disease = $3 AND e.enrolled_on <= $4
               AND (e.ended_on IS NULL OR e.ended_on >= $5) AND e.id > $6
             ORDER BY e.id LIMIT $7"
        );
        // On SQLite the three reads of a chunk run on the direct lane, on one
        // connection off the request threads: rows through sqlx's driver cost more
        // than the queries (BENCHMARKS.md).
        let (mut patients, visits, readings, labs) = if let Some(direct) = self.direct() {
            let w = *w;
            let keys = std::sync::Arc::clone(&self.keys);
            direct
                .scan(move |conn| {
                    let mut statement = conn.prepare_cached(&sql)?;
                    let mut rows = statement.query(rusqlite::named_params! {
                        "$1": institution, "$2": district, "$3": disease.code(),
                        "$4": w.enrolled_by.to_string(), "$5": w.active_from.to_string(),
                        "$6": after, "$7": i64::from(limit),
                    })?;
                    let mut patients = Vec::new();
                    while let Some(row) = rows.next()? {
                        patients.push(patient_of(&keys, row, disease)?);
                    }
                    if patients.is_empty() {
                        return Ok((patients, Vec::new(), Vec::new(), Vec::new()));
                    }
                    let (visits_sql, readings_sql) = chunk_sql(
                        patients.iter().map(|p| p.enrolment_id),
                        patients.iter().map(|p| p.resident_id),
                        crate::EngineKind::Sqlite,
                    );
                    let mut visits = Vec::new();
                    let mut statement = conn.prepare(&visits_sql)?;
                    let mut rows = statement.query(rusqlite::named_params! {
                        "$1": w.visits_from.to_string(), "$2": w.visits_to.to_string(),
                    })?;
                    while let Some(row) = rows.next()? {
                        let text: String = row.get(1)?;
                        push_visits(&mut visits, row.get(0)?, &text)?;
                    }
                    let labs =
                        sqlite_labs(conn, &labs_sql(patients.iter().map(|p| p.resident_id)), &w)?;
                    let mut readings: Vec<LatestReading> = Vec::new();
                    let mut statement = conn.prepare(&readings_sql)?;
                    let mut rows = statement.query(rusqlite::named_params! {
                        "$1": w.readings_from_us, "$2": w.readings_to_us,
                    })?;
                    while let Some(row) = rows.next()? {
                        readings.push((row.get(0)?, row.get(1)?));
                    }
                    Ok((patients, visits, readings, labs))
                })
                .await?
        } else {
            let patients: Vec<IndicatorPatient> = on_read!(self, pool => {
                sqlx::query(trusted(&sql))
                    .bind(institution).bind(&district).bind(disease.code()).bind(w.enrolled_by)
                    .bind(w.active_from).bind(after).bind(i64::from(limit))
                    .fetch_all(pool).await?
                    .iter()
                    .map(|row| patient_of(&self.keys, row, disease))
                    .collect::<Result<_>>()
            })?;
            if patients.is_empty() {
                return Ok(patients);
            }
            let (visits_sql, readings_sql) = chunk_sql(
                patients.iter().map(|p| p.enrolment_id),
                patients.iter().map(|p| p.resident_id),
                self.kind(),
            );
            let (visits, readings) = self.chunk_records(&visits_sql, &readings_sql, w).await?;
            let labs = self
                .pooled_labs(&labs_sql(patients.iter().map(|p| p.resident_id)), w)
                .await?;
            (patients, visits, readings, labs)
        };
        if patients.is_empty() {
            return Ok(patients);
        }
        let index: std::collections::HashMap<i64, usize> = patients
            .iter()
            .enumerate()
            .map(|(i, p)| (p.enrolment_id, i))
            .collect();
        for (enrolment_id, v) in visits {
            if let Some(&i) = index.get(&enrolment_id) {
                patients[i].facts.visits.push(v);
            }
        }
        // A resident may be enrolled in both programmes: every enrolment gets the day.
        let mut by_resident: std::collections::HashMap<i64, Vec<usize>> =
            std::collections::HashMap::new();
        for (i, p) in patients.iter().enumerate() {
            by_resident.entry(p.resident_id).or_default().push(i);
        }
        for (resident_id, latest_us) in readings {
            for &i in by_resident.get(&resident_id).into_iter().flatten() {
                patients[i].facts.reading_days.push(reading_day(latest_us));
            }
        }
        for (resident_id, fact) in labs {
            for &i in by_resident.get(&resident_id).into_iter().flatten() {
                patients[i].facts.visits.push(fact);
            }
        }
        Ok(patients)
    }
}
