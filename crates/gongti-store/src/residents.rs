//! Residents (the master patient index), keyed on the national ID number, and their
//! care relationships with institutions.

use std::collections::hash_map::Entry;

use gongti_core::audit::AuditEntry;
use gongti_core::resident::ValidResident;
use gongti_core::{IdNumber, Phone, Sex};
use rusqlite::OptionalExtension;
use time::Date;

use crate::crypto::DataKeys;
use crate::outbox::{created, stage_audit};
use crate::region::name_prefixes;
use crate::row::{Arg, Conditions, RowExt, bind_all, trusted};
use crate::{Page, Result, Store, StoreError, on_read, on_write};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentRecord {
    pub id: i64,
    pub name: String,
    pub sex: Sex,
    pub birth_date: Date,
    pub id_number: IdNumber,
    pub phone: Option<Phone>,
    pub address: Option<String>,
    pub household: Option<String>,
    pub home_institution_id: i64,
    pub home_district_code: String,
    /// Set when this record was merged into another record of the same person.
    pub merged_into_id: Option<i64>,
    /// The day of a recorded death (an enrolment ended for `died`).
    pub deceased_on: Option<Date>,
    pub created_at_us: i64,
    pub updated_at_us: i64,
    pub version: crate::Version,
}

/// Tables of records that belong to one resident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatientTable {
    Record(crate::RecordTable),
    Tasks,
    Alerts,
}

impl PatientTable {
    fn table(self) -> &'static str {
        match self {
            PatientTable::Record(t) => t.table(),
            PatientTable::Tasks => "chronic_tasks",
            PatientTable::Alerts => "alerts",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ResidentFilter {
    /// Names starting with any of these (anyone when empty); so for each list below.
    pub name_prefixes: Vec<String>,
    /// Normalised ID numbers.
    pub id_numbers: Vec<String>,
    pub birth_date: Option<Date>,
    /// Born on or after / on or before (a birth-date range).
    pub born_from: Option<Date>,
    pub born_to: Option<Date>,
    /// Last changed at or after / before (microseconds; a sync's `_lastUpdated`).
    pub updated_from_us: Option<i64>,
    pub updated_until_us: Option<i64>,
    pub sexes: Vec<Sex>,
    pub home_institution_id: Option<i64>,
    pub home_district_code: Option<String>,
    /// `(institution, now_us)`: registered there, or in its care now (an open care
    /// relationship: a referral, consultation, contract or booking).
    pub reach: Option<(i64, i64)>,
    /// Include records merged into another (default: only surviving records).
    pub include_merged: bool,
}

const COLUMNS: &str = "r.id, r.name, r.sex, r.birth_date, r.id_number, r.phone, r.address, r.household, \
     r.home_institution_id, i.district_code AS home_district_code, r.merged_into_id, r.deceased_on, r.created_at_us, r.updated_at_us, \
     r.version, COALESCE(r.version_at_us, r.created_at_us) AS version_at_us";
const FROM: &str = "FROM residents r JOIN institutions i ON i.id = r.home_institution_id";

/// Read in [`COLUMNS`]' order: the direct lane finds each column at its first look
/// (`direct::ByPlace`).
fn resident(keys: &DataKeys, row: &impl RowExt) -> Result<ResidentRecord> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("resident {what}"));
    Ok(ResidentRecord {
        id: row.i64("id")?,
        name: row.text("name")?,
        sex: Sex::from_code(&row.text("sex")?).ok_or_else(|| corrupt("sex"))?,
        birth_date: row.date("birth_date")?,
        id_number: stored_id_number(keys, row)?,
        phone: stored_phone(keys, row)?,
        address: row.opt_text("address")?,
        household: row.opt_text("household")?,
        home_institution_id: row.i64("home_institution_id")?,
        home_district_code: row.text("home_district_code")?,
        merged_into_id: row.opt_i64("merged_into_id")?,
        deceased_on: row.opt_date("deceased_on")?,
        created_at_us: row.i64("created_at_us")?,
        updated_at_us: row.i64("updated_at_us")?,
        version: crate::Version::of(row)?,
    })
}

/// The associated data that binds a sealed ID number to its column.
pub(crate) const ID_NUMBER_COLUMN: &str = "residents.id_number";
/// The same for a phone number.
pub(crate) const PHONE_COLUMN: &str = "residents.phone";
/// The lookup hash's domain for ID numbers.
const ID_NUMBER_LOOKUP: &str = "id_number";

