//! Reading columns the same way from either engine's rows.

use sqlx::Row;
use time::Date;

use crate::{Result, StoreError};

/// Typed column access shared by both engines, so row mapping is written once.
pub(crate) trait RowExt {
    fn i64(&self, column: &str) -> Result<i64>;
    fn opt_i64(&self, column: &str) -> Result<Option<i64>>;
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn date(&self, column: &str) -> Result<Date>;
    fn opt_date(&self, column: &str) -> Result<Option<Date>>;
    fn bool(&self, column: &str) -> Result<bool>;
    fn bytes(&self, column: &str) -> Result<Vec<u8>>;
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>>;
}

macro_rules! impl_row_ext {
    ($row:ty) => {
        impl RowExt for $row {
            fn i64(&self, column: &str) -> Result<i64> {
                Ok(self.try_get(column)?)
            }
            fn opt_i64(&self, column: &str) -> Result<Option<i64>> {
                Ok(self.try_get(column)?)
            }
            fn text(&self, column: &str) -> Result<String> {
                Ok(self.try_get(column)?)
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>> {
                Ok(self.try_get(column)?)
            }
            fn date(&self, column: &str) -> Result<Date> {
                Ok(self.try_get(column)?)
            }
            fn opt_date(&self, column: &str) -> Result<Option<Date>> {
                Ok(self.try_get(column)?)
            }
            fn bool(&self, column: &str) -> Result<bool> {
                Ok(self.try_get(column)?)
            }
            fn bytes(&self, column: &str) -> Result<Vec<u8>> {
                Ok(self.try_get(column)?)
            }
            fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>> {
                Ok(self.try_get(column)?)
            }
        }
    };
}
impl_row_ext!(sqlx::sqlite::SqliteRow);
impl_row_ext!(sqlx::postgres::PgRow);

/// A 32-byte hash column.
pub(crate) fn hash32(row: &impl RowExt, column: &str) -> Result<[u8; 32]> {
    row.bytes(column)?
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{column} is not 32 bytes")))
}

/// A bind value for statements whose shape is decided at run time (searches).
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    I64(i64),
    Text(String),
    Date(Date),
    Bytes(Vec<u8>),
}

/// Binds run-time arguments in order onto a query for either engine.
macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                $crate::row::Arg::I64(v) => q.bind(*v),
                $crate::row::Arg::Text(v) => q.bind(v.as_str()),
                $crate::row::Arg::Date(v) => q.bind(*v),
                $crate::row::Arg::Bytes(v) => q.bind(v.as_slice()),
            };
        }
        q
    }};
}
pub(crate) use bind_all;

/// A value to write, typed as the column takes it, for statements that both lanes run
/// (sqlx's, through [`bind_vals!`], and the SQLite hot path's, as a `rusqlite::ToSql`):
/// a row's values are listed once, in its columns' order, and bound by either.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Int(Option<i64>),
    Text(Option<std::borrow::Cow<'a, str>>),
    /// Stored by sqlx on SQLite as `YYYY-MM-DD` text.
    Day(Option<Date>),
    /// Stored by sqlx on SQLite as 0 or 1.
    Bool(Option<bool>),
    Blob(&'a [u8]),
}

impl<'a> Val<'a> {
    pub(crate) fn int(v: impl Into<i64>) -> Val<'a> {
        Val::Int(Some(v.into()))
    }
    pub(crate) fn opt_int<T: Into<i64>>(v: Option<T>) -> Val<'a> {
        Val::Int(v.map(Into::into))
    }
    pub(crate) fn text(v: &'a str) -> Val<'a> {
        Val::Text(Some(std::borrow::Cow::Borrowed(v)))
    }
    pub(crate) fn opt_text(v: Option<&'a str>) -> Val<'a> {
        Val::Text(v.map(std::borrow::Cow::Borrowed))
    }
    pub(crate) fn owned(v: String) -> Val<'a> {
        Val::Text(Some(std::borrow::Cow::Owned(v)))
    }
    pub(crate) fn opt_owned(v: Option<String>) -> Val<'a> {
        Val::Text(v.map(std::borrow::Cow::Owned))
    }
    pub(crate) fn day(v: Date) -> Val<'a> {
        Val::Day(Some(v))
    }
    pub(crate) fn opt_day(v: Option<Date>) -> Val<'a> {
        Val::Day(v)
    }
    pub(crate) fn bool(v: bool) -> Val<'a> {
        Val::Bool(Some(v))
    }
}

