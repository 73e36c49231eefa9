//! The facts a year of capitation is counted from (issue 17): each person's contracts
//! and chronic enrolments touching the year, a chunk of persons at a time, and the
//! costs of a chunk's persons.
//!
//! The year-end clearing reads every enrolled person of a city and their year of fee
//! lines — millions of rows. On SQLite a chunk is read through the direct lane
//! ([`crate::direct`]: rusqlite on tokio's blocking pool, its statements in one read
//! transaction, so they see one state of the database) rather than row by row through
//! sqlx's channel; PostgreSQL reads the same statements through the pool. Both map
//! their rows with the same functions.

use rusqlite::ToSql;
use time::Date;

use crate::direct::{ByPlace, bind};
use crate::row::RowExt;
use crate::{Result, Store, on_read};

/// (institution, first day, last day as the term says, ended early on, status).
pub type ContractFact = (i64, Date, Date, Option<Date>, String);
/// (disease, institution, enrolled on, last day under management).
pub type EnrolmentFact = (String, i64, Date, Option<Date>);

/// A person's contracts and chronic enrolments that touch a year, for capitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberFacts {
    pub resident_id: i64,
    pub birth_date: Date,
    pub deceased_on: Option<Date>,
    pub contracts: Vec<ContractFact>,
    pub enrolments: Vec<EnrolmentFact>,
}

/// Where a cost comes from, as the store reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostOrigin {
    /// A cloud-pharmacy settlement in force, by its time.
    Pharmacy { at_us: i64 },
    /// A cloud-centre order completed, by its time; priced by the app.
    Exam { at_us: i64 },
    /// A settlement of the bureau's file, by its day.
    Bureau { on: Date },
}

/// A cost of a person: where it happened and the fund's share (an exam's share is the
/// app's to compute: 0 here, with its item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostFact {
    pub resident_id: i64,
    pub origin: CostOrigin,
    pub institution_id: Option<i64>,
    pub item_code: Option<String>,
    /// A 门特 settlement's disease.
    pub disease: Option<String>,
    pub fund_fen: i64,
}

// A chunk is a range of resident ids: its persons are those of the range with a
// contract or an enrolment touching the days (the range's rows read once each, where
// finding a chunk's persons first had read the contracts twice).
const LAST_RESIDENT: &str = "SELECT MAX(id) FROM residents";

// The chunk's facts: $1 lo, $2 hi (resident ids), $3 first, $4 last.
const PEOPLE: &str =
    "SELECT id, birth_date, deceased_on FROM residents WHERE id BETWEEN $1 AND $2 ORDER BY id";
const CONTRACTS: &str =
    "SELECT resident_id, institution_id, start_on, end_on, ended_on, status FROM contracts
  WHERE resident_id BETWEEN $1 AND $2 AND start_on <= $4 AND end_on >= $3
  ORDER BY resident_id, start_on, id";
const ENROLMENTS: &str =
    "SELECT resident_id, disease, institution_id, enrolled_on, ended_on FROM chronic_enrolments
  WHERE resident_id BETWEEN $1 AND $2 AND enrolled_on <= $4 AND (ended_on IS NULL OR ended_on >= $3)
  ORDER BY resident_id, enrolled_on, id";

// The chunk's costs: $1 lo, $2 hi, then $3 from_us, $4 to_us (kept by time) or $3
// first, $4 last (the bureau's, by day). The columns in the order the rows are read
// ([`ByPlace`] finds each at its first look).
const PHARMACY_COSTS: &str =
    "SELECT s.resident_id, s.settled_at_us, p.institution_id, s.disease, s.fund_fen
   FROM insurance_settlements s JOIN prescriptions p ON p.id = s.prescription_id
  WHERE s.status = 'settled' AND s.resident_id BETWEEN $1 AND $2
    AND s.settled_at_us >= $3 AND s.settled_at_us < $4";
const EXAM_COSTS: &str = "SELECT o.resident_id, e.at_us, o.centre_institution_id, o.item_code
   FROM exam_orders o JOIN exam_order_events e ON e.order_id = o.id AND e.status = 'completed'
  WHERE o.status = 'completed' AND o.resident_id BETWEEN $1 AND $2
    AND e.at_us >= $3 AND e.at_us < $4";
const BUREAU_COSTS: &str =
    "SELECT resident_id, settled_on, institution_id, fund_fen FROM bureau_settlements
  WHERE resident_id BETWEEN $1 AND $2 AND settled_on >= $3 AND settled_on <= $4";

fn person(r: &impl RowExt) -> Result<MemberFacts> {
    Ok(MemberFacts {
        resident_id: r.i64("id")?,
        birth_date: r.date("birth_date")?,
        deceased_on: r.opt_date("deceased_on")?,
        contracts: Vec::new(),
        enrolments: Vec::new(),
    })
}

