//! The raw records behind the chronic-disease indicators: the enrolments of a scope
//! with their follow-ups and latest home reading in a window, a chunk at a time so a
//! city's worth of patients never sits in memory at once.

use gongti_core::chronic::indicators::{PatientFacts, VisitFact};
use gongti_core::chronic::{Bp, Disease};
use gongti_core::measure::{Mmol, Percent};
use gongti_core::{IdNumber, Sex};
use time::Date;

use crate::row::{RowExt, trusted};
use crate::{Result, Store, StoreError, on_read};

/// Whose patients: the managing institution, its district, or the whole city.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndicatorScope {
    City,
    District(String),
    Institution(i64),
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
fn patient_of(row: &impl RowExt, disease: Disease) -> Result<IndicatorPatient> {
    let sex = row.text("sex")?;
    Ok(IndicatorPatient {
        enrolment_id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        name: row.text("name")?,
        id_number: IdNumber::parse(&row.text("id_number")?, Date::MAX)
            .map_err(|_| StoreError::Corrupt("ID number".into()))?,
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
fn chunk_sql(patients: &[IndicatorPatient], engine: crate::EngineKind) -> (String, String) {
    // Integers read back from the database, not client input.
    let enrolments = patients
        .iter()
        .map(|p| p.enrolment_id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let residents = patients
        .iter()
        .map(|p| p.resident_id.to_string())
        .collect::<Vec<_>>()
        .join(",");
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

impl Store {
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
        let (scope_sql, institution, district) = match scope {
            IndicatorScope::City => ("($1 = $1 AND $2 = $2)", 0, String::new()),
            IndicatorScope::District(code) => {
                ("(i.district_code = $2 AND $1 = $1)", 0, code.clone())
            }
            IndicatorScope::Institution(id) => {
                ("(e.institution_id = $1 AND $2 = $2)", *id, String::new())
            }
        };
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
        let (mut patients, visits, readings) = if let Some(direct) = self.direct() {
            let w = *w;
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
                        patients.push(patient_of(row, disease)?);
                    }
                    if patients.is_empty() {
                        return Ok((patients, Vec::new(), Vec::new()));
                    }
                    let (visits_sql, readings_sql) =
                        chunk_sql(&patients, crate::EngineKind::Sqlite);
                    let mut visits = Vec::new();
                    let mut statement = conn.prepare(&visits_sql)?;
                    let mut rows = statement.query(rusqlite::named_params! {
                        "$1": w.visits_from.to_string(), "$2": w.visits_to.to_string(),
                    })?;
                    while let Some(row) = rows.next()? {
                        let text: String = row.get(1)?;
                        push_visits(&mut visits, row.get(0)?, &text)?;
                    }
                    let mut readings: Vec<LatestReading> = Vec::new();
                    let mut statement = conn.prepare(&readings_sql)?;
                    let mut rows = statement.query(rusqlite::named_params! {
                        "$1": w.readings_from_us, "$2": w.readings_to_us,
                    })?;
                    while let Some(row) = rows.next()? {
                        readings.push((row.get(0)?, row.get(1)?));
                    }
                    Ok((patients, visits, readings))
                })
                .await?
        } else {
            let patients: Vec<IndicatorPatient> = on_read!(self, pool => {
                sqlx::query(trusted(&sql))
                    .bind(institution).bind(&district).bind(disease.code()).bind(w.enrolled_by)
                    .bind(w.active_from).bind(after).bind(i64::from(limit))
                    .fetch_all(pool).await?
                    .iter()
                    .map(|row| patient_of(row, disease))
                    .collect::<Result<_>>()
            })?;
            if patients.is_empty() {
                return Ok(patients);
            }
            let (visits_sql, readings_sql) = chunk_sql(&patients, self.kind());
            let (visits, readings): (Vec<(i64, VisitFact)>, Vec<LatestReading>) = on_read!(self, pool => {
                let packed: Vec<(i64, String)> = sqlx::query_as(trusted(&visits_sql))
                    .bind(w.visits_from).bind(w.visits_to)
                    .fetch_all(pool).await?;
                let mut visits = Vec::new();
                for (enrolment_id, text) in &packed {
                    push_visits(&mut visits, *enrolment_id, text)?;
                }
                let readings: Vec<LatestReading> = sqlx::query_as(trusted(&readings_sql))
                    .bind(w.readings_from_us).bind(w.readings_to_us)
                    .fetch_all(pool).await?;
                (visits, readings)
            });
            (patients, visits, readings)
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
        Ok(patients)
    }
}