impl rusqlite::ToSql for Val<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use crate::direct::bind;
        use rusqlite::types::{ToSqlOutput, ValueRef};
        const NULL: ToSqlOutput<'static> = ToSqlOutput::Borrowed(ValueRef::Null);
        Ok(match self {
            Val::Int(v) => bind::opt_int(*v),
            Val::Text(v) => bind::opt_text(v.as_deref()),
            Val::Day(Some(v)) => bind::day(*v),
            Val::Bool(Some(v)) => bind::int(i64::from(*v)),
            Val::Day(None) | Val::Bool(None) => NULL,
            Val::Blob(v) => bind::blob(v),
        })
    }
}

/// Binds `$vals` (an iterator of `&Val`, which must outlive the query) in order onto
/// the sqlx query `$query` of either engine; evaluates to the query.
macro_rules! bind_vals {
    ($query:expr, $vals:expr) => {{
        let mut q = $query;
        for v in $vals {
            q = match v {
                $crate::row::Val::Int(v) => q.bind(*v),
                $crate::row::Val::Text(v) => q.bind(v.as_deref()),
                $crate::row::Val::Day(v) => q.bind(*v),
                $crate::row::Val::Bool(v) => q.bind(*v),
                $crate::row::Val::Blob(v) => q.bind(*v),
            };
        }
        q
    }};
}
pub(crate) use bind_vals;

/// How an engine's SQL names the values bound to a statement built at run time.
pub(crate) trait Numbering: sqlx::Database {
    /// `$1, $2, …` (PostgreSQL), or `?` in the order bound (SQLite: sqlx finds each
    /// numbered value there by a search through all of the statement's names, so a
    /// statement of n numbered values costs n² — most of a 25-row registration batch's
    /// time: BENCHMARKS.md).
    const NUMBERED: bool;
}
impl Numbering for sqlx::Sqlite {
    const NUMBERED: bool = false;
}
impl Numbering for sqlx::Postgres {
    const NUMBERED: bool = true;
}

/// What statements run on inside a write: a transaction or a connection in one.
pub(crate) trait OnEngine {
    type Engine: Numbering;
}
impl<DB: Numbering> OnEngine for sqlx::Transaction<'_, DB> {
    type Engine = DB;
}
impl<C: sqlx::Connection> OnEngine for &mut C
where
    C::Database: Numbering,
{
    type Engine = C::Database;
}

/// Whether the engine under `_tx` numbers its values.
pub(crate) fn numbered<T: OnEngine>(_tx: &T) -> bool {
    T::Engine::NUMBERED
}

/// The `VALUES` rows of a multi-row `INSERT` built at run time: `rows` groups of
/// `per_row` bound values, each group ending with `extra` (constant SQL), numbered from
/// `$1` or all `?` (see [`Numbering`]); bound row after row.
pub(crate) fn value_rows(numbered: bool, rows: usize, per_row: usize, extra: &str) -> String {
    let mut sql = String::with_capacity(rows * (per_row * 5 + extra.len() + 3));
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 1..=per_row {
            if c > 1 {
                sql.push(',');
            }
            if numbered {
                sql.push('$');
                sql.push_str(&(r * per_row + c).to_string());
            } else {
                sql.push('?');
            }
        }
        sql.push_str(extra);
        sql.push(')');
    }
    sql
}

/// `rows` in chunks of at most `max`, whose lengths come from a small fixed set
/// (`max`, then powers of two below it): a multi-row statement built for a chunk is
/// then one of a few, prepared once on a connection and afterwards taken from its
/// statement cache instead of being parsed again.
pub(crate) fn cached_chunks<T>(rows: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let max = max.max(1);
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= max {
            max
        } else {
            1 << rest.len().ilog2()
        };
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        Some(chunk)
    })
}

/// A multi-row `INSERT INTO table (columns) VALUES …` of `rows` rows of `per_row`
/// values (see [`value_rows`]), each led by an explicitly given id when `with_id`.
pub(crate) fn insert_rows_sql(
    table: &str,
    columns: &str,
    per_row: usize,
    numbered: bool,
    rows: usize,
    with_id: bool,
) -> String {
    let (id, per_row) = if with_id {
        ("id, ", per_row + 1)
    } else {
        ("", per_row)
    };
    format!(
        "INSERT INTO {table} ({id}{columns}) VALUES {}",
        value_rows(numbered, rows, per_row, "")
    )
}

