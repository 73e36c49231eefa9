//! Versions of the records FHIR serves (`meta.versionId`, `vread`, `_history`).
//!
//! Each kept table counts its row's versions in `version` (1 when inserted) and
//! records when the current one began in `version_at_us` (NULL: when the row was
//! created). An update that changes a row keeps the superseded row — its own columns,
//! as JSON — in `record_versions`, with the times its version began and ended, and
//! counts a new version. A trigger does it inside the updating statement, so no write
//! path can forget it and an insert costs nothing: on PostgreSQL one trigger function
//! for every table (migration 0022), on SQLite a trigger per table written here from
//! the table's columns (SQLite has no `OLD.*`), rewritten whenever the migrations
//! change a kept table.
//!
//! A superseded version is read with the same statement as the current row, its own
//! columns taken from the snapshot (`jsonb_populate_record` on PostgreSQL; one
//! `json_extract` per column on SQLite) and what it joins as it is now.

use sqlx::Row;

use crate::row::RowExt;
use crate::{Result, Store, StoreError, on_read};

/// A table whose rows are served with versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kept {
    Residents,
    Institutions,
    Departments,
    Staff,
    Enrolments,
    Contracts,
    Tasks,
    Referrals,
    Alerts,
    Schedules,
    Slots,
    Bookings,
    Consultations,
    LabResults,
}

impl Kept {
    pub const ALL: [Kept; 14] = [
        Kept::Residents,
        Kept::Institutions,
        Kept::Departments,
        Kept::Staff,
        Kept::Enrolments,
        Kept::Contracts,
        Kept::Tasks,
        Kept::Referrals,
        Kept::Alerts,
        Kept::Schedules,
        Kept::Slots,
        Kept::Bookings,
        Kept::Consultations,
        Kept::LabResults,
    ];

    pub fn table(self) -> &'static str {
        match self {
            Kept::Residents => "residents",
            Kept::Institutions => "institutions",
            Kept::Departments => "departments",
            Kept::Staff => "staff",
            Kept::Enrolments => "chronic_enrolments",
            Kept::Contracts => "contracts",
            Kept::Tasks => "chronic_tasks",
            Kept::Referrals => "referrals",
            Kept::Alerts => "alerts",
            Kept::Schedules => "schedules",
            Kept::Slots => "slots",
            Kept::Bookings => "bookings",
            Kept::Consultations => "consultations",
            Kept::LabResults => "lab_results",
        }
    }

    /// The column holding when the row was created (its first version's start).
    pub(crate) fn created_column(self) -> &'static str {
        match self {
            Kept::Contracts => "signed_at_us",
            Kept::Alerts => "raised_at_us",
            _ => "created_at_us",
        }
    }

    /// Columns a write keeps up to date beside the record (an enrolment's figures from
    /// its follow-ups, the time a write touched it to lock it, a resident's sealed
    /// numbers resealed): their change alone is no new version (the PostgreSQL
    /// triggers in migration 0022 list the same).
    pub(crate) fn bookkeeping(self) -> &'static [&'static str] {
        match self {
            Kept::Enrolments => &[
                "changed_at_us",
                "last_followup_on",
                "last_face_to_face_on",
                "last_classification",
                "next_due_on",
                "highest_sbp_mmhg",
                "highest_dbp_mmhg",
                "bmi_centi",
                "waist_cm",
            ],
            // Resealing under a new key (or sealing numbers stored before encryption)
            // rewrites these alone; a change of the numbers themselves is an update,
            // which also sets `updated_at_us`.
            Kept::Residents => &["id_number", "phone", "id_number_hash"],
            _ => &[],
        }
    }
}

/// Which version of its row a record is, and since when (UTC microseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub number: i64,
    pub since_us: i64,
}

impl Version {
    /// A record that is never changed once written: its only version.
    pub fn first(created_us: i64) -> Version {
        Version {
            number: 1,
            since_us: created_us,
        }
    }

