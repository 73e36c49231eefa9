//! 签约率 kept as records are written: per scope (`c`, `d:<district>`,
//! `i:<institution>`, the resident's home institution), measure and day, the change in
//! residents counted (`gongti_core::contract::coverage_parts`). A scope's figure on a
//! day is the sum of its rows dated that day or earlier — a few hundred rows at most,
//! whatever the size of the register, where counting the register took 1.2 s for the
//! city at 1,000,000 residents (BENCHMARKS.md).
//!
//! Every write that changes what a resident counts for — registering, merging, a
//! contract signed, renewed, switched or terminated, an enrolment opened or ended —
//! reads the resident's facts in its transaction before and after (on PostgreSQL with
//! the resident's row locked first, so that two writes for one resident take turns)
//! and adds the difference. The demo's bulk loads leave the counters to the recompute
//! that ends them; `gongti indicators verify` compares the counters with a recompute
//! from the records.

use std::collections::{BTreeMap, HashMap};

use gongti_core::contract::{
    ContractState, ContractStatus, CoverageFacts, CoverageMeasure, coverage_parts,
};
use time::Date;

use crate::row::{RowExt, trusted};
use crate::{IndicatorScope, Result, Store, StoreError, on_read};

/// Changes of the kept counters: (scope, measure code, day) → residents. Applied in key
/// order, so that writers lock the rows they share in one order.
pub(crate) type CoverageChanges = BTreeMap<(String, &'static str, Date), i64>;

pub(crate) const ADD_COVERAGE: &str =
    "INSERT INTO coverage_counts (scope, measure, day, residents) VALUES ($1, $2, $3, $4)
     ON CONFLICT (scope, measure, day) DO UPDATE SET residents = coverage_counts.residents + excluded.residents";

/// Residents per round trip when facts are read for many.
pub(crate) const FACTS_CHUNK: usize = 500;

/// Residents per id range of the recompute.
const RECOMPUTE_SPAN: i64 = 50_000;

/// One resident's facts as stored, with the institution and district they count in.
#[derive(Debug, Clone)]
pub(crate) struct ResidentCoverage {
    pub institution_id: i64,
    pub district_code: String,
    pub facts: CoverageFacts,
}

/// The facts of the residents `filter` selects (SQL over `r`, the residents), one row
/// per contract (none: one row with NULLs). A merged-away record has no
/// row and counts nowhere.
pub(crate) fn facts_sql(filter: &str) -> String {
    format!(
        "SELECT r.id AS resident_id, r.home_institution_id, i.district_code,
                CAST(CASE WHEN EXISTS (SELECT 1 FROM chronic_enrolments e
                                       WHERE e.resident_id = r.id AND e.status = 'active')
                     THEN 1 ELSE 0 END AS BIGINT) AS managed,
                c.id AS contract_id, c.team_id, c.status, c.start_on, c.end_on, c.ended_on
         FROM residents r JOIN institutions i ON i.id = r.home_institution_id
         LEFT JOIN contracts c ON c.resident_id = r.id
         WHERE r.merged_into_id IS NULL AND {filter}"
    )
}

/// Gathers [`facts_sql`]'s rows by resident.
pub(crate) fn gather_facts(
    rows: &[impl RowExt],
    into: &mut HashMap<i64, ResidentCoverage>,
) -> Result<()> {
    for row in rows {
        gather_fact(row, into)?;
    }
    Ok(())
}

/// Gathers one of [`facts_sql`]'s rows.
fn gather_fact(row: &impl RowExt, into: &mut HashMap<i64, ResidentCoverage>) -> Result<()> {
    let entry = match into.entry(row.i64("resident_id")?) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(v) => v.insert(ResidentCoverage {
            institution_id: row.i64("home_institution_id")?,
            district_code: row.text("district_code")?,
            facts: CoverageFacts {
                registered: true,
                managed: row.i64("managed")? != 0,
                contracts: Vec::new(),
            },
        }),
    };
    if let Some(id) = row.opt_i64("contract_id")? {
        let status = row.text("status")?;
        entry.facts.contracts.push(ContractState {
            id,
            team_id: row.i64("team_id")?,
            status: ContractStatus::parse(&status)
                .ok_or_else(|| StoreError::Corrupt(format!("contract status {status:?}")))?,
            start_on: row.date("start_on")?,
            end_on: row.date("end_on")?,
            ended_on: row.opt_date("ended_on")?,
        });
    }
    Ok(())
}

/// Adds `sign` times a resident's parts to `changes`, in each of their scopes.
pub(crate) fn add_parts<K: From<&'static str> + Ord>(
    changes: &mut BTreeMap<(String, K, Date), i64>,
    r: &ResidentCoverage,
    sign: i64,
) {
    let scopes = crate::scopes_of(r.institution_id, &r.district_code);
    for (measure, day, n) in coverage_parts(&r.facts) {
        for scope in &scopes {
            *changes
                .entry((scope.clone(), K::from(measure.code()), day))
                .or_default() += sign * n;
        }
    }
}