/// Reserves `$n` new ids of `$table` (a constant name; its `id` an integer key the
/// engine assigns) inside the write transaction `$tx`, to insert rows with: evaluates
/// to them, ascending. On SQLite the transaction holds the database's write lock, so
/// the ids after the largest stored are free until it ends; on PostgreSQL they are
/// drawn from the column's sequence.
macro_rules! reserve_ids {
    ($tx:ident, $table:literal, $n:expr) => {{
        let n = i64::try_from($n).unwrap_or(i64::MAX);
        let sql = if $crate::row::numbered(&$tx) {
            concat!("SELECT nextval(pg_get_serial_sequence('", $table, "', 'id')) FROM generate_series(1, $1)")
        } else {
            concat!(
                "WITH RECURSIVE k(n) AS (SELECT 1 WHERE $1 > 0 UNION ALL SELECT n + 1 FROM k WHERE n < $1) ",
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM ", $table, ") + n FROM k"
            )
        };
        let mut ids: Vec<i64> = sqlx::query_scalar(sql).bind(n).fetch_all(&mut *$tx).await?;
        ids.sort_unstable();
        ids
    }};
}
pub(crate) use reserve_ids;

/// Collects `WHERE` conditions and their arguments with `$n` placeholders.
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    clauses: Vec<String>,
    pub(crate) args: Vec<Arg>,
}

impl Conditions {
    /// Adds a clause in which `{}` stands for the next placeholder.
    pub(crate) fn push(&mut self, clause: &str, arg: Arg) {
        self.args.push(arg);
        self.clauses
            .push(clause.replace("{}", &format!("${}", self.args.len())));
    }

    /// Adds a clause with several `{}`, each the next of `args` in order.
    pub(crate) fn push_each(&mut self, clause: &str, args: impl IntoIterator<Item = Arg>) {
        let mut parts = clause.split("{}");
        let mut out = parts.next().unwrap_or_default().to_owned();
        for (arg, rest) in args.into_iter().zip(parts) {
            self.args.push(arg);
            out.push_str(&format!("${}{rest}", self.args.len()));
        }
        self.clauses.push(out);
    }

    /// `column IN (…)` over `args` — any of them (nothing when there are none).
    pub(crate) fn push_in(&mut self, column: &str, args: impl IntoIterator<Item = Arg>) {
        let mut list = String::new();
        for arg in args {
            self.args.push(arg);
            if !list.is_empty() {
                list.push_str(", ");
            }
            list.push_str(&format!("${}", self.args.len()));
        }
        if !list.is_empty() {
            self.clauses.push(format!("{column} IN ({list})"));
        }
    }

    pub(crate) fn push_plain(&mut self, clause: &str) {
        self.clauses.push(clause.to_owned());
    }

    /// ` WHERE a AND b`, or nothing.
    pub(crate) fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// Marks SQL that Gongti assembled itself as safe to run. Every caller builds its
/// string from constant fragments, `$n` placeholders, and values Gongti formatted
/// itself (integers, dates, booleans, its own codes); text from outside is always bound.
pub(crate) fn trusted(sql: &str) -> sqlx::AssertSqlSafe<&str> {
    sqlx::AssertSqlSafe(sql)
}

/// A comma-separated list of ids read back from the database (not client input),
/// for an `IN (...)`.
pub(crate) fn id_list(ids: impl Iterator<Item = i64>) -> String {
    let mut out = String::new();
    for id in ids {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&id.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::cached_chunks;

    #[test]
    fn chunks_take_few_lengths_and_cover_every_row() {
        let lens = |n: usize, max: usize| -> Vec<usize> {
            let rows: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = cached_chunks(&rows, max).collect();
            assert_eq!(chunks.concat(), rows, "every row once, in order");
            chunks.iter().map(|c| c.len()).collect()
        };
        for (n, max, want) in [
            (0, 200, vec![]),
            (1, 200, vec![1]),
            (200, 200, vec![200]),
            (437, 200, vec![200, 200, 32, 4, 1]),
            (137, 200, vec![128, 8, 1]),
            (5, 0, vec![1, 1, 1, 1, 1]),
        ] {
            assert_eq!(lens(n, max), want, "{n} rows, at most {max}");
        }
    }
}