fn contract(r: &impl RowExt) -> Result<(i64, ContractFact)> {
    Ok((
        r.i64("resident_id")?,
        (
            r.i64("institution_id")?,
            r.date("start_on")?,
            r.date("end_on")?,
            r.opt_date("ended_on")?,
            r.text("status")?,
        ),
    ))
}

fn enrolment(r: &impl RowExt) -> Result<(i64, EnrolmentFact)> {
    Ok((
        r.i64("resident_id")?,
        (
            r.text("disease")?,
            r.i64("institution_id")?,
            r.date("enrolled_on")?,
            r.opt_date("ended_on")?,
        ),
    ))
}

/// The facts of a range's persons from the rows read for it (each by resident id):
/// those with a contract or an enrolment.
fn assemble(
    people: Vec<MemberFacts>,
    contracts: Vec<(i64, ContractFact)>,
    enrolments: Vec<(i64, EnrolmentFact)>,
) -> Vec<MemberFacts> {
    let mut out = people;
    let at = |out: &[MemberFacts], id: i64| out.binary_search_by_key(&id, |m| m.resident_id).ok();
    for (id, c) in contracts {
        if let Some(i) = at(&out, id) {
            out[i].contracts.push(c);
        }
    }
    for (id, e) in enrolments {
        if let Some(i) = at(&out, id) {
            out[i].enrolments.push(e);
        }
    }
    out.retain(|p| !p.contracts.is_empty() || !p.enrolments.is_empty());
    out
}

/// The range of resident ids after `after`, at most `limit` of them, up to the last
/// resident `last_id`; `None` past it.
fn id_range(after: i64, limit: i64, last_id: Option<i64>) -> Option<(i64, i64)> {
    let last_id = last_id.filter(|l| *l > after)?;
    Some((after + 1, after.saturating_add(limit.max(1)).min(last_id)))
}

fn pharmacy_cost(r: &impl RowExt) -> Result<CostFact> {
    Ok(CostFact {
        resident_id: r.i64("resident_id")?,
        origin: CostOrigin::Pharmacy {
            at_us: r.i64("settled_at_us")?,
        },
        institution_id: Some(r.i64("institution_id")?),
        item_code: None,
        disease: Some(r.text("disease")?),
        fund_fen: r.i64("fund_fen")?,
    })
}

fn exam_cost(r: &impl RowExt) -> Result<CostFact> {
    Ok(CostFact {
        resident_id: r.i64("resident_id")?,
        origin: CostOrigin::Exam {
            at_us: r.i64("at_us")?,
        },
        institution_id: Some(r.i64("centre_institution_id")?),
        item_code: Some(r.text("item_code")?),
        disease: None,
        fund_fen: 0,
    })
}

fn bureau_cost(r: &impl RowExt) -> Result<CostFact> {
    Ok(CostFact {
        resident_id: r.i64("resident_id")?,
        origin: CostOrigin::Bureau {
            on: r.date("settled_on")?,
        },
        institution_id: r.opt_i64("institution_id")?,
        item_code: None,
        disease: None,
        fund_fen: r.i64("fund_fen")?,
    })
}

/// Every row of `sql` on a direct connection, those of `$1`…`$4` it uses bound to
/// `params` (as PostgreSQL takes them, by place), read by column place.
fn direct_rows<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    params: [&dyn ToSql; 4],
    map: impl Fn(&ByPlace<'_, '_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    direct_rows_into(&mut out, conn, sql, params, map)?;
    Ok(out)
}

/// [`direct_rows`] added to `out`.
fn direct_rows_into<T>(
    out: &mut Vec<T>,
    conn: &rusqlite::Connection,
    sql: &str,
    params: [&dyn ToSql; 4],
    map: impl Fn(&ByPlace<'_, '_>) -> Result<T>,
) -> Result<()> {
    let mut statement = conn.prepare_cached(sql)?;
    for (name, value) in ["$1", "$2", "$3", "$4"].into_iter().zip(params) {
        if let Some(at) = statement.parameter_index(name)? {
            statement.raw_bind_parameter(at, value)?;
        }
    }
    let columns: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next()? {
        out.push(map(&ByPlace::new(row, &columns))?);
    }
    Ok(())
}