/// What the residents' writes changed: their facts after less their facts before.
pub(crate) fn difference(
    before: &HashMap<i64, ResidentCoverage>,
    after: &HashMap<i64, ResidentCoverage>,
) -> CoverageChanges {
    let mut changes = CoverageChanges::new();
    for r in before.values() {
        add_parts(&mut changes, r, -1);
    }
    for r in after.values() {
        add_parts(&mut changes, r, 1);
    }
    changes.retain(|_, n| *n != 0);
    changes
}

/// What registering residents at these home institutions (institution, district)
/// adds: each counts as registered, with no contract or enrolment yet.
pub(crate) fn registered_changes<'a>(
    homes: impl IntoIterator<Item = (i64, &'a str)>,
) -> CoverageChanges {
    let mut per_home: BTreeMap<(i64, &str), i64> = BTreeMap::new();
    for home in homes {
        *per_home.entry(home).or_default() += 1;
    }
    let mut changes = CoverageChanges::new();
    for ((institution_id, district), n) in per_home {
        let r = ResidentCoverage {
            institution_id,
            district_code: district.to_owned(),
            facts: CoverageFacts {
                registered: true,
                managed: false,
                contracts: Vec::new(),
            },
        };
        add_parts(&mut changes, &r, n);
    }
    changes
}

/// Reads the facts of residents `$ids` (`&[i64]`) in the open transaction `$tx`; with
/// `$lock` (on PostgreSQL), locks their rows first, in id order, so that another write
/// for one of them waits until this one commits. Evaluates to the facts by resident.
macro_rules! coverage_facts_in {
    ($tx:ident, $ids:expr, $lock:expr) => {{
        let ids: &[i64] = $ids;
        let mut facts = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks($crate::coverage_counts::FACTS_CHUNK) {
            let list = $crate::row::id_list(chunk.iter().copied());
            if $lock && $crate::row::numbered(&$tx) {
                let sql = format!(
                    "SELECT id FROM residents WHERE id IN ({list}) ORDER BY id FOR NO KEY UPDATE"
                );
                sqlx::query($crate::row::trusted(&sql))
                    .fetch_all(&mut *$tx)
                    .await?;
            }
            let sql = $crate::coverage_counts::facts_sql(&format!("r.id IN ({list})"));
            let rows = sqlx::query($crate::row::trusted(&sql))
                .fetch_all(&mut *$tx)
                .await?;
            $crate::coverage_counts::gather_facts(&rows, &mut facts)?;
        }
        facts
    }};
}
pub(crate) use coverage_facts_in;

