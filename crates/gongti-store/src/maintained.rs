//! The indicator figures kept as records are written (see
//! `gongti_core::chronic::maintained`): per-enrolment period facts, per-scope
//! counters and enrolment counts by day, updated inside the transaction that writes
//! the follow-up, reading or enrolment; and the full recompute from raw records that
//! rebuilds them or checks them.

use std::collections::{BTreeMap, HashMap};

use gongti_core::chronic::indicators::VisitFact;
use gongti_core::chronic::maintained::{
    Contribution, EndingEffect, PeriodFacts, StandardPeriod, apply_reading, apply_visit,
};
use gongti_core::chronic::{Bp, Disease, Params};
use gongti_core::measure::{Mmol, Percent};
use time::Date;

use crate::row::{RowExt, Val, trusted};
use crate::{Engine, Result, Store, StoreError, on_read};

/// What changed for one enrolment.
#[derive(Debug, Clone)]
pub enum IndicatorEvent {
    Visit(VisitFact),
    /// Days with a home reading (contact).
    Readings(Vec<Date>),
}

/// One enrolment's change, with the scopes its counters live in.
#[derive(Debug, Clone)]
pub struct IndicatorUpdate {
    pub enrolment_id: i64,
    pub disease: Disease,
    pub enrolled_on: Date,
    /// The last day under management, when the enrolment has ended (结案).
    pub ended_on: Option<Date>,
    /// `c`, `d:<district>`, `i:<institution>`.
    pub scopes: [String; 3],
    pub event: IndicatorEvent,
}

/// The counter scopes of an institution in a district.
pub fn scopes_of(institution_id: i64, district_code: &str) -> [String; 3] {
    [
        "c".to_owned(),
        format!("d:{district_code}"),
        format!("i:{institution_id}"),
    ]
}

/// The periods an event touches and the facts after it.
pub fn periods_of(event: &IndicatorEvent, params: &Params) -> Vec<StandardPeriod> {
    match event {
        IndicatorEvent::Visit(v) => {
            gongti_core::chronic::maintained::periods_touched(v.visit_on, v.face_to_face, params)
        }
        IndicatorEvent::Readings(days) => {
            let mut all: Vec<StandardPeriod> = days
                .iter()
                .flat_map(|d| StandardPeriod::ending_within(*d, params.lost_to_follow_up_days))
                .collect();
            all.sort();
            all.dedup();
            all
        }
    }
}

pub fn apply_event(
    f: PeriodFacts,
    p: StandardPeriod,
    u: &IndicatorUpdate,
    params: &Params,
) -> PeriodFacts {
    match &u.event {
        IndicatorEvent::Visit(v) => apply_visit(f, p, v, u.disease, params),
        IndicatorEvent::Readings(days) => {
            days.iter().fold(f, |f, d| apply_reading(f, p, *d, params))
        }
    }
}

/// An `indicator_year_facts` row: its enrolment and the facts of the periods of its year.
pub(crate) fn facts_of_row(row: &impl RowExt) -> Result<(i64, YearFacts)> {
    let year = i32::try_from(row.i64("year")?)
        .map_err(|_| StoreError::Corrupt("indicator_year_facts.year".into()))?;
    Ok((
        row.i64("enrolment_id")?,
        unpack_year(year, &row.bytes("facts")?)?,
    ))
}

/// The periods of one year that have facts, and their facts, in slot order.
pub(crate) type YearFacts = Vec<(StandardPeriod, PeriodFacts)>;

/// The first byte of a packed year of facts: the format's version.
const PACKED_FACTS_V1: u8 = 1;

/// An enrolment's facts of the periods of one year, packed into one value (migration
/// 0047: a row a year rather than a row a period — an import of a city's history wrote
/// about thirty rows an enrolment, most of the rows it wrote; BENCHMARKS.md). After
/// the version byte, for each period in the order of its slot
/// ([`StandardPeriod::slot`]): the slot; face-to-face visits (u32); the latest BP, FPG
/// and HbA1c, each a tag (0 none, 1 not controlled, 2 controlled) followed when
/// present by its day (Julian day, i32) and its record's id (i64); then a flags byte
/// (1 seen, 2 contacted). Little-endian throughout. `periods` in slot order, all of
/// the same year.
pub(crate) fn pack_year(periods: &[(StandardPeriod, PeriodFacts)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + periods.len() * 12);
    out.push(PACKED_FACTS_V1);
    for (p, f) in periods {
        out.push(p.slot());
        out.extend_from_slice(&f.face_to_face.to_le_bytes());
        for latest in [f.latest_bp, f.latest_fpg, f.latest_hba1c] {
            match latest {
                None => out.push(0),
                Some((on, id, ok)) => {
                    out.push(1 + u8::from(ok));
                    out.extend_from_slice(&on.to_julian_day().to_le_bytes());
                    out.extend_from_slice(&id.to_le_bytes());
                }
            }
        }
        out.push(u8::from(f.seen_recently) | u8::from(f.contacted) << 1);
    }
    out
}

/// The periods of `year` and their facts from a [`pack_year`] value; anything else
/// (another version, a slot out of order or out of range, a value cut short or too
/// long) is refused as corrupt.
pub(crate) fn unpack_year(year: i32, bytes: &[u8]) -> Result<YearFacts> {
    let corrupt = || StoreError::Corrupt(format!("indicator_year_facts of {year}"));
    let mut rest = match bytes.split_first() {
        Some((&PACKED_FACTS_V1, rest)) => rest,
        _ => return Err(corrupt()),
    };
    fn take<const N: usize>(rest: &mut &[u8]) -> Option<[u8; N]> {
        let (head, tail) = rest.split_first_chunk::<N>()?;
        *rest = tail;
        Some(*head)
    }
    let mut out: YearFacts = Vec::new();
    while let Some([slot]) = take::<1>(&mut rest) {
        let period = StandardPeriod::at_slot(year, slot).ok_or_else(corrupt)?;
        if out.last().is_some_and(|(before, _)| before.slot() >= slot) {
            return Err(corrupt());
        }
        let face_to_face = u32::from_le_bytes(take(&mut rest).ok_or_else(corrupt)?);
        let mut latest = [None; 3];
        for l in &mut latest {
            *l = match take::<1>(&mut rest).ok_or_else(corrupt)? {
                [0] => None,
                [tag @ (1 | 2)] => {
                    let day = i32::from_le_bytes(take(&mut rest).ok_or_else(corrupt)?);
                    let id = i64::from_le_bytes(take(&mut rest).ok_or_else(corrupt)?);
                    let on = Date::from_julian_day(day).map_err(|_| corrupt())?;
                    Some((on, id, tag == 2))
                }
                _ => return Err(corrupt()),
            };
        }
        let [flags] = take::<1>(&mut rest).ok_or_else(corrupt)?;
        if flags > 3 {
            return Err(corrupt());
        }
        out.push((
            period,
            PeriodFacts {
                face_to_face,
                latest_bp: latest[0],
                latest_fpg: latest[1],
                latest_hba1c: latest[2],
                seen_recently: flags & 1 != 0,
                contacted: flags & 2 != 0,
            },
        ));
    }
    Ok(out)
}