/// A stored ID number, opened and parsed.
pub(crate) fn stored_id_number(keys: &DataKeys, row: &impl RowExt) -> Result<IdNumber> {
    let text = keys.open_text(ID_NUMBER_COLUMN, &row.text("id_number")?)?;
    // The future-birth bound was checked when the number was stored.
    IdNumber::parse(&text, Date::MAX).map_err(|_| StoreError::Corrupt("resident ID number".into()))
}

/// A stored phone number, opened and parsed.
fn stored_phone(keys: &DataKeys, row: &impl RowExt) -> Result<Option<Phone>> {
    row.opt_text("phone")?
        .map(|sealed| {
            let text = keys.open_text(PHONE_COLUMN, &sealed)?;
            Phone::parse(&text).map_err(|_| StoreError::Corrupt("resident phone".into()))
        })
        .transpose()
}

/// What a resident's personal numbers are stored as: sealed, and the ID number's
/// keyed hash for finding it and keeping it unique.
pub(crate) struct SealedNumbers {
    pub(crate) id_number: String,
    pub(crate) id_hash: [u8; 32],
    pub(crate) phone: Option<String>,
}

pub(crate) fn seal_numbers(
    keys: &DataKeys,
    id_number: &IdNumber,
    phone: Option<&Phone>,
) -> SealedNumbers {
    SealedNumbers {
        id_number: keys.seal_text(ID_NUMBER_COLUMN, id_number.as_str()),
        id_hash: id_lookup(keys, id_number.as_str()),
        phone: phone.map(|p| keys.seal_text(PHONE_COLUMN, p.as_str())),
    }
}

/// The lookup hash of a (normalised) ID number.
pub(crate) fn id_lookup(keys: &DataKeys, id_number: &str) -> [u8; 32] {
    keys.lookup_hash(ID_NUMBER_LOOKUP, id_number)
}

/// A resident row with its `care` column: the institutions of open care relationships.
fn with_care(keys: &DataKeys, row: &impl RowExt) -> Result<(ResidentRecord, Vec<i64>)> {
    // The resident's columns first: `care` is the statement's last.
    let resident = resident(keys, row)?;
    let mut care: Vec<i64> = row
        .opt_text("care")?
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| StoreError::Corrupt("care relationship".into()))
        })
        .collect::<Result<_>>()?;
    care.sort_unstable();
    care.dedup();
    Ok((resident, care))
}

/// Largest number of residents inserted in one call of [`Store::insert_residents`].
pub const RESIDENT_BATCH_MAX: usize = 10_000;

/// Residents per multi-row `INSERT` of a batch (eleven bound values each, well inside
/// both engines' limits on bound values).
const RESIDENTS_PER_INSERT: usize = 128;

/// The unique index that keeps ID numbers unique: what a taken one is reported as.
pub(crate) const ID_NUMBER_INDEX: &str = "residents_id_number_hash";

/// The `INSERT` of `rows` residents in one statement, eleven values per resident in
/// the order [`insert_many!`] binds them. A resident whose ID number is taken is
/// skipped (`DO NOTHING`) and missing from the rows it returns (`id`,
/// `id_number_hash`), which say which resident got which id whatever their order.
pub(crate) fn insert_many_sql(numbered: bool, rows: usize) -> String {
    format!(
        "INSERT INTO residents (id_number, name, sex, birth_date, phone, address, household, \
         home_institution_id, id_number_hash, created_at_us, updated_at_us) VALUES {} \
         ON CONFLICT (id_number_hash) DO NOTHING RETURNING id, id_number_hash",
        crate::row::value_rows(numbered, rows, 11, "")
    )
}

/// A new resident's values in the order of [`insert_many_sql`]'s columns.
pub(crate) fn resident_values<'a>(
    r: &'a ValidResident,
    home: i64,
    sealed: &'a SealedNumbers,
    now_us: i64,
) -> [crate::row::Val<'a>; 11] {
    use crate::row::Val;
    let [a, b, c, d, e, f, g] = person_values(r, sealed);
    [
        a,
        b,
        c,
        d,
        e,
        f,
        g,
        Val::int(home),
        Val::Blob(&sealed.id_hash),
        Val::int(now_us),
        Val::int(now_us),
    ]
}