    pub(crate) fn of(row: &impl RowExt) -> Result<Version> {
        Ok(Version {
            number: row.i64("version")?,
            since_us: row.i64("version_at_us")?,
        })
    }
}

/// One version of a row: when it began and, once superseded, when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionMark {
    pub number: i64,
    pub since_us: i64,
    pub until_us: Option<i64>,
}

/// Rewrites `select` (a statement reading the current row of `kept` as `FROM <table>
/// <alias>`) to read the row's superseded `version` instead; the statement's `$1` is
/// the row's id and `$2` the version. `columns` are the table's (SQLite's), in order.
pub(crate) fn superseded_select(
    select: &str,
    kept: Kept,
    alias: &str,
    sqlite_columns: Option<&[(String, String)]>,
) -> Result<String> {
    let table = kept.table();
    // An unaliased read keeps the table's name for the version it reads.
    let alias = if alias.is_empty() { table } else { alias };
    let from = if alias == table {
        format!("FROM {table}")
    } else {
        format!("FROM {table} {alias}")
    };
    if !select.contains(&from) {
        return Err(StoreError::Corrupt(format!(
            "a versioned read of {table} must select FROM {table} {alias}"
        )));
    }
    let source = match sqlite_columns {
        Some(columns) => {
            let list: Vec<String> = columns
                .iter()
                .map(|(name, ty)| {
                    let value = format!("json_extract(snapshot, '$.{name}')");
                    if ty.eq_ignore_ascii_case("BLOB") {
                        format!("unhex({value}) AS {name}")
                    } else {
                        format!("{value} AS {name}")
                    }
                })
                .collect();
            format!(
                "(SELECT {} FROM record_versions WHERE table_name = '{table}' AND row_id = $1 AND version = $2)",
                list.join(", ")
            )
        }
        None => format!(
            "(SELECT (jsonb_populate_record(NULL::{table}, snapshot)).* FROM record_versions
              WHERE table_name = '{table}' AND row_id = $1 AND version = $2)"
        ),
    };
    Ok(select.replacen(&from, &format!("FROM {source} {alias}"), 1))
}

/// A kept table's columns and their declared types (SQLite).
pub(crate) async fn sqlite_columns<'c, E>(db: E, table: &str) -> Result<Vec<(String, String)>>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid"
    )))
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("name")?, r.try_get("type")?)))
        .collect()
}

/// The SQLite trigger that keeps `kept`'s superseded rows.
pub(crate) fn sqlite_trigger(kept: Kept, columns: &[(String, String)]) -> String {
    let table = kept.table();
    let created = kept.created_column();
    let changed: Vec<String> = columns
        .iter()
        .filter(|(c, _)| !kept.bookkeeping().contains(&c.as_str()))
        .map(|(c, _)| format!("OLD.{c} IS NOT NEW.{c}"))
        .collect();
    let snapshot: Vec<String> = columns
        .iter()
        .map(|(c, ty)| {
            if ty.eq_ignore_ascii_case("BLOB") {
                format!("'{c}', hex(OLD.{c})")
            } else {
                format!("'{c}', OLD.{c}")
            }
        })
        .collect();
    format!(
        "CREATE TRIGGER {table}_version AFTER UPDATE ON {table}
WHEN NEW.version = OLD.version AND ({changed})
BEGIN
    INSERT INTO record_versions (table_name, row_id, version, from_us, to_us, snapshot)
    VALUES ('{table}', OLD.id, OLD.version, COALESCE(OLD.version_at_us, OLD.{created}),
        MAX(CAST(unixepoch('subsec') * 1000000 AS INTEGER), COALESCE(OLD.version_at_us, OLD.{created}) + 1),
        json_object({snapshot}));
    UPDATE {table} SET version = OLD.version + 1,
        version_at_us = (SELECT to_us FROM record_versions
                         WHERE table_name = '{table}' AND row_id = OLD.id AND version = OLD.version)
    WHERE id = OLD.id;
END",
        changed = changed.join(" OR "),
        snapshot = snapshot.join(", "),
    )
}