/// An enrolment's packed facts of a year, to write: (enrolment, year, [`pack_year`]).
pub(crate) type YearRow = (i64, i32, Vec<u8>);

/// The rows that hold `changed` (facts rows as [`fold_updates`] gives them): for each
/// enrolment and year it touches, the year's stored periods (`stored`, as read by
/// [`select_touched_facts`]: whole years) with the changed ones put in, periods with
/// no facts left out. In key order.
pub(crate) fn year_rows<S: std::hash::BuildHasher>(
    changed: &[FactsRow],
    stored: &HashMap<(i64, StandardPeriod), PeriodFacts, S>,
) -> Vec<YearRow> {
    let mut sorted: Vec<&FactsRow> = changed.iter().collect();
    sorted.sort_unstable_by_key(|(id, p, _)| (*id, p.year(), p.slot()));
    // One change a period (the fold's keys): a second would be packed as a slot
    // repeated, which no read would take.
    debug_assert!(
        sorted
            .windows(2)
            .all(|w| (w[0].0, w[0].1) != (w[1].0, w[1].1)),
        "a period changed twice"
    );
    sorted.dedup_by_key(|(id, p, _)| (*id, *p));
    let mut rows: Vec<YearRow> = Vec::new();
    let mut year: YearFacts = Vec::with_capacity(17);
    let mut rest = &sorted[..];
    while let Some(((id, first, _), _)) = rest.split_first() {
        let (id, y) = (*id, first.year());
        let n = rest
            .iter()
            .take_while(|(i, p, _)| *i == id && p.year() == y)
            .count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        year.clear();
        if stored.is_empty() {
            year.extend(group.iter().map(|(_, p, f)| (*p, *f)));
        } else {
            let mut changed = group.iter().peekable();
            for p in (0..17).filter_map(|slot| StandardPeriod::at_slot(y, slot)) {
                let now = match changed.peek() {
                    Some((_, q, f)) if *q == p => {
                        changed.next();
                        Some(*f)
                    }
                    _ => stored.get(&(id, p)).copied(),
                };
                year.extend(now.map(|f| (p, f)));
            }
        }
        year.retain(|(_, f)| *f != PeriodFacts::default());
        rows.push((id, y, pack_year(&year)));
    }
    rows
}

pub(crate) const ADD_COUNT: &str = "INSERT INTO indicator_counts (scope, disease, period, measure, value) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (scope, disease, period, measure) DO UPDATE SET value = indicator_counts.value + excluded.value";

pub(crate) const ADD_ENDING: &str =
    "INSERT INTO ending_counts (scope, disease, effect, day, ended) VALUES ($1, $2, $3, $4, 1)
    ON CONFLICT (scope, disease, effect, day) DO UPDATE SET ended = ending_counts.ended + 1";

/// What makes a multi-row `INSERT INTO enrolment_counts` add to the stored counts.
pub(crate) const ADD_ENROLMENT_TAIL: &str = "ON CONFLICT (scope, disease, day) DO UPDATE SET enrolled = enrolment_counts.enrolled + excluded.enrolled";

/// Adds a contribution's change (`$delta`, in the order of `Contribution::MEASURES`)
/// to a period's counters in every scope, inside an open transaction `$tx`.
macro_rules! add_count_deltas {
    ($tx:expr, $scopes:expr, $disease_code:expr, $period_code:expr, $delta:expr) => {{
        for (measure, d) in gongti_core::chronic::maintained::Contribution::MEASURES
            .iter()
            .zip($delta)
        {
            if d == 0 {
                continue;
            }
            for scope in $scopes.iter() {
                sqlx::query($crate::maintained::ADD_COUNT)
                    .bind(scope)
                    .bind($disease_code)
                    .bind($period_code)
                    .bind(*measure)
                    .bind(d)
                    .execute(&mut *$tx)
                    .await?;
            }
        }
    }};
}
pub(crate) use add_count_deltas;

/// A period's facts of an enrolment, to write.
pub(crate) type FactsRow = (i64, StandardPeriod, PeriodFacts);
/// A counter's change: (scope, disease, period, measure, change).
pub(crate) type CountChange<'a> = (&'a str, &'static str, StandardPeriod, &'static str, i64);