impl Store {
    /// The facts of the persons with a contract or a chronic enrolment touching
    /// `[first, last]` among the next `limit` resident ids after `after` — so at most
    /// `limit` —, and the last id of the range read. A chunk may hold fewer, or no one,
    /// while more persons remain: only `None` says the end.
    pub async fn member_facts(
        &self,
        first: Date,
        last: Date,
        after: i64,
        limit: i64,
    ) -> Result<(Vec<MemberFacts>, Option<i64>)> {
        if let Some(direct) = self.direct() {
            return direct
                .scan(move |conn| {
                    // one state of the database for the chunk's statements
                    let _snapshot = conn.unchecked_transaction()?;
                    let last_id: Option<i64> = conn
                        .prepare_cached(LAST_RESIDENT)?
                        .query_row([], |r| r.get(0))?;
                    let Some((lo, hi)) = id_range(after, limit, last_id) else {
                        return Ok((Vec::new(), None));
                    };
                    let (first_day, last_day) = (bind::day(first), bind::day(last));
                    let range: [&dyn ToSql; 4] = [&lo, &hi, &first_day, &last_day];
                    let people = direct_rows(conn, PEOPLE, range, |r| person(r))?;
                    let contracts = direct_rows(conn, CONTRACTS, range, |r| contract(r))?;
                    let enrolments = direct_rows(conn, ENROLMENTS, range, |r| enrolment(r))?;
                    Ok((assemble(people, contracts, enrolments), Some(hi)))
                })
                .await;
        }
        on_read!(self, pool => {
            let last_id: Option<i64> = sqlx::query_scalar(LAST_RESIDENT).fetch_one(pool).await?;
            let Some((lo, hi)) = id_range(after, limit, last_id) else {
                return Ok((Vec::new(), None));
            };
            let range = |sql: &'static str| sqlx::query(sql).bind(lo).bind(hi).bind(first).bind(last).fetch_all(pool);
            let people = sqlx::query(PEOPLE).bind(lo).bind(hi).fetch_all(pool).await?
                .iter().map(person).collect::<Result<_>>()?;
            let contracts = range(CONTRACTS).await?.iter().map(contract).collect::<Result<_>>()?;
            let enrolments = range(ENROLMENTS).await?.iter().map(enrolment).collect::<Result<_>>()?;
            Ok((assemble(people, contracts, enrolments), Some(hi)))
        })
    }

    /// The costs of the residents `lo..=hi` in `[first, last]` (the microseconds
    /// `[from_us, to_us)` for those kept by time): cloud-pharmacy settlements in
    /// force, completed cloud-centre orders, the bureau's settlements. `expected`:
    /// how many the caller guesses there are (room is made for them; more are read).
    pub async fn cost_facts(
        &self,
        (lo, hi): (i64, i64),
        (first, last): (Date, Date),
        (from_us, to_us): (i64, i64),
        expected: usize,
    ) -> Result<Vec<CostFact>> {
        if let Some(direct) = self.direct() {
            return direct
                .scan(move |conn| {
                    let _snapshot = conn.unchecked_transaction()?;
                    let by_time: [&dyn ToSql; 4] = [&lo, &hi, &from_us, &to_us];
                    // one vector, made as large as the caller expects: at a city's scale
                    // its growth, each time a copy into fresh pages, cost a fifth of
                    // the read
                    let mut out = Vec::with_capacity(expected);
                    direct_rows_into(&mut out, conn, PHARMACY_COSTS, by_time, |r| {
                        pharmacy_cost(r)
                    })?;
                    direct_rows_into(&mut out, conn, EXAM_COSTS, by_time, |r| exam_cost(r))?;
                    let (first, last) = (bind::day(first), bind::day(last));
                    let by_day: [&dyn ToSql; 4] = [&lo, &hi, &first, &last];
                    direct_rows_into(&mut out, conn, BUREAU_COSTS, by_day, |r| bureau_cost(r))?;
                    Ok(out)
                })
                .await;
        }
        on_read!(self, pool => {
            let by_time = |sql: &'static str| sqlx::query(sql).bind(lo).bind(hi).bind(from_us).bind(to_us).fetch_all(pool);
            let mut out = by_time(PHARMACY_COSTS).await?.iter().map(pharmacy_cost).collect::<Result<Vec<_>>>()?;
            for r in by_time(EXAM_COSTS).await? {
                out.push(exam_cost(&r)?);
            }
            for r in sqlx::query(BUREAU_COSTS).bind(lo).bind(hi).bind(first).bind(last).fetch_all(pool).await? {
                out.push(bureau_cost(&r)?);
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::id_range;

    #[test]
    fn a_chunk_is_the_next_ids_up_to_the_last_resident() {
        // (after, limit, last resident) → range
        let cases = [
            (0, 5_000, None, None),
            (0, 5_000, Some(3), Some((1, 3))),
            (0, 2, Some(3), Some((1, 2))),
            (2, 2, Some(3), Some((3, 3))),
            (3, 2, Some(3), None),
            (9, 2, Some(3), None),
            (0, 0, Some(3), Some((1, 1))),
            (i64::MAX - 1, 5, Some(i64::MAX), Some((i64::MAX, i64::MAX))),
        ];
        for (after, limit, last, want) in cases {
            assert_eq!(
                id_range(after, limit, last),
                want,
                "{after} {limit} {last:?}"
            );
        }
    }
}