/// What the migrations do for versions after they ran, in their transaction: on SQLite
/// (re)write the triggers whose table's columns changed; nothing on PostgreSQL, whose
/// one trigger function reads whole rows.
pub(crate) trait AfterMigrations {
    async fn write_version_triggers(&mut self) -> Result<usize>;
}

impl AfterMigrations for sqlx::Transaction<'_, sqlx::Sqlite> {
    async fn write_version_triggers(&mut self) -> Result<usize> {
        write_sqlite_triggers(self).await
    }
}

impl AfterMigrations for sqlx::Transaction<'_, sqlx::Postgres> {
    async fn write_version_triggers(&mut self) -> Result<usize> {
        Ok(0)
    }
}

async fn write_sqlite_triggers(tx: &mut sqlx::SqliteConnection) -> Result<usize> {
    let mut written = 0;
    for kept in Kept::ALL {
        let columns = sqlite_columns(&mut *tx, kept.table()).await?;
        if !columns.iter().any(|(c, _)| c == "version") {
            continue; // Before migration 0022.
        }
        let want = sqlite_trigger(kept, &columns);
        let name = format!("{}_version", kept.table());
        let have: Option<(String,)> =
            sqlx::query_as("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = $1")
                .bind(&name)
                .fetch_optional(&mut *tx)
                .await?;
        if have.as_ref().map(|(s,)| s.as_str()) == Some(want.as_str()) {
            continue;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP TRIGGER IF EXISTS {name}"
        )))
        .execute(&mut *tx)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(want))
            .execute(&mut *tx)
            .await?;
        written += 1;
    }
    Ok(written)
}

impl Store {
    /// Every version of a row, newest first: the current one (`current`, read with the
    /// row) and the superseded ones kept.
    pub async fn version_marks(
        &self,
        kept: Kept,
        id: i64,
        current: Version,
    ) -> Result<Vec<VersionMark>> {
        let rows: Vec<(i64, i64, i64)> = on_read!(self, pool => {
            sqlx::query_as(
                "SELECT version, from_us, to_us FROM record_versions
                 WHERE table_name = $1 AND row_id = $2 ORDER BY version DESC",
            )
            .bind(kept.table())
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        let mut marks = vec![VersionMark {
            number: current.number,
            since_us: current.since_us,
            until_us: None,
        }];
        marks.extend(
            rows.into_iter()
                .filter(|(v, _, _)| *v < current.number)
                .map(|(number, since_us, until_us)| VersionMark {
                    number,
                    since_us,
                    until_us: Some(until_us),
                }),
        );
        Ok(marks)
    }
}

/// Reads a superseded version of a row with `$select` (a statement reading the current
/// row, as [`superseded_select`] takes it), mapped by `$map` (a row-mapping function
/// of either engine); `Ok(None)` when that version was not kept.
macro_rules! superseded {
    ($store:expr, $kept:expr, $alias:expr, $select:expr, $id:expr, $version:expr, $map:expr) => {{
        let (kept, id, version): ($crate::versions::Kept, i64, i64) = ($kept, $id, $version);
        match &$store.engine {
            $crate::Engine::Sqlite { read, .. } => {
                let mut conn = read.acquire().await?;
                let columns = $crate::versions::sqlite_columns(&mut *conn, kept.table()).await?;
                let sql =
                    $crate::versions::superseded_select($select, kept, $alias, Some(&columns))?;
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .bind(version)
                    .fetch_optional(&mut *conn)
                    .await?;
                row.as_ref().map(|r| $map(r)).transpose()
            }
            $crate::Engine::Postgres { pool, .. } => {
                let sql = $crate::versions::superseded_select($select, kept, $alias, None)?;
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .bind(version)
                    .fetch_optional(pool)
                    .await?;
                row.as_ref().map(|r| $map(r)).transpose()
            }
        }
    }};
}
pub(crate) use superseded;