/// What a resident's record says of them (ID number, name, sex, birth date, phone,
/// address, household), as inserted and updated.
fn person_values<'a>(r: &'a ValidResident, sealed: &'a SealedNumbers) -> [crate::row::Val<'a>; 7] {
    use crate::row::Val;
    [
        Val::text(&sealed.id_number),
        Val::text(&r.name),
        Val::text(r.sex.code()),
        Val::day(r.birth_date),
        Val::opt_text(sealed.phone.as_deref()),
        Val::opt_text(r.address.as_deref()),
        Val::opt_text(r.household.as_deref()),
    ]
}

/// Inserts `$rows` (`(&ValidResident, home institution id, &SealedNumbers)`, at most
/// [`RESIDENTS_PER_INSERT`], no ID number twice) in the transaction `$tx` with one
/// statement, one round trip through the driver where a statement per resident took
/// one each (most of a shared registration commit's time: BENCHMARKS.md). Evaluates
/// to each inserted resident's id by its ID number's hash; a resident whose ID number
/// was taken is not there.
macro_rules! insert_many {
    ($tx:ident, $rows:expr, $now_us:expr) => {{
        let rows: &[(&ValidResident, i64, &SealedNumbers)] = $rows;
        let sql = insert_many_sql(crate::row::numbered(&$tx), rows.len());
        let values: Vec<crate::row::Val<'_>> = rows
            .iter()
            .flat_map(|(r, home, sealed)| {
                $crate::residents::resident_values(r, *home, sealed, $now_us)
            })
            .collect();
        let q = sqlx::query_as::<_, (i64, Vec<u8>)>(trusted(&sql));
        let inserted: std::collections::HashMap<Vec<u8>, i64> = crate::row::bind_vals!(q, &values)
            .fetch_all(&mut *$tx)
            .await?
            .into_iter()
            .map(|(id, hash)| (hash, id))
            .collect();
        inserted
    }};
}

pub(crate) use insert_many;

/// A resident's update (see [`update_values`]): only while at version `$11`, when given.
pub(crate) const UPDATE_RESIDENT: &str =
    "UPDATE residents SET id_number = $1, name = $2, sex = $3, birth_date = $4, phone = $5,
    address = $6, household = $7, updated_at_us = $8, id_number_hash = $10
    WHERE id = $9 AND merged_into_id IS NULL AND ($11 IS NULL OR version = $11)";

/// The values of [`UPDATE_RESIDENT`], `$1` to `$11`.
pub(crate) fn update_values<'a>(
    id: i64,
    r: &'a ValidResident,
    sealed: &'a SealedNumbers,
    now_us: i64,
    expected: Option<i64>,
) -> [crate::row::Val<'a>; 11] {
    use crate::row::Val;
    let [a, b, c, d, e, f, g] = person_values(r, sealed);
    [
        a,
        b,
        c,
        d,
        e,
        f,
        g,
        Val::int(now_us),
        Val::int(id),
        Val::Blob(&sealed.id_hash),
        Val::Int(expected),
    ]
}

/// Updates a resident in the transaction `$tx` (only while at `$expected`, an
/// `Option<i64>` version, when given); evaluates to the rows changed (0 or 1).
macro_rules! update_resident_in {
    ($tx:ident, $id:expr, $r:expr, $sealed:expr, $now_us:expr, $expected:expr) => {{
        let (r, sealed): (&ValidResident, &$crate::residents::SealedNumbers) = ($r, $sealed);
        let values = $crate::residents::update_values($id, r, sealed, $now_us, $expected);
        crate::row::bind_vals!(sqlx::query($crate::residents::UPDATE_RESIDENT), &values)
            .execute(&mut *$tx)
            .await?
            .rows_affected()
    }};
}
pub(crate) use update_resident_in;

/// The records of a registration, naming the resident it created.
pub(crate) fn registered(audit: &[AuditEntry], id: i64) -> Vec<AuditEntry> {
    let mut entries = created(audit, id);
    for e in &mut entries {
        e.patient_id.get_or_insert(id);
    }
    entries
}

/// Each institution of a batch's district code (`None`: no such institution).
type Districts = std::collections::HashMap<i64, Option<String>>;

/// A row of a shared batch to insert: its place in the batch, and what to insert.
type Planned<'a> = (usize, (&'a ValidResident, i64, &'a SealedNumbers));