/// What a set of indicator updates changes: the facts rows to write and the counters
/// to add to, from the stored facts of the periods they touch. Updates apply in
/// order, an enrolment's one after another, as if each were written alone; the
/// counters get each period's whole change once.
pub(crate) fn fold_updates<'a>(
    updates: &'a [IndicatorUpdate],
    stored: &HashMap<(i64, StandardPeriod), PeriodFacts>,
    params: &Params,
) -> (Vec<FactsRow>, Vec<CountChange<'a>>) {
    // (enrolment, period) → (facts before, facts now, the update that last touched it).
    // Keys of our own, hashed fast: SipHash's resistance to chosen keys was a third of
    // the fold (BENCHMARKS.md, *Importing history*).
    let mut touched: HashMap<
        (i64, StandardPeriod),
        (PeriodFacts, PeriodFacts, usize),
        foldhash::fast::RandomState,
    > = HashMap::with_capacity_and_hasher(updates.len() * 8, Default::default());
    for (k, u) in updates.iter().enumerate() {
        for p in periods_of(&u.event, params) {
            let entry = touched.entry((u.enrolment_id, p)).or_insert_with(|| {
                let old = stored
                    .get(&(u.enrolment_id, p))
                    .copied()
                    .unwrap_or_default();
                (old, old, k)
            });
            entry.1 = apply_event(entry.1, p, u, params);
            entry.2 = k;
        }
    }
    // The counters' changes are summed per (scope set, disease, period) first: the
    // updates of one write share a few scope sets (mostly one), so each set is
    // compared once per update rather than its scopes hashed for every row and measure.
    let mut sets: Vec<&'a [String; 3]> = Vec::new();
    let set_of: Vec<usize> = updates
        .iter()
        .map(|u| match sets.iter().position(|s| **s == u.scopes) {
            Some(i) => i,
            None => {
                sets.push(&u.scopes);
                sets.len() - 1
            }
        })
        .collect();
    let mut facts = Vec::with_capacity(touched.len());
    let mut sums: HashMap<
        (usize, &'static str, StandardPeriod),
        [i64; 8],
        foldhash::fast::RandomState,
    > = HashMap::default();
    for ((enrolment_id, p), (old, new, k)) in touched {
        if new == old {
            continue;
        }
        facts.push((enrolment_id, p, new));
        let u = &updates[k];
        let delta = new
            .contribution(p, u.enrolled_on, u.ended_on, params)
            .minus(&old.contribution(p, u.enrolled_on, u.ended_on, params));
        if delta.iter().all(|d| *d == 0) {
            continue;
        }
        let sum = sums
            .entry((set_of[k], u.disease.code(), p))
            .or_insert([0; 8]);
        for (s, d) in sum.iter_mut().zip(delta) {
            *s += d;
        }
    }
    // In key order: the same statements for the same updates, and rows locked in
    // one order by every writer.
    facts.sort_unstable_by_key(|(id, p, _)| (*id, *p));
    let mut counts: Vec<CountChange<'a>> = Vec::new();
    for ((set, disease, period), sum) in sums {
        for (measure, change) in Contribution::MEASURES.iter().zip(sum) {
            if change != 0 {
                counts.extend(
                    sets[set]
                        .iter()
                        .map(|scope| (scope.as_str(), disease, period, *measure, change)),
                );
            }
        }
    }
    // Sets that share a scope (the city, a district) give its counters one change each,
    // as one statement may touch a row once (PostgreSQL's rule for an upsert).
    let key = |c: &CountChange<'a>| (c.0, c.1, c.2, c.3);
    counts.sort_unstable_by_key(key);
    counts.dedup_by(|later, kept| {
        let same = key(later) == key(kept);
        if same {
            kept.4 += later.4;
        }
        same
    });
    counts.retain(|c| c.4 != 0);
    (facts, counts)
}

/// The SELECT of the stored facts a set of updates reads — the whole years of the
/// periods they touch —, but those of `fresh` enrolments (ascending; none stored
/// yet); ids and years are integers of ours.
pub(crate) fn select_touched_facts(
    updates: &[IndicatorUpdate],
    params: &Params,
    fresh: &[i64],
) -> Option<String> {
    let stored: Vec<&IndicatorUpdate> = updates
        .iter()
        .filter(|u| fresh.binary_search(&u.enrolment_id).is_err())
        .collect();
    let mut enrolments: Vec<i64> = stored.iter().map(|u| u.enrolment_id).collect();
    enrolments.sort_unstable();
    enrolments.dedup();
    let mut years: Vec<i32> = stored
        .iter()
        .flat_map(|u| periods_of(&u.event, params))
        .map(StandardPeriod::year)
        .collect();
    years.sort_unstable();
    years.dedup();
    if years.is_empty() {
        return None;
    }
    Some(format!(
        "SELECT * FROM indicator_year_facts WHERE enrolment_id IN ({}) AND year IN ({})",
        crate::row::id_list(enrolments.into_iter()),
        crate::row::id_list(years.into_iter().map(i64::from))
    ))
}

/// The class of PostgreSQL's transaction locks on enrolments' kept facts (the two-key
/// form, whose keys do not overlap the one-key locks of the chain, the migrations and
/// the payment scheme).
const PG_FACTS_LOCK_CLASS: i32 = 0x676f_6e67;
/// The enrolments share this many of those locks (by id modulo): a write holds at
/// most this many however many enrolments it touches (PostgreSQL's lock table has
/// room for some thousands in all), at the cost of now and then waiting for a write
/// of another enrolment.
const PG_FACTS_LOCKS: i64 = 1024;

/// On PostgreSQL, the locks taken before [`select_touched_facts`] is read: those of
/// the stored enrolments the updates touch ([`PG_FACTS_LOCKS`]), taken in one order in
/// one statement. A write
/// reads whole years of an enrolment's facts and writes them back whole, so two
/// writes of one enrolment's year (a home reading and a laboratory result, which
/// lock no enrolment row) must not read it side by side, each then writing back
/// without the other's change. Advisory locks rather than the enrolments' rows: a
/// write that already holds enrolment rows in another order (an import) cannot meet
/// a reading's write in a cycle of row locks. (SQLite has one writer at a time.)
pub(crate) fn lock_touched_enrolments(
    updates: &[IndicatorUpdate],
    fresh: &[i64],
) -> Option<String> {
    let mut locks: Vec<i64> = updates
        .iter()
        .map(|u| u.enrolment_id)
        .filter(|id| fresh.binary_search(id).is_err())
        .map(|id| id.rem_euclid(PG_FACTS_LOCKS))
        .collect();
    locks.sort_unstable();
    locks.dedup();
    (!locks.is_empty()).then(|| {
        // The sort is fenced in its subquery (OFFSET 0): the locks follow its order.
        format!(
            "SELECT pg_advisory_xact_lock({PG_FACTS_LOCK_CLASS}, s.k) \
             FROM (SELECT k FROM unnest(ARRAY[{}]::int[]) AS u(k) ORDER BY k OFFSET 0) AS s",
            crate::row::id_list(locks.into_iter())
        )
    })
}

pub(crate) const UPSERT_FACTS_HEAD: &str =
    "INSERT INTO indicator_year_facts (enrolment_id, year, facts) VALUES";
pub(crate) const UPSERT_FACTS_TAIL: &str =
    "ON CONFLICT (enrolment_id, year) DO UPDATE SET facts = excluded.facts";
pub(crate) const ADD_COUNTS_HEAD: &str =
    "INSERT INTO indicator_counts (scope, disease, period, measure, value) VALUES";
pub(crate) const ADD_COUNTS_TAIL: &str = "ON CONFLICT (scope, disease, period, measure) DO UPDATE SET value = indicator_counts.value + excluded.value";

/// Years of facts an upsert statement writes (3 values a row).
pub(crate) const FACTS_PER_INSERT: usize = 256;
/// Counter changes an upsert statement adds (5 values a row).
pub(crate) const COUNTS_PER_INSERT: usize = 512;

/// Applies indicator updates inside an open transaction `$tx` (either engine): the
/// touched facts read in one statement, folded in memory ([`fold_updates`]), and
/// written back with the counters' changes in a few multi-row statements of bound
/// values. With `fresh:` (`&[i64]`, ascending), enrolments that have no stored facts
/// yet (made in this transaction) are not read.
macro_rules! apply_indicator_updates {
    ($tx:expr, $updates:expr, $params:expr) => {
        $crate::maintained::apply_indicator_updates!($tx, $updates, $params, fresh: &[])
    };
    ($tx:expr, $updates:expr, $params:expr, fresh: $fresh:expr) => {{
        let updates: &[$crate::maintained::IndicatorUpdate] = &$updates;
        let fresh: &[i64] = $fresh;
        let mut stored = std::collections::HashMap::new();
        let numbered = $crate::row::numbered(&$tx);
        if numbered
            && let Some(sql) = $crate::maintained::lock_touched_enrolments(updates, fresh)
        {
            sqlx::query($crate::row::trusted(&sql))
                .execute(&mut *$tx)
                .await?;
        }
        if let Some(sql) = $crate::maintained::select_touched_facts(updates, $params, fresh) {
            let rows = sqlx::query($crate::row::trusted(&sql))
                .fetch_all(&mut *$tx)
                .await?;
            for row in &rows {
                $crate::maintained::keep_stored_row(&mut stored, row)?;
            }
        }
        let (facts, counts) = $crate::maintained::fold_updates(updates, &stored, $params);
        let years = $crate::maintained::year_rows(&facts, &stored);
        for chunk in $crate::row::cached_chunks(&years, $crate::maintained::FACTS_PER_INSERT) {
            let sql = $crate::maintained::upsert_facts_sql(numbered, chunk.len());
            let values = $crate::maintained::year_rows_values(chunk);
            $crate::row::bind_vals!(sqlx::query($crate::row::trusted(&sql)), &values)
                .execute(&mut *$tx)
                .await?;
        }
        for chunk in $crate::row::cached_chunks(&counts, $crate::maintained::COUNTS_PER_INSERT) {
            let sql = $crate::maintained::add_counts_sql(numbered, chunk.len());
            let values = $crate::maintained::count_values(chunk);
            $crate::row::bind_vals!(sqlx::query($crate::row::trusted(&sql)), &values)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use apply_indicator_updates;

/// The upsert of `rows` years of facts (see [`crate::row::Numbering`]).
pub(crate) fn upsert_facts_sql(numbered: bool, rows: usize) -> String {
    format!(
        "{UPSERT_FACTS_HEAD} {} {UPSERT_FACTS_TAIL}",
        crate::row::value_rows(numbered, rows, 3, "")
    )
}

/// The addition of `rows` counter changes (see [`crate::row::Numbering`]).
pub(crate) fn add_counts_sql(numbered: bool, rows: usize) -> String {
    format!(
        "{ADD_COUNTS_HEAD} {} {ADD_COUNTS_TAIL}",
        crate::row::value_rows(numbered, rows, 5, "")
    )
}

/// The values of years of facts as [`upsert_facts_sql`] takes them, row after row.
pub(crate) fn year_rows_values(rows: &[YearRow]) -> Vec<Val<'_>> {
    let mut values = Vec::with_capacity(rows.len() * 3);
    for (id, year, facts) in rows {
        values.extend([Val::int(*id), Val::int(*year), Val::Blob(facts)]);
    }
    values
}

/// The values of counter changes as [`add_counts_sql`] takes them, row after row.
pub(crate) fn count_values<'a>(rows: &[CountChange<'a>]) -> Vec<Val<'a>> {
    let mut values = Vec::with_capacity(rows.len() * 5);
    for (scope, disease, period, measure, change) in rows {
        values.extend([
            Val::text(scope),
            Val::text(disease),
            Val::owned(period.code()),
            Val::text(measure),
            Val::int(*change),
        ]);
    }
    values
}

/// [`apply_indicator_updates!`] in a transaction of the SQLite hot path
/// ([`crate::direct`]): the same statements, on the calling thread.
pub(crate) fn apply_indicator_updates_direct(
    tx: &rusqlite::Transaction<'_>,
    updates: &[IndicatorUpdate],
    params: &Params,
    fresh: &[i64],
) -> Result<()> {
    let stored = touched_facts_direct(tx, updates, params, fresh)?;
    let (facts, counts) = fold_updates(updates, &stored, params);
    write_kept_direct(tx, &facts, &stored, &counts)
}

/// The stored facts `updates` touch but those of `fresh` enrolments (see
/// [`select_touched_facts`]), read on the SQLite hot path.
pub(crate) fn touched_facts_direct(
    tx: &rusqlite::Transaction<'_>,
    updates: &[IndicatorUpdate],
    params: &Params,
    fresh: &[i64],
) -> Result<HashMap<(i64, StandardPeriod), PeriodFacts>> {
    let mut stored = HashMap::new();
    if let Some(sql) = select_touched_facts(updates, params, fresh) {
        let mut statement = tx.prepare(&sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            keep_stored_row(&mut stored, row)?;
        }
    }
    Ok(stored)
}

/// Keeps the periods of a row of [`select_touched_facts`] by (enrolment, period).
pub(crate) fn keep_stored_row(
    stored: &mut HashMap<(i64, StandardPeriod), PeriodFacts>,
    row: &impl RowExt,
) -> Result<()> {
    let (enrolment_id, periods) = facts_of_row(row)?;
    stored.extend(periods.into_iter().map(|(p, f)| ((enrolment_id, p), f)));
    Ok(())
}

/// Writes folded facts rows (packed with the rest of their years from `stored`, see
/// [`year_rows`]) and counter changes on the SQLite hot path.
pub(crate) fn write_kept_direct(
    tx: &rusqlite::Transaction<'_>,
    facts: &[FactsRow],
    stored: &HashMap<(i64, StandardPeriod), PeriodFacts>,
    counts: &[CountChange<'_>],
) -> Result<()> {
    let years = year_rows(facts, stored);
    for chunk in crate::row::cached_chunks(&years, FACTS_PER_INSERT) {
        crate::direct::execute_values(
            tx,
            &upsert_facts_sql(false, chunk.len()),
            year_rows_values(chunk),
        )?;
    }
    for chunk in crate::row::cached_chunks(counts, COUNTS_PER_INSERT) {
        crate::direct::execute_values(
            tx,
            &add_counts_sql(false, chunk.len()),
            count_values(chunk),
        )?;
    }
    Ok(())
}

/// Counters as the recompute produces them: (scope, disease, period, measure) → value,
/// (scope, disease, day) → enrolments, (scope, disease, effect, from day) → ended
/// enrolments (`EndingEffect::from_day`), and (scope, measure, from day) → residents
/// of the 签约率 figures (`gongti_core::contract::coverage_parts`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndicatorTables {
    pub counts: BTreeMap<(String, String, String, String), i64>,
    pub enrolments: BTreeMap<(String, String, Date), i64>,
    pub endings: BTreeMap<(String, String, String, Date), i64>,
    pub coverage: BTreeMap<(String, String, Date), i64>,
}

/// A follow-up as the recompute reads it: (enrolment id, the visit).
type EnrolmentVisit = (i64, VisitFact);
/// A home reading as the recompute reads it: (resident id, taken at, µs).
type ResidentReading = (i64, i64);
/// A stored counter: (scope, disease, period, measure, value).
type CountRow = (String, String, String, String, i64);
/// A stored enrolment count: (scope, disease, day, enrolments).
type EnrolmentCountRow = (String, String, Date, i64);
/// A stored ending count: (scope, disease, effect, from day, endings).
type EndingCountRow = (String, String, String, Date, i64);
/// An enrolment as the recompute reads it: (id, resident, disease, enrolled on, ended
/// on, institution, district).
type RecomputeEnrolment = (i64, i64, String, Date, Option<Date>, i64, String);

/// Enrolments per round trip of the recompute.
const RECOMPUTE_CHUNK: i64 = 5_000;

/// Rows per multi-row INSERT of the rebuild.
pub(crate) const ROWS_PER_INSERT: usize = 500;

/// A text literal (the rebuild writes counter keys that Gongti formed itself).
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The one transaction in which a rebuild replaces the kept figures.
enum RebuildTx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl RebuildTx {
    async fn begin(store: &Store) -> Result<RebuildTx> {
        Ok(match &store.engine {
            Engine::Sqlite { write, .. } => RebuildTx::Sqlite(write.begin().await?),
            Engine::Postgres { pool, .. } => RebuildTx::Postgres(pool.begin().await?),
        })
    }

    async fn execute(&mut self, sql: &str) -> Result<()> {
        match self {
            RebuildTx::Sqlite(tx) => {
                sqlx::query(trusted(sql)).execute(&mut **tx).await?;
            }
            RebuildTx::Postgres(tx) => {
                sqlx::query(trusted(sql)).execute(&mut **tx).await?;
            }
        }
        Ok(())
    }

    /// An `indicator_year_facts` row as a VALUES tuple, its packed facts as the engine
    /// writes a binary literal.
    fn year_values(&self, (enrolment_id, year, facts): &YearRow) -> String {
        let hex: String = facts.iter().map(|b| format!("{b:02x}")).collect();
        match self {
            RebuildTx::Sqlite(_) => format!("({enrolment_id}, {year}, X'{hex}')"),
            RebuildTx::Postgres(_) => format!("({enrolment_id}, {year}, decode('{hex}', 'hex'))"),
        }
    }

    /// Inserts VALUES tuples under `head` (`INSERT INTO … VALUES`), many per statement.
    async fn insert_rows(&mut self, head: &str, rows: &[String]) -> Result<()> {
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            self.execute(&format!("{head} {}", chunk.join(","))).await?;
        }
        Ok(())
    }

    /// Stages the rebuild's audit records in its transaction.
    async fn stage(&mut self, audit: &[gongti_core::audit::AuditEntry]) -> Result<()> {
        match self {
            RebuildTx::Sqlite(tx) => {
                let tx = &mut **tx;
                crate::outbox::stage_audit!(tx, audit);
            }
            RebuildTx::Postgres(tx) => {
                let tx = &mut **tx;
                crate::outbox::stage_audit!(tx, audit);
            }
        }
        Ok(())
    }

    async fn commit(self) -> Result<()> {
        match self {
            RebuildTx::Sqlite(tx) => tx.commit().await?,
            RebuildTx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

impl Store {
    /// The first day of the earliest month with a face-to-face follow-up in a scope
    /// (either programme), read from the kept monthly counters: since when the scope's
    /// records are kept, and so which periods a figure can be compared with.
    pub async fn records_since(&self, scope: &str) -> Result<Option<Date>> {
        let first: Option<String> = on_read!(self, pool => {
            sqlx::query_scalar(
                "SELECT MIN(period) FROM indicator_counts WHERE scope = $1 \
                 AND measure = 'face_to_face' AND value > 0 \
                 AND length(period) = 7 AND period NOT LIKE '%Q%'",
            )
            .bind(scope)
            .fetch_one(pool)
            .await?
        });
        Ok(first
            .as_deref()
            .and_then(StandardPeriod::parse)
            .map(|p| p.period().from))
    }

    /// The maintained counters of a scope's programme for a standard period, in the
    /// order of [`Contribution::MEASURES`].
    pub async fn indicator_counts(
        &self,
        scope: &str,
        disease: Disease,
        period: StandardPeriod,
    ) -> Result<[i64; 8]> {
        let rows: Vec<(String, i64)> = on_read!(self, pool => {
            sqlx::query_as("SELECT measure, value FROM indicator_counts WHERE scope = $1 AND disease = $2 AND period = $3")
                .bind(scope).bind(disease.code()).bind(period.code())
                .fetch_all(pool).await?
        });
        let mut out = [0i64; 8];
        for (measure, value) in rows {
            if let Some(i) = Contribution::MEASURES.iter().position(|m| *m == measure) {
                out[i] = value;
            }
        }
        Ok(out)
    }

    /// The denominators of a standard period from the kept enrolment and ending
    /// counts, in two reads: those managed (enrolled by `period_to`, not ended before
    /// `period_from`), and for each of `eligible_by` those enrolled on or before that
    /// day and still enrolled on `period_to` (missed visit, lost to follow-up; the
    /// endings were counted from their `EndingEffect::from_day` with the same windows).
    /// Each read sums at most one row per day.
    pub async fn enrolment_denominators(
        &self,
        scope: &str,
        disease: Disease,
        period_from: Date,
        period_to: Date,
        eligible_by: [Date; 2],
    ) -> Result<[i64; 3]> {
        type Sums = (Option<i64>, Option<i64>, Option<i64>);
        let (enrolled, ended): (Sums, Sums) = on_read!(self, pool => {
            let enrolled: Sums = sqlx::query_as(
                "SELECT CAST(SUM(enrolled) AS BIGINT),
                        CAST(SUM(CASE WHEN day <= $4 THEN enrolled ELSE 0 END) AS BIGINT),
                        CAST(SUM(CASE WHEN day <= $5 THEN enrolled ELSE 0 END) AS BIGINT)
                 FROM enrolment_counts WHERE scope = $1 AND disease = $2 AND day <= $3",
            )
            .bind(scope).bind(disease.code()).bind(period_to).bind(eligible_by[0]).bind(eligible_by[1])
            .fetch_one(pool).await?;
            let ended: Sums = sqlx::query_as(
                "SELECT (SELECT CAST(SUM(ended) AS BIGINT) FROM ending_counts
                         WHERE scope = $1 AND disease = $2 AND effect = 'managed' AND day <= $3),
                        (SELECT CAST(SUM(ended) AS BIGINT) FROM ending_counts
                         WHERE scope = $1 AND disease = $2 AND effect = 'missed' AND day <= $4),
                        (SELECT CAST(SUM(ended) AS BIGINT) FROM ending_counts
                         WHERE scope = $1 AND disease = $2 AND effect = 'lost' AND day <= $4)",
            )
            .bind(scope).bind(disease.code()).bind(period_from).bind(period_to)
            .fetch_one(pool).await?;
            (enrolled, ended)
        });
        let n = |v: Option<i64>| v.unwrap_or(0);
        Ok([
            n(enrolled.0) - n(ended.0),
            n(enrolled.1) - n(ended.1),
            n(enrolled.2) - n(ended.2),
        ])
    }

    /// Recomputes every counter from the raw records (enrolments, follow-ups, home
    /// readings), a chunk of enrolments at a time; with `write` (the rebuild's audit
    /// records), replaces the stored facts and counters with the result in one
    /// transaction that commits the records too.
    pub async fn recompute_indicators(
        &self,
        params: &Params,
        reading_day: impl Fn(i64) -> Date,
        write: Option<&[gongti_core::audit::AuditEntry]>,
    ) -> Result<IndicatorTables> {
        let audit = write.unwrap_or_default();
        let write = write.is_some();
        let mut tables = IndicatorTables::default();
        // With `write`, one transaction replaces the tables: the facts go out a chunk
        // at a time (memory stays bounded by the chunk), the counters at the end.
        let mut sink = match write {
            true => Some(RebuildTx::begin(self).await?),
            false => None,
        };
        if let Some(tx) = sink.as_mut() {
            // `indicator_facts` is the facts as releases before migration 0047 kept
            // them, read by none since (a release before it refuses the migrated
            // database): emptied, not rebuilt, until a later release drops it.
            for table in [
                "indicator_facts",
                "indicator_year_facts",
                "indicator_counts",
                "enrolment_counts",
                "ending_counts",
                "coverage_counts",
            ] {
                tx.execute(&format!("DELETE FROM {table}")).await?;
            }
        }
        let mut after = 0i64;
        loop {
            let enrolments: Vec<RecomputeEnrolment> = on_read!(self, pool => {
                sqlx::query_as(
                    "SELECT e.id, e.resident_id, e.disease, e.enrolled_on, e.ended_on, e.institution_id, i.district_code
                     FROM chronic_enrolments e JOIN institutions i ON i.id = e.institution_id
                     WHERE e.id > $1 ORDER BY e.id LIMIT $2",
                )
                .bind(after).bind(RECOMPUTE_CHUNK)
                .fetch_all(pool).await?
            });
            let Some(last) = enrolments.last() else { break };
            after = last.0;
            let ids = enrolments
                .iter()
                .map(|e| e.0.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let residents = enrolments
                .iter()
                .map(|e| e.1.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let visits_sql = format!(
                "SELECT enrolment_id, id, visit_on, counts_face_to_face, age_years, sbp_mmhg, dbp_mmhg, fpg_centi_mmol,
                        hba1c_centi_percent FROM followups WHERE enrolment_id IN ({ids})"
            );
            let readings_sql = format!(
                "SELECT resident_id, taken_at_us FROM home_readings WHERE resident_id IN ({residents})"
            );
            let labs_sql = format!(
                "SELECT resident_id, id, test, value_centi, collected_on FROM lab_results WHERE resident_id IN ({residents}) AND test <> ''"
            );
            let (visits, readings, labs): (
                Vec<EnrolmentVisit>,
                Vec<ResidentReading>,
                Vec<(i64, VisitFact)>,
            ) = on_read!(self, pool => {
                let visits = sqlx::query(trusted(&visits_sql)).fetch_all(pool).await?
                    .iter()
                    .map(|row| {
                        let small = |c: &str| -> Result<Option<u16>> {
                            row.opt_i64(c)?.map(|v| u16::try_from(v).map_err(|_| StoreError::Corrupt(c.into()))).transpose()
                        };
                        let centi = |c: &str| -> Result<Option<i32>> {
                            row.opt_i64(c)?.map(|v| i32::try_from(v).map_err(|_| StoreError::Corrupt(c.into()))).transpose()
                        };
                        Ok((row.i64("enrolment_id")?, VisitFact {
                            visit_on: row.date("visit_on")?,
                            id: row.i64("id")?,
                            face_to_face: row.bool("counts_face_to_face")?,
                            age_years: u8::try_from(row.i64("age_years")?).map_err(|_| StoreError::Corrupt("age".into()))?,
                            bp: small("sbp_mmhg")?.zip(small("dbp_mmhg")?).map(|(s, d)| Bp::new(s, d)),
                            fpg: centi("fpg_centi_mmol")?.map(Mmol::from_centi),
                            hba1c: centi("hba1c_centi_percent")?.map(Percent::from_centi),
                        }))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let readings: Vec<ResidentReading> = sqlx::query_as(trusted(&readings_sql)).fetch_all(pool).await?;
                let labs = sqlx::query(trusted(&labs_sql)).fetch_all(pool).await?
                    .iter()
                    .map(|row| {
                        let test = row.text("test")?;
                        let test = gongti_core::lab::LabTest::parse(&test)
                            .ok_or_else(|| StoreError::Corrupt("lab test".into()))?;
                        Ok((row.i64("resident_id")?, crate::lab::lab_fact(
                            row.i64("id")?, test, row.i64("value_centi")?, row.date("collected_on")?,
                        )?))
                    })
                    .collect::<Result<Vec<_>>>()?;
                (visits, readings, labs)
            });
            let mut labs_by_resident: HashMap<i64, Vec<VisitFact>> = HashMap::new();
            for (r, fact) in labs {
                labs_by_resident.entry(r).or_default().push(fact);
            }
            let mut by_enrolment: HashMap<i64, Vec<VisitFact>> = HashMap::new();
            for (e, v) in visits {
                by_enrolment.entry(e).or_default().push(v);
            }
            let mut days_by_resident: HashMap<i64, Vec<Date>> = HashMap::new();
            for (r, us) in readings {
                days_by_resident.entry(r).or_default().push(reading_day(us));
            }
            for days in days_by_resident.values_mut() {
                days.sort();
                days.dedup();
            }
            let mut chunk_facts: Vec<FactsRow> = Vec::new();
            for (id, resident_id, disease, enrolled_on, ended_on, institution_id, district) in
                &enrolments
            {
                let disease =
                    Disease::parse(disease).ok_or_else(|| StoreError::Corrupt("disease".into()))?;
                let scopes = scopes_of(*institution_id, district);
                for scope in &scopes {
                    *tables
                        .enrolments
                        .entry((scope.clone(), disease.code().to_owned(), *enrolled_on))
                        .or_default() += 1;
                    if let Some(ended_on) = ended_on {
                        for effect in EndingEffect::ALL {
                            *tables
                                .endings
                                .entry((
                                    scope.clone(),
                                    disease.code().to_owned(),
                                    effect.code().to_owned(),
                                    effect.from_day(*enrolled_on, *ended_on, params),
                                ))
                                .or_default() += 1;
                        }
                    }
                }
                let mut facts: HashMap<StandardPeriod, PeriodFacts> = HashMap::new();
                let mut events: Vec<IndicatorEvent> = by_enrolment
                    .remove(id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(IndicatorEvent::Visit)
                    .collect();
                if let Some(labs) = labs_by_resident.get(resident_id) {
                    events.extend(labs.iter().copied().map(IndicatorEvent::Visit));
                }
                if let Some(days) = days_by_resident.get(resident_id) {
                    events.push(IndicatorEvent::Readings(days.clone()));
                }
                for event in events {
                    let u = IndicatorUpdate {
                        enrolment_id: *id,
                        disease,
                        enrolled_on: *enrolled_on,
                        ended_on: *ended_on,
                        scopes: scopes.clone(),
                        event,
                    };
                    for p in periods_of(&u.event, params) {
                        let f = facts.get(&p).copied().unwrap_or_default();
                        facts.insert(p, apply_event(f, p, &u, params));
                    }
                }
                for (p, f) in facts {
                    let c = f.contribution(p, *enrolled_on, *ended_on, params).values();
                    for (measure, v) in Contribution::MEASURES.iter().zip(c) {
                        if v == 0 {
                            continue;
                        }
                        for scope in &scopes {
                            *tables
                                .counts
                                .entry((
                                    scope.clone(),
                                    disease.code().to_owned(),
                                    p.code(),
                                    (*measure).to_owned(),
                                ))
                                .or_default() += v;
                        }
                    }
                    if write {
                        chunk_facts.push((*id, p, f));
                    }
                }
            }
            if let Some(tx) = sink.as_mut() {
                let rows: Vec<String> = year_rows(&chunk_facts, &HashMap::new())
                    .iter()
                    .map(|row| tx.year_values(row))
                    .collect();
                tx.insert_rows(UPSERT_FACTS_HEAD, &rows).await?;
            }
        }
        tables.coverage = self.recompute_coverage().await?;
        if let Some(mut tx) = sink {
            let counts = tables
                .counts
                .iter()
                .map(|((scope, disease, period, measure), value)| {
                    format!(
                        "({}, {}, {}, {}, {value})",
                        quoted(scope),
                        quoted(disease),
                        quoted(period),
                        quoted(measure)
                    )
                })
                .collect::<Vec<_>>();
            tx.insert_rows(
                "INSERT INTO indicator_counts (scope, disease, period, measure, value) VALUES",
                &counts,
            )
            .await?;
            let enrolments = tables
                .enrolments
                .iter()
                .map(|((scope, disease, day), n)| {
                    format!("({}, {}, '{day}', {n})", quoted(scope), quoted(disease))
                })
                .collect::<Vec<_>>();
            tx.insert_rows(
                "INSERT INTO enrolment_counts (scope, disease, day, enrolled) VALUES",
                &enrolments,
            )
            .await?;
            let endings = tables
                .endings
                .iter()
                .map(|((scope, disease, effect, day), n)| {
                    format!(
                        "({}, {}, {}, '{day}', {n})",
                        quoted(scope),
                        quoted(disease),
                        quoted(effect)
                    )
                })
                .collect::<Vec<_>>();
            tx.insert_rows(
                "INSERT INTO ending_counts (scope, disease, effect, day, ended) VALUES",
                &endings,
            )
            .await?;
            let coverage = tables
                .coverage
                .iter()
                .map(|((scope, measure, day), n)| {
                    format!("({}, {}, '{day}', {n})", quoted(scope), quoted(measure))
                })
                .collect::<Vec<_>>();
            tx.insert_rows(
                "INSERT INTO coverage_counts (scope, measure, day, residents) VALUES",
                &coverage,
            )
            .await?;
            tx.stage(audit).await?;
            tx.commit().await?;
        }
        Ok(tables)
    }

    /// The counters as stored, for comparison with a recompute.
    pub async fn stored_indicator_tables(&self) -> Result<IndicatorTables> {
        type Stored = (Vec<CountRow>, Vec<EnrolmentCountRow>, Vec<EndingCountRow>);
        let (counts, enrolments, endings): Stored = on_read!(self, pool => {
            let counts = sqlx::query_as("SELECT scope, disease, period, measure, value FROM indicator_counts WHERE value <> 0")
                .fetch_all(pool).await?;
            let enrolments = sqlx::query_as("SELECT scope, disease, day, enrolled FROM enrolment_counts WHERE enrolled <> 0")
                .fetch_all(pool).await?;
            let endings = sqlx::query_as("SELECT scope, disease, effect, day, ended FROM ending_counts WHERE ended <> 0")
                .fetch_all(pool).await?;
            (counts, enrolments, endings)
        });
        Ok(IndicatorTables {
            counts: counts
                .into_iter()
                .map(|(s, d, p, m, v)| ((s, d, p, m), v))
                .collect(),
            enrolments: enrolments
                .into_iter()
                .map(|(s, d, day, n)| ((s, d, day), n))
                .collect(),
            endings: endings
                .into_iter()
                .map(|(s, d, effect, day, n)| ((s, d, effect, day), n))
                .collect(),
            coverage: self.stored_coverage().await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    /// A counter's key: (scope, disease, period, measure).
    type Key = (String, &'static str, StandardPeriod, &'static str);

    fn visit(
        enrolment_id: i64,
        scopes: [String; 3],
        visit_on: Date,
        sbp_mmhg: u16,
    ) -> IndicatorUpdate {
        IndicatorUpdate {
            enrolment_id,
            disease: Disease::Hypertension,
            enrolled_on: date!(2025 - 01 - 10),
            ended_on: None,
            scopes,
            event: IndicatorEvent::Visit(VisitFact {
                visit_on,
                id: enrolment_id * 10,
                face_to_face: true,
                age_years: 60,
                bp: Some(Bp {
                    sbp_mmhg,
                    dbp_mmhg: 84,
                }),
                fpg: None,
                hba1c: None,
            }),
        }
    }

    /// Updates of institutions that share their city and district: one change per
    /// counter, each the sum of what every update alone gives it.
    #[test]
    fn counters_of_shared_scopes_get_one_summed_change() {
        let params = Params::default();
        let updates = [
            visit(1, scopes_of(11, "120101"), date!(2026 - 03 - 04), 128),
            visit(2, scopes_of(12, "120101"), date!(2026 - 03 - 09), 152),
            visit(3, scopes_of(13, "120102"), date!(2026 - 05 - 20), 131),
            visit(4, scopes_of(11, "120101"), date!(2026 - 07 - 01), 126),
        ];
        let (facts, counts) = fold_updates(&updates, &HashMap::new(), &params);

        let mut expected: BTreeMap<Key, i64> = BTreeMap::new();
        let mut expected_facts = 0;
        for u in &updates {
            let (alone_facts, alone) =
                fold_updates(std::slice::from_ref(u), &HashMap::new(), &params);
            expected_facts += alone_facts.len();
            for (scope, disease, period, measure, change) in alone {
                *expected
                    .entry((scope.to_owned(), disease, period, measure))
                    .or_default() += change;
            }
        }
        expected.retain(|_, v| *v != 0);
        let got: Vec<(Key, i64)> = counts
            .iter()
            .map(|(s, d, p, m, v)| (((*s).to_owned(), *d, *p, *m), *v))
            .collect();
        assert_eq!(got, expected.into_iter().collect::<Vec<_>>());
        assert_eq!(facts.len(), expected_facts);
        // The city's counters changed once for all four; each district's for its own.
        assert!(counts.iter().any(|c| c.0 == "c"));
        assert!(counts.iter().any(|c| c.0 == "d:120102"));
    }

    /// Every field of every period of a year comes back as packed, periods in slot
    /// order; whatever is not a packed year is refused, never read as facts.
    #[test]
    fn a_packed_year_reads_back_the_same_and_anything_else_is_refused() {
        let full = PeriodFacts {
            face_to_face: 70_000,
            latest_bp: Some((date!(2026 - 02 - 03), 11, true)),
            latest_fpg: Some((date!(2025 - 12 - 30), i64::MAX, false)),
            latest_hba1c: None,
            seen_recently: true,
            contacted: false,
        };
        let contact = PeriodFacts {
            contacted: true,
            ..PeriodFacts::default()
        };
        let year = vec![
            (StandardPeriod::Year(2026), full),
            (StandardPeriod::Quarter(2026, 1), contact),
            (StandardPeriod::Month(2026, time::Month::December), full),
        ];
        let packed = pack_year(&year);
        assert_eq!(unpack_year(2026, &packed).expect("reads back"), year);
        assert_eq!(unpack_year(2026, &pack_year(&[])).expect("empty"), vec![]);
        // The year read is the row's: the same bytes under 2027 are 2027's periods.
        assert_eq!(
            unpack_year(2027, &packed).expect("another year")[1].0,
            StandardPeriod::Quarter(2027, 1)
        );
        let mut out_of_order = pack_year(&year[1..2]);
        out_of_order.extend_from_slice(&pack_year(&year[..1])[1..]);
        let mut bad_slot = packed.clone();
        bad_slot[1] = 17;
        let mut bad_tag = pack_year(&year[1..2]);
        bad_tag[6] = 3;
        let mut bad_flags = pack_year(&year[1..2]);
        *bad_flags.last_mut().expect("flags") = 4;
        for (why, bytes) in [
            ("no version", vec![]),
            ("another version", vec![2]),
            ("cut short", packed[..packed.len() - 1].to_vec()),
            ("bytes after the last period", [&packed[..], &[0]].concat()),
            ("slots out of order", out_of_order),
            ("a slot past the months", bad_slot),
            ("an unknown tag", bad_tag),
            ("unknown flags", bad_flags),
        ] {
            assert!(
                matches!(unpack_year(2026, &bytes), Err(StoreError::Corrupt(_))),
                "{why}"
            );
        }
    }

    /// A year row holds the year's stored periods with the changed ones put in, and
    /// the changed periods of an enrolment without stored facts alone; one row per
    /// enrolment and year, in key order.
    #[test]
    fn a_changed_period_is_written_with_the_rest_of_its_year() {
        let f = |n: u32| PeriodFacts {
            face_to_face: n,
            ..PeriodFacts::default()
        };
        let (q1, march, y) = (
            StandardPeriod::Quarter(2026, 1),
            StandardPeriod::Month(2026, time::Month::March),
            StandardPeriod::Year(2026),
        );
        let december = StandardPeriod::Month(2026, time::Month::December);
        let stored: HashMap<(i64, StandardPeriod), PeriodFacts> = [
            ((7, y), f(2)),
            ((7, q1), f(1)),
            ((7, december), f(5)),
            ((7, StandardPeriod::Year(2025)), f(4)),
        ]
        .into();
        let changed = vec![
            (9, StandardPeriod::Month(2027, time::Month::January), f(1)),
            (7, march, f(1)),
            (7, y, f(3)),
            (9, StandardPeriod::Year(2027), f(1)),
        ];
        let rows = year_rows(&changed, &stored);
        let read: Vec<(i64, i32, YearFacts)> = rows
            .iter()
            .map(|(id, year, bytes)| (*id, *year, unpack_year(*year, bytes).expect("packed")))
            .collect();
        assert_eq!(
            read,
            vec![
                (
                    7,
                    2026,
                    vec![(y, f(3)), (q1, f(1)), (march, f(1)), (december, f(5))]
                ),
                (
                    9,
                    2027,
                    vec![
                        (StandardPeriod::Year(2027), f(1)),
                        (StandardPeriod::Month(2027, time::Month::January), f(1)),
                    ]
                ),
            ]
        );
    }
}