/// Adds `$changes` (`&CoverageChanges`) to the kept counters in the open transaction
/// `$tx`.
macro_rules! add_coverage_in {
    ($tx:ident, $changes:expr) => {{
        let changes: &$crate::coverage_counts::CoverageChanges = $changes;
        for ((scope, measure, day), n) in changes {
            let values = $crate::coverage_counts::coverage_values(scope, measure, *day, *n);
            $crate::row::bind_vals!(sqlx::query($crate::coverage_counts::ADD_COVERAGE), &values)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use add_coverage_in;

/// Counts residents just registered at home institutions `$homes` (`&[i64]`, one per
/// resident) in the open transaction `$tx`: each as registered, with no contract or
/// enrolment yet.
macro_rules! count_registered_in {
    ($tx:ident, $homes:expr) => {{
        let homes: &[i64] = $homes;
        let mut districts: std::collections::BTreeMap<i64, String> =
            std::collections::BTreeMap::new();
        for home in homes {
            if !districts.contains_key(home) {
                let (district,): (String,) = sqlx::query_as($crate::coverage_counts::DISTRICT_OF)
                    .bind(*home)
                    .fetch_one(&mut *$tx)
                    .await?;
                districts.insert(*home, district);
            }
        }
        let changes = $crate::coverage_counts::registered_changes(
            homes.iter().map(|h| (*h, districts[h].as_str())),
        );
        $crate::coverage_counts::add_coverage_in!($tx, &changes);
    }};
}
pub(crate) use count_registered_in;

/// [`add_coverage_in!`] on the SQLite hot path's own connection.
pub(crate) fn add_coverage_direct(
    tx: &rusqlite::Transaction<'_>,
    changes: &CoverageChanges,
) -> Result<()> {
    // SQLite numbers `$1` … `$4` in order, as the values are bound.
    for ((scope, measure, on), n) in changes {
        crate::direct::execute_values(
            tx,
            ADD_COVERAGE,
            coverage_values(scope, measure, *on, *n).into(),
        )?;
    }
    Ok(())
}

/// The values of [`ADD_COVERAGE`].
pub(crate) fn coverage_values<'a>(
    scope: &'a str,
    measure: &'a str,
    day: Date,
    n: i64,
) -> [crate::row::Val<'a>; 4] {
    use crate::row::Val;
    [
        Val::text(scope),
        Val::text(measure),
        Val::day(day),
        Val::int(n),
    ]
}

/// An institution's district code (`$1` the institution).
pub(crate) const DISTRICT_OF: &str = "SELECT district_code FROM institutions WHERE id = $1";

/// [`coverage_facts_in!`] (without locks: SQLite's write transaction holds the
/// database) on the SQLite hot path's own connection.
pub(crate) fn coverage_facts_direct(
    tx: &rusqlite::Transaction<'_>,
    ids: &[i64],
) -> Result<HashMap<i64, ResidentCoverage>> {
    let mut facts = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(FACTS_CHUNK) {
        let sql = facts_sql(&format!(
            "r.id IN ({})",
            crate::row::id_list(chunk.iter().copied())
        ));
        let mut statement = tx.prepare(&sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            gather_fact(row, &mut facts)?;
        }
    }
    Ok(facts)
}

/// [`count_registered_in!`] on the SQLite hot path's own connection.
pub(crate) fn count_registered_direct(tx: &rusqlite::Transaction<'_>, homes: &[i64]) -> Result<()> {
    let mut districts: BTreeMap<i64, String> = BTreeMap::new();
    let mut lookup = tx.prepare_cached(DISTRICT_OF)?;
    for home in homes {
        if !districts.contains_key(home) {
            districts.insert(*home, lookup.query_row([home], |row| row.get(0))?);
        }
    }
    let changes = registered_changes(homes.iter().map(|h| (*h, districts[h].as_str())));
    add_coverage_direct(tx, &changes)
}

/// Re-reads residents `$ids` after a write and adds what changed since `$before` (their
/// facts read with [`coverage_facts_in!`] at the start of the transaction).
macro_rules! restate_coverage_in {
    ($tx:ident, $ids:expr, $before:expr) => {{
        let after = $crate::coverage_counts::coverage_facts_in!($tx, $ids, false);
        let changes = $crate::coverage_counts::difference(&$before, &after);
        $crate::coverage_counts::add_coverage_in!($tx, &changes);
    }};
}
pub(crate) use restate_coverage_in;

/// How far contracts reach in a scope (see [`Store::contract_coverage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ContractCoverage {
    pub residents: u64,
    pub contracted: u64,
    pub chronic: u64,
    pub chronic_contracted: u64,
}

impl Store {
    /// How far contracts reach in a scope on `today` (签约率): residents registered
    /// there (not merged away), those with a contract in force, and the same among
    /// patients under chronic-disease management — by each resident's home
    /// institution, from the kept counters.
    pub async fn contract_coverage(
        &self,
        scope: &IndicatorScope,
        today: Date,
    ) -> Result<ContractCoverage> {
        let rows: Vec<(String, Option<i64>)> = on_read!(self, pool => {
            sqlx::query_as(
                "SELECT measure, CAST(SUM(residents) AS BIGINT) FROM coverage_counts
                 WHERE scope = $1 AND day <= $2 GROUP BY measure",
            )
            .bind(scope.counter_key()).bind(today)
            .fetch_all(pool).await?
        });
        let mut out = ContractCoverage::default();
        for (measure, n) in rows {
            let n = u64::try_from(n.unwrap_or(0)).unwrap_or(0);
            match CoverageMeasure::parse(&measure) {
                Some(CoverageMeasure::Residents) => out.residents = n,
                Some(CoverageMeasure::Contracted) => out.contracted = n,
                Some(CoverageMeasure::Managed) => out.chronic = n,
                Some(CoverageMeasure::ManagedContracted) => out.chronic_contracted = n,
                None => return Err(StoreError::Corrupt(format!("coverage measure {measure:?}"))),
            }
        }
        Ok(out)
    }

    /// The 签约率 counters recomputed from the records, an id range of residents at a
    /// time: (scope, measure, day) → residents, without zeros.
    pub(crate) async fn recompute_coverage(&self) -> Result<BTreeMap<(String, String, Date), i64>> {
        let (last,): (Option<i64>,) = on_read!(self, pool => {
            sqlx::query_as("SELECT MAX(id) FROM residents").fetch_one(pool).await?
        });
        let mut counts = BTreeMap::new();
        let mut from = 0i64;
        while from < last.unwrap_or(0) {
            let sql = facts_sql("r.id > $1 AND r.id <= $2");
            let mut facts = HashMap::new();
            on_read!(self, pool => {
                let rows = sqlx::query(trusted(&sql))
                    .bind(from).bind(from + RECOMPUTE_SPAN)
                    .fetch_all(pool).await?;
                gather_facts(&rows, &mut facts)?;
            });
            for r in facts.values() {
                add_parts(&mut counts, r, 1);
            }
            from += RECOMPUTE_SPAN;
        }
        counts.retain(|_, n| *n != 0);
        Ok(counts)
    }

    /// The 签约率 counters as stored, without zeros.
    pub(crate) async fn stored_coverage(&self) -> Result<BTreeMap<(String, String, Date), i64>> {
        let rows: Vec<(String, String, Date, i64)> = on_read!(self, pool => {
            sqlx::query_as("SELECT scope, measure, day, residents FROM coverage_counts WHERE residents <> 0")
                .fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(s, m, d, n)| ((s, m, d), n))
            .collect())
    }
}