/// Which rows of a shared batch are inserted (in batch order) and, in place, the
/// error of each that is not: an unknown institution, or an ID number earlier in the
/// batch (that one is registered). Each planned row's id is settled after its insert
/// ([`settle_each`]); rows are inserted a chunk per statement, skipping a taken ID
/// number (`DO NOTHING`), so that no row's failure aborts the others' statement — on
/// PostgreSQL it would abort the whole transaction.
fn plan_each<'a>(
    batch: &'a [(ValidResident, i64, AuditEntry)],
    sealed: &'a [SealedNumbers],
    districts: &Districts,
) -> (Vec<Result<i64>>, Vec<Planned<'a>>) {
    let mut ids = Vec::with_capacity(batch.len());
    let mut rows = Vec::with_capacity(batch.len());
    let mut distinct = std::collections::HashSet::with_capacity(batch.len());
    for (i, ((r, home, _), s)) in batch.iter().zip(sealed).enumerate() {
        ids.push(if districts.get(home).is_none_or(Option::is_none) {
            Err(StoreError::MissingReference("institution".into()))
        } else if !distinct.insert(s.id_hash) {
            Err(StoreError::Duplicate(ID_NUMBER_INDEX.into()))
        } else {
            rows.push((i, (r, *home, s)));
            Ok(0)
        });
    }
    (ids, rows)
}

/// Settles the ids of a chunk of planned rows from what its insert returned (ids by
/// ID number hash; a taken one is missing), and collects the audit records of those
/// registered, naming each resident.
fn settle_each(
    chunk: &[Planned<'_>],
    inserted: &std::collections::HashMap<Vec<u8>, i64>,
    batch: &[(ValidResident, i64, AuditEntry)],
    ids: &mut [Result<i64>],
    staged: &mut Vec<AuditEntry>,
) {
    for (i, (_, _, s)) in chunk {
        ids[*i] = match inserted.get(&s.id_hash[..]) {
            Some(id) => {
                staged.extend(registered(std::slice::from_ref(&batch[*i].2), *id));
                Ok(*id)
            }
            None => Err(StoreError::Duplicate(ID_NUMBER_INDEX.into())),
        };
    }
}

/// What the residents of a shared batch that were registered add to the kept 签约率
/// counters.
fn registered_each(
    batch: &[(ValidResident, i64, AuditEntry)],
    ids: &[Result<i64>],
    districts: &Districts,
) -> crate::coverage_counts::CoverageChanges {
    crate::coverage_counts::registered_changes(batch.iter().zip(ids).filter_map(
        |((_, home, _), id)| {
            let district = districts.get(home)?.as_deref()?;
            id.is_ok().then_some((*home, district))
        },
    ))
}

/// [`insert_many!`] in a transaction of the SQLite hot path ([`crate::direct`]).
pub(crate) fn insert_many_direct(
    tx: &rusqlite::Transaction<'_>,
    rows: &[(&ValidResident, i64, &SealedNumbers)],
    now_us: i64,
) -> Result<std::collections::HashMap<Vec<u8>, i64>> {
    let values: Vec<crate::row::Val<'_>> = rows
        .iter()
        .flat_map(|(r, home, s)| resident_values(r, *home, s, now_us))
        .collect();
    let mut insert = tx.prepare_cached(&insert_many_sql(false, rows.len()))?;
    let mut returned = insert.query(rusqlite::params_from_iter(values))?;
    let mut inserted = std::collections::HashMap::with_capacity(rows.len());
    while let Some(row) = returned.next()? {
        inserted.insert(row.get::<_, Vec<u8>>(1)?, row.get::<_, i64>(0)?);
    }
    Ok(inserted)
}

/// [`Store::insert_residents_each`]'s transaction on the SQLite hot path: the same
/// statements as through sqlx, on the calling thread.
fn insert_each_direct(
    tx: &rusqlite::Transaction<'_>,
    batch: &[(ValidResident, i64, AuditEntry)],
    sealed: &[SealedNumbers],
    now_us: i64,
    moved: i64,
) -> Result<(Vec<Result<i64>>, Districts)> {
    let mut districts = Districts::new();
    {
        let mut lookup = tx.prepare_cached(crate::coverage_counts::DISTRICT_OF)?;
        for home in batch.iter().map(|(_, home, _)| *home) {
            if let Entry::Vacant(unknown) = districts.entry(home) {
                unknown.insert(lookup.query_row([home], |row| row.get(0)).optional()?);
            }
        }
    }
    let (mut ids, rows) = plan_each(batch, sealed, &districts);
    let mut staged = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(RESIDENTS_PER_INSERT) {
        let planned: Vec<_> = chunk.iter().map(|(_, row)| *row).collect();
        let inserted = insert_many_direct(tx, &planned, now_us)?;
        settle_each(chunk, &inserted, batch, &mut ids, &mut staged);
    }
    crate::coverage_counts::add_coverage_direct(tx, &registered_each(batch, &ids, &districts))?;
    crate::outbox::stage_direct(tx, &staged)?;
    crate::outbox::delete_moved_direct(tx, moved)?;
    Ok((ids, districts))
}

impl Store {
    /// Registers a resident; a taken ID number is [`StoreError::Duplicate`].
    pub async fn insert_resident(
        &self,
        r: &ValidResident,
        home_institution_id: i64,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<ResidentRecord> {
        let sealed = seal_numbers(&self.keys, &r.id_number, r.phone.as_ref());
        let id = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let inserted = insert_many!(tx, &[(r, home_institution_id, &sealed)], now_us);
            let id = *inserted
                .get(&sealed.id_hash[..])
                .ok_or_else(|| StoreError::Duplicate(ID_NUMBER_INDEX.into()))?;
            crate::coverage_counts::count_registered_in!(tx, &[home_institution_id]);
            stage_audit!(tx, &registered(audit, id));
            tx.commit().await?;
            id
        });
        self.resident(id).await
    }

    /// Registers many residents in one transaction: all or none. `audit` gives the
    /// records of the ids registered; they commit with them.
    pub async fn insert_residents(
        &self,
        batch: &[(ValidResident, i64)],
        now_us: i64,
        audit: crate::AuditFor<'_, [i64]>,
    ) -> Result<Vec<i64>> {
        assert!(
            batch.len() <= RESIDENT_BATCH_MAX,
            "resident batch over {RESIDENT_BATCH_MAX}"
        );
        let sealed: Vec<SealedNumbers> = batch
            .iter()
            .map(|(r, _)| seal_numbers(&self.keys, &r.id_number, r.phone.as_ref()))
            .collect();
        let rows: Vec<(&ValidResident, i64, &SealedNumbers)> = batch
            .iter()
            .zip(&sealed)
            .map(|((r, home), s)| (r, *home, s))
            .collect();
        let taken = || StoreError::Duplicate(ID_NUMBER_INDEX.into());
        let mut distinct = std::collections::HashSet::with_capacity(batch.len());
        if !sealed.iter().all(|s| distinct.insert(s.id_hash)) {
            return Err(taken());
        }
        let mut ids = Vec::with_capacity(batch.len());
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            for chunk in rows.chunks(RESIDENTS_PER_INSERT) {
                let inserted = insert_many!(tx, chunk, now_us);
                for (_, _, s) in chunk {
                    ids.push(*inserted.get(&s.id_hash[..]).ok_or_else(taken)?);
                }
            }
            let homes: Vec<i64> = batch.iter().map(|(_, home)| *home).collect();
            crate::coverage_counts::count_registered_in!(tx, &homes);
            stage_audit!(tx, &audit(&ids));
            tx.commit().await?;
        });
        Ok(ids)
    }

    /// Registers each resident in one shared transaction: a resident that cannot be
    /// registered (a taken ID number, an unknown institution) is reported in its place
    /// and the others commit together. This is what lets concurrent registrations
    /// share one commit. Each row's audit record (the third of its tuple, naming the
    /// resident once created) commits with it. On SQLite the transaction runs on the
    /// hot path's own connection in the write turn ([`crate::direct::DirectWrites`]):
    /// its statements were each a round trip to sqlx's worker.
    pub async fn insert_residents_each(
        &self,
        batch: Vec<(ValidResident, i64, AuditEntry)>,
        now_us: i64,
    ) -> Result<Vec<Result<ResidentRecord>>> {
        assert!(
            batch.len() <= RESIDENT_BATCH_MAX,
            "resident batch over {RESIDENT_BATCH_MAX}"
        );
        let sealed: Vec<SealedNumbers> = batch
            .iter()
            .map(|(r, _, _)| seal_numbers(&self.keys, &r.id_number, r.phone.as_ref()))
            .collect();
        // Rows the audit writer has moved into audit.db's chain leave the outbox with
        // this commit, a batch's worth at a time, instead of in one large delete that
        // registrations would queue behind.
        let moved = self.audit_file().map_or(0, |f| f.moved_mark());
        let (batch, ids, districts) = if let Some(direct) = self.direct_writes() {
            direct
                .transaction(move |tx| {
                    let (ids, districts) = insert_each_direct(tx, &batch, &sealed, now_us, moved)?;
                    Ok((batch, ids, districts))
                })
                .await?
        } else {
            let mut districts = Districts::new();
            let ids = on_write!(self, pool => {
                let mut tx = pool.begin().await?;
                for home in batch.iter().map(|(_, home, _)| *home) {
                    if let Entry::Vacant(unknown) = districts.entry(home) {
                        let d: Option<(String,)> = sqlx::query_as(crate::coverage_counts::DISTRICT_OF)
                            .bind(home).fetch_optional(&mut *tx).await?;
                        unknown.insert(d.map(|(d,)| d));
                    }
                }
                let (mut ids, rows) = plan_each(&batch, &sealed, &districts);
                let mut staged = Vec::with_capacity(rows.len());
                for chunk in rows.chunks(RESIDENTS_PER_INSERT) {
                    let values: Vec<_> = chunk.iter().map(|(_, row)| *row).collect();
                    let inserted = insert_many!(tx, &values, now_us);
                    settle_each(chunk, &inserted, &batch, &mut ids, &mut staged);
                }
                let changes = registered_each(&batch, &ids, &districts);
                crate::coverage_counts::add_coverage_in!(tx, &changes);
                stage_audit!(tx, &staged);
                if moved > 0 {
                    sqlx::query(crate::outbox::DELETE_MOVED).bind(moved).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                ids
            });
            (batch, ids, districts)
        };
        let out = ids
            .into_iter()
            .zip(batch)
            .map(|(id, (r, home, _))| {
                let id = id?;
                Ok(ResidentRecord {
                    id,
                    name: r.name,
                    sex: r.sex,
                    birth_date: r.birth_date,
                    id_number: r.id_number,
                    phone: r.phone,
                    address: r.address,
                    household: r.household,
                    home_institution_id: home,
                    home_district_code: districts.get(&home).cloned().flatten().unwrap_or_default(),
                    merged_into_id: None,
                    deceased_on: None,
                    created_at_us: now_us,
                    updated_at_us: now_us,
                    version: crate::Version::first(now_us),
                })
            })
            .collect();
        Ok(out)
    }

    /// A resident with the institutions that hold an open care relationship to them,
    /// in one round trip: what every access decision needs.
    pub async fn resident_with_care(
        &self,
        id: i64,
        now_us: i64,
    ) -> Result<(ResidentRecord, Vec<i64>)> {
        // Built once: every access decision reads it.
        static SQL: std::sync::LazyLock<[String; 2]> = std::sync::LazyLock::new(|| {
            [
                "(SELECT group_concat(c.institution_id) FROM care_relationships c WHERE c.resident_id = r.id AND c.closed_at_us IS NULL AND (c.until_us IS NULL OR c.until_us > $2))",
                "(SELECT string_agg(c.institution_id::text, ',') FROM care_relationships c WHERE c.resident_id = r.id AND c.closed_at_us IS NULL AND (c.until_us IS NULL OR c.until_us > $2))",
            ]
            .map(|care| format!("SELECT {COLUMNS}, {care} AS care {FROM} WHERE r.id = $1"))
        });
        let sql = match self.kind() {
            crate::EngineKind::Sqlite => &SQL[0],
            crate::EngineKind::Postgres => &SQL[1],
        };
        if let Some(direct) = self.direct() {
            // Every access decision starts here: SQLite's hot path.
            return direct
                .first(sql, &[("$1", &id), ("$2", &now_us)], |row| {
                    with_care(&self.keys, row)
                })?
                .ok_or(StoreError::NotFound);
        }
        on_read!(self, pool => {
            with_care(&self.keys, &sqlx::query(trusted(sql)).bind(id).bind(now_us).fetch_optional(pool).await?.ok_or(StoreError::NotFound)?)
        })
    }

    /// A superseded version of a resident's record (`None`: not a version it had
    /// before the current one).
    pub async fn resident_version(&self, id: i64, version: i64) -> Result<Option<ResidentRecord>> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE r.id = $1");
        crate::versions::superseded!(
            self,
            crate::Kept::Residents,
            "r",
            &sql,
            id,
            version,
            |row| resident(&self.keys, row)
        )
    }

    pub async fn resident(&self, id: i64) -> Result<ResidentRecord> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE r.id = $1");
        on_read!(self, pool => {
            resident(&self.keys, &sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?.ok_or(StoreError::NotFound)?)
        })
    }

    /// The resident a patient's record belongs to (a FHIR read by id decides access
    /// on it); [`StoreError::NotFound`] when there is no such record.
    pub async fn resident_of(&self, table: PatientTable, id: i64) -> Result<i64> {
        let sql = format!("SELECT resident_id FROM {} WHERE id = $1", table.table());
        let row: Option<(i64,)> = on_read!(self, pool => {
            sqlx::query_as(trusted(&sql)).bind(id).fetch_optional(pool).await?
        });
        row.map(|(r,)| r).ok_or(StoreError::NotFound)
    }

    /// The names of residents by id (for lists that show whose a row is).
    pub async fn resident_names(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, String>> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(500) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            // ids are numbers: written into the statement, not bound one by one
            let sql = format!(
                "SELECT id, name FROM residents WHERE id IN ({})",
                list.join(", ")
            );
            let rows: Vec<(i64, String)> = on_read!(self, pool => {
                sqlx::query_as(trusted(&sql)).fetch_all(pool).await?
            });
            out.extend(rows);
        }
        Ok(out)
    }

    pub async fn resident_count(&self) -> Result<i64> {
        let (n,): (i64,) = on_read!(self, pool => sqlx::query_as("SELECT COUNT(*) FROM residents").fetch_one(pool).await)?;
        Ok(n)
    }

    fn resident_conditions(&self, filter: &ResidentFilter) -> Conditions {
        let mut c = Conditions::default();
        name_prefixes(&mut c, "r.name", &filter.name_prefixes);
        c.push_in(
            "r.id_number_hash",
            filter
                .id_numbers
                .iter()
                .map(|n| Arg::Bytes(id_lookup(&self.keys, n).to_vec())),
        );
        if let Some(d) = filter.birth_date {
            c.push("r.birth_date = {}", Arg::Date(d));
        }
        if let Some(d) = filter.born_from {
            c.push("r.birth_date >= {}", Arg::Date(d));
        }
        if let Some(d) = filter.born_to {
            c.push("r.birth_date <= {}", Arg::Date(d));
        }
        if let Some(from) = filter.updated_from_us {
            c.push("r.updated_at_us >= {}", Arg::I64(from));
        }
        if let Some(until) = filter.updated_until_us {
            c.push("r.updated_at_us < {}", Arg::I64(until));
        }
        c.push_in(
            "r.sex",
            filter.sexes.iter().map(|s| Arg::Text(s.code().to_owned())),
        );
        if let Some(i) = filter.home_institution_id {
            c.push("r.home_institution_id = {}", Arg::I64(i));
        }
        if let Some(d) = &filter.home_district_code {
            c.push("i.district_code = {}", Arg::Text(d.clone()));
        }
        if let Some((institution, now_us)) = filter.reach {
            c.push_each(
                "(r.home_institution_id = {} OR EXISTS (SELECT 1 FROM care_relationships c
                   WHERE c.resident_id = r.id AND c.institution_id = {} AND c.closed_at_us IS NULL
                     AND (c.until_us IS NULL OR c.until_us > {})))",
                [
                    Arg::I64(institution),
                    Arg::I64(institution),
                    Arg::I64(now_us),
                ],
            );
        }
        if !filter.include_merged {
            c.push_plain("r.merged_into_id IS NULL");
        }
        c
    }

    pub async fn residents(
        &self,
        filter: &ResidentFilter,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<ResidentRecord>> {
        let mut c = self.resident_conditions(filter);
        if let Some(a) = after {
            c.push("r.id > {}", Arg::I64(a));
        }
        let sql = format!(
            "SELECT {COLUMNS} {FROM}{} ORDER BY r.id LIMIT {}",
            c.sql(),
            limit + 1
        );
        let items = on_read!(self, pool => {
            bind_all!(sqlx::query(trusted(&sql)), &c.args).fetch_all(pool).await?
                .iter().map(|row| resident(&self.keys, row)).collect::<Result<Vec<_>>>()?
        });
        Ok(Page::from_overfetch(items, limit, |r| r.id))
    }

    /// How many residents a filter matches (a search's total).
    pub async fn residents_count(&self, filter: &ResidentFilter) -> Result<i64> {
        let c = self.resident_conditions(filter);
        let sql = format!("SELECT COUNT(*) {FROM}{}", c.sql());
        let (n,): (i64,) = on_read!(self, pool => {
            bind_all!(sqlx::query_as(trusted(&sql)), &c.args).fetch_one(pool).await?
        });
        Ok(n)
    }

    /// Replaces a resident's demographics; the ID number may change only to a free one.
    /// Updates a resident's record; with `expected_version`, only if the record is still
    /// at that version ([`StoreError::Changed`] otherwise: a FHIR `If-Match`).
    pub async fn update_resident(
        &self,
        id: i64,
        r: &ValidResident,
        now_us: i64,
        expected_version: Option<i64>,
        audit: &[AuditEntry],
    ) -> Result<ResidentRecord> {
        let sealed = seal_numbers(&self.keys, &r.id_number, r.phone.as_ref());
        let done = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = update_resident_in!(tx, id, r, &sealed, now_us, expected_version);
            if done > 0 {
                stage_audit!(tx, audit);
                tx.commit().await?;
            }
            done
        });
        if done == 0 {
            return match (expected_version, self.resident(id).await) {
                (Some(_), Ok(r)) if r.merged_into_id.is_none() => {
                    Err(StoreError::Changed("version"))
                }
                _ => Err(StoreError::NotFound),
            };
        }
        self.resident(id).await
    }

    /// Merges `merged` into `survivor` in one transaction: the merged record points at
    /// the survivor and its care relationships move across.
    pub async fn merge_residents(
        &self,
        survivor: i64,
        merged: i64,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<()> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let before = crate::coverage_counts::coverage_facts_in!(tx, &[merged], true);
            let done = sqlx::query(
                "UPDATE residents SET merged_into_id = $1, updated_at_us = $2
                 WHERE id = $3 AND merged_into_id IS NULL
                 AND EXISTS (SELECT 1 FROM residents s WHERE s.id = $1 AND s.merged_into_id IS NULL)",
            )
            .bind(survivor).bind(now_us).bind(merged)
            .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query("UPDATE care_relationships SET resident_id = $1 WHERE resident_id = $2")
                .bind(survivor).bind(merged).execute(&mut *tx).await?;
            sqlx::query("UPDATE residents SET updated_at_us = $1 WHERE id = $2")
                .bind(now_us).bind(survivor).execute(&mut *tx).await?;
            crate::coverage_counts::restate_coverage_in!(tx, &[merged], before);
            stage_audit!(tx, audit);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Opens a care relationship (contract, referral, order …) between a resident and
    /// an institution; returns its id.
    pub async fn open_care_relationship(
        &self,
        resident_id: i64,
        institution_id: i64,
        kind: &str,
        now_us: i64,
    ) -> Result<i64> {
        let (id,): (i64,) = on_write!(self, pool => {
            sqlx::query_as(
                "INSERT INTO care_relationships (resident_id, institution_id, kind, opened_at_us) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(resident_id).bind(institution_id).bind(kind).bind(now_us).fetch_one(pool).await
        })?;
        Ok(id)
    }

    pub async fn close_care_relationship(&self, id: i64, now_us: i64) -> Result<()> {
        let done = on_write!(self, pool => {
            sqlx::query("UPDATE care_relationships SET closed_at_us = $1 WHERE id = $2 AND closed_at_us IS NULL")
                .bind(now_us).bind(id).execute(pool).await.map(|r| r.rows_affected())
        })?;
        if done == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// Institutions with a care relationship to the resident open at `now_us`.
    pub async fn care_institutions(&self, resident_id: i64, now_us: i64) -> Result<Vec<i64>> {
        let rows: Vec<(i64,)> = on_read!(self, pool => {
            sqlx::query_as("SELECT DISTINCT institution_id FROM care_relationships WHERE resident_id = $1 AND closed_at_us IS NULL AND (until_us IS NULL OR until_us > $2) ORDER BY institution_id")
                .bind(resident_id).bind(now_us).fetch_all(pool).await
        })?;
        Ok(rows.into_iter().map(|(i,)| i).collect())
    }
}
