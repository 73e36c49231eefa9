//! Schema migrations, embedded in the binary, one list per engine. Migrations only
//! ever add (expand now, contract in a later release).

use crate::{Engine, Result, Store, StoreError, on_write};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "contracts",
        sqlite: include_str!("../migrations/sqlite/0002_contracts.sql"),
        postgres: include_str!("../migrations/postgres/0002_contracts.sql"),
    },
    Migration {
        version: 3,
        name: "chronic",
        sqlite: include_str!("../migrations/sqlite/0003_chronic.sql"),
        postgres: include_str!("../migrations/postgres/0003_chronic.sql"),
    },
    Migration {
        version: 4,
        name: "readings",
        sqlite: include_str!("../migrations/sqlite/0004_readings.sql"),
        postgres: include_str!("../migrations/postgres/0004_readings.sql"),
    },
    Migration {
        version: 5,
        name: "indicator_counts",
        sqlite: include_str!("../migrations/sqlite/0005_indicator_counts.sql"),
        postgres: include_str!("../migrations/postgres/0005_indicator_counts.sql"),
    },
    Migration {
        version: 6,
        name: "screening",
        sqlite: include_str!("../migrations/sqlite/0006_screening.sql"),
        postgres: include_str!("../migrations/postgres/0006_screening.sql"),
    },
    Migration {
        version: 7,
        name: "scheduling",
        sqlite: include_str!("../migrations/sqlite/0007_scheduling.sql"),
        postgres: include_str!("../migrations/postgres/0007_scheduling.sql"),
    },
    Migration {
        version: 8,
        name: "referrals",
        sqlite: include_str!("../migrations/sqlite/0008_referrals.sql"),
        postgres: include_str!("../migrations/postgres/0008_referrals.sql"),
    },
    Migration {
        version: 9,
        name: "consultations",
        sqlite: include_str!("../migrations/sqlite/0009_consultations.sql"),
        postgres: include_str!("../migrations/postgres/0009_consultations.sql"),
    },
    Migration {
        version: 10,
        name: "patient_accounts",
        sqlite: include_str!("../migrations/sqlite/0010_patient_accounts.sql"),
        postgres: include_str!("../migrations/postgres/0010_patient_accounts.sql"),
    },
    Migration {
        version: 11,
        name: "enrolments_by_resident",
        sqlite: include_str!("../migrations/sqlite/0011_enrolments_by_resident.sql"),
        postgres: include_str!("../migrations/postgres/0011_enrolments_by_resident.sql"),
    },
    Migration {
        version: 12,
        name: "enrolment_endings",
        sqlite: include_str!("../migrations/sqlite/0012_enrolment_endings.sql"),
        postgres: include_str!("../migrations/postgres/0012_enrolment_endings.sql"),
    },
    Migration {
        version: 13,
        name: "followup_facts_index",
        sqlite: include_str!("../migrations/sqlite/0013_followup_facts_index.sql"),
        postgres: include_str!("../migrations/postgres/0013_followup_facts_index.sql"),
    },
    Migration {
        version: 14,
        name: "ending_counts",
        sqlite: include_str!("../migrations/sqlite/0014_ending_counts.sql"),
        postgres: include_str!("../migrations/postgres/0014_ending_counts.sql"),
    },
    Migration {
        version: 15,
        name: "audit_outbox",
        sqlite: include_str!("../migrations/sqlite/0015_audit_outbox.sql"),
        postgres: include_str!("../migrations/postgres/0015_audit_outbox.sql"),
    },
    Migration {
        version: 16,
        name: "sign_in_throttle",
        sqlite: include_str!("../migrations/sqlite/0016_sign_in_throttle.sql"),
        postgres: include_str!("../migrations/postgres/0016_sign_in_throttle.sql"),
    },
    Migration {
        version: 17,
        name: "idempotency",
        sqlite: include_str!("../migrations/sqlite/0017_idempotency.sql"),
        postgres: include_str!("../migrations/postgres/0017_idempotency.sql"),
    },
    Migration {
        version: 18,
        name: "sealed_personal_data",
        sqlite: include_str!("../migrations/sqlite/0018_sealed_personal_data.sql"),
        postgres: include_str!("../migrations/postgres/0018_sealed_personal_data.sql"),
    },
    Migration {
        version: 19,
        name: "sealed_id_number_not_unique",
        sqlite: include_str!("../migrations/sqlite/0019_sealed_id_number_not_unique.sql"),
        postgres: include_str!("../migrations/postgres/0019_sealed_id_number_not_unique.sql"),
    },
    Migration {
        version: 20,
        name: "resident_deceased",
        sqlite: include_str!("../migrations/sqlite/0020_resident_deceased.sql"),
        postgres: include_str!("../migrations/postgres/0020_resident_deceased.sql"),
    },
    Migration {
        version: 21,
        name: "residents_updated",
        sqlite: include_str!("../migrations/sqlite/0021_residents_updated.sql"),
        postgres: include_str!("../migrations/postgres/0021_residents_updated.sql"),
    },
    Migration {
        version: 22,
        name: "record_versions",
        sqlite: include_str!("../migrations/sqlite/0022_record_versions.sql"),
        postgres: include_str!("../migrations/postgres/0022_record_versions.sql"),
    },
    Migration {
        version: 23,
        name: "clients",
        sqlite: include_str!("../migrations/sqlite/0023_clients.sql"),
        postgres: include_str!("../migrations/postgres/0023_clients.sql"),
    },
    Migration {
        version: 24,
        name: "lab_results",
        sqlite: include_str!("../migrations/sqlite/0024_lab_results.sql"),
        postgres: include_str!("../migrations/postgres/0024_lab_results.sql"),
    },
    Migration {
        version: 25,
        name: "readings_by_residents",
        sqlite: include_str!("../migrations/sqlite/0025_readings_by_residents.sql"),
        postgres: include_str!("../migrations/postgres/0025_readings_by_residents.sql"),
    },
    Migration {
        version: 26,
        name: "coverage_counts",
        sqlite: include_str!("../migrations/sqlite/0026_coverage_counts.sql"),
        postgres: include_str!("../migrations/postgres/0026_coverage_counts.sql"),
    },
    Migration {
        version: 27,
        name: "drug_rule_settings",
        sqlite: include_str!("../migrations/sqlite/0027_drug_rule_settings.sql"),
        postgres: include_str!("../migrations/postgres/0027_drug_rule_settings.sql"),
    },
    Migration {
        version: 28,
        name: "prescriptions",
        sqlite: include_str!("../migrations/sqlite/0028_prescriptions.sql"),
        postgres: include_str!("../migrations/postgres/0028_prescriptions.sql"),
    },
    Migration {
        version: 29,
        name: "insurance",
        sqlite: include_str!("../migrations/sqlite/0029_insurance.sql"),
        postgres: include_str!("../migrations/postgres/0029_insurance.sql"),
    },
    Migration {
        version: 30,
        name: "online_visits",
        sqlite: include_str!("../migrations/sqlite/0030_online_visits.sql"),
        postgres: include_str!("../migrations/postgres/0030_online_visits.sql"),
    },
    Migration {
        version: 31,
        name: "long_confirmation",
        sqlite: include_str!("../migrations/sqlite/0031_long_confirmation.sql"),
        postgres: include_str!("../migrations/postgres/0031_long_confirmation.sql"),
    },
    Migration {
        version: 32,
        name: "lab_intake",
        sqlite: include_str!("../migrations/sqlite/0032_lab_intake.sql"),
        postgres: include_str!("../migrations/postgres/0032_lab_intake.sql"),
    },
    Migration {
        version: 33,
        name: "exam_orders",
        sqlite: include_str!("../migrations/sqlite/0033_exam_orders.sql"),
        postgres: include_str!("../migrations/postgres/0033_exam_orders.sql"),
    },
    Migration {
        version: 34,
        name: "critical_findings",
        sqlite: include_str!("../migrations/sqlite/0034_critical_findings.sql"),
        postgres: include_str!("../migrations/postgres/0034_critical_findings.sql"),
    },
    Migration {
        version: 35,
        name: "hl7_outbox",
        sqlite: include_str!("../migrations/sqlite/0035_hl7_outbox.sql"),
        postgres: include_str!("../migrations/postgres/0035_hl7_outbox.sql"),
    },
    Migration {
        version: 36,
        name: "report_amendments",
        sqlite: include_str!("../migrations/sqlite/0036_report_amendments.sql"),
        postgres: include_str!("../migrations/postgres/0036_report_amendments.sql"),
    },
    Migration {
        version: 37,
        name: "payment_schemes",
        sqlite: include_str!("../migrations/sqlite/0037_payment_schemes.sql"),
        postgres: include_str!("../migrations/postgres/0037_payment_schemes.sql"),
    },
    Migration {
        version: 38,
        name: "capitation_years",
        sqlite: include_str!("../migrations/sqlite/0038_capitation_years.sql"),
        postgres: include_str!("../migrations/postgres/0038_capitation_years.sql"),
    },
    Migration {
        version: 39,
        name: "bureau_settlements",
        sqlite: include_str!("../migrations/sqlite/0039_bureau_settlements.sql"),
        postgres: include_str!("../migrations/postgres/0039_bureau_settlements.sql"),
    },
    Migration {
        version: 40,
        name: "capitation_clearings",
        sqlite: include_str!("../migrations/sqlite/0040_capitation_clearings.sql"),
        postgres: include_str!("../migrations/postgres/0040_capitation_clearings.sql"),
    },
    Migration {
        version: 41,
        name: "work_item_indexes",
        sqlite: include_str!("../migrations/sqlite/0041_work_item_indexes.sql"),
        postgres: include_str!("../migrations/postgres/0041_work_item_indexes.sql"),
    },
    Migration {
        version: 42,
        name: "incentive_months",
        sqlite: include_str!("../migrations/sqlite/0042_incentive_months.sql"),
        postgres: include_str!("../migrations/postgres/0042_incentive_months.sql"),
    },
    Migration {
        version: 43,
        name: "scheme_approval",
        sqlite: include_str!("../migrations/sqlite/0043_scheme_approval.sql"),
        postgres: include_str!("../migrations/postgres/0043_scheme_approval.sql"),
    },
    Migration {
        version: 44,
        name: "clearing_reads",
        sqlite: include_str!("../migrations/sqlite/0044_clearing_reads.sql"),
        postgres: include_str!("../migrations/postgres/0044_clearing_reads.sql"),
    },
    Migration {
        version: 45,
        name: "clearing_members_by_key",
        sqlite: include_str!("../migrations/sqlite/0045_clearing_members_by_key.sql"),
        postgres: include_str!("../migrations/postgres/0045_clearing_members_by_key.sql"),
    },
    Migration {
        version: 46,
        name: "indicator_facts_by_key",
        sqlite: include_str!("../migrations/sqlite/0046_indicator_facts_by_key.sql"),
        postgres: include_str!("../migrations/postgres/0046_indicator_facts_by_key.sql"),
    },
    Migration {
        version: 47,
        name: "indicator_year_facts",
        sqlite: include_str!("../migrations/sqlite/0047_indicator_year_facts.sql"),
        postgres: include_str!("../migrations/postgres/0047_indicator_year_facts.sql"),
    },
];

/// Residents sealed per transaction when rows from before encryption are sealed.
const SEAL_BATCH: i64 = 1_000;

pub const MIGRATION_COUNT: usize = MIGRATIONS.len();

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS gongti_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at_us BIGINT NOT NULL
)";

/// Key of the PostgreSQL advisory lock that serialises concurrent migrators.
const PG_MIGRATION_LOCK: i64 = 0x676f_6e67_7469;

pub(crate) async fn run(store: &Store) -> Result<usize> {
    let now_us = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    let sqlite = matches!(store.engine, Engine::Sqlite { .. });
    let applied: usize = on_write!(store, pool => {
        let mut conn = pool.acquire().await?;
        // SQLite rebuilds a table to change a column's constraints, which needs its
        // foreign keys off (a no-op inside a transaction); they are checked before the
        // migrations commit and turned on again whatever happened.
        if sqlite {
            sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await?;
        }
        let migrated: Result<usize> = async {
            let mut applied = 0;
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            if !sqlite {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PG_MIGRATION_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(CREATE_TABLE).execute(&mut *tx).await?;
            let (current,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(version), 0) FROM gongti_migrations")
                .fetch_one(&mut *tx)
                .await?;
            if current > known {
                return Err(StoreError::SchemaTooNew { found: current, known });
            }
            for m in MIGRATIONS.iter().filter(|m| m.version > current) {
                let sql = if sqlite { m.sqlite } else { m.postgres };
                sqlx::raw_sql(sql).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO gongti_migrations (version, name, applied_at_us) VALUES ($1, $2, $3)")
                    .bind(m.version)
                    .bind(m.name)
                    .bind(now_us)
                    .execute(&mut *tx)
                    .await?;
                tracing::info!(version = m.version, name = m.name, "applied migration");
                applied += 1;
            }
            // SQLite's version triggers follow the kept tables' columns.
            crate::versions::AfterMigrations::write_version_triggers(&mut tx).await?;
            if sqlite && applied > 0 {
                let broken = sqlx::query("PRAGMA foreign_key_check").fetch_all(&mut *tx).await?;
                if !broken.is_empty() {
                    return Err(StoreError::Corrupt(format!(
                        "the migrations would leave {} rows whose foreign keys do not hold",
                        broken.len()
                    )));
                }
            }
            tx.commit().await?;
            Ok(applied)
        }
        .await;
        if sqlite {
            sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
        }
        migrated?
    });
    let sealed = seal_plaintext_rows(store).await?;
    if sealed > 0 {
        tracing::info!(
            residents = sealed,
            "sealed ID and phone numbers stored before encryption"
        );
    }
    if let (Some(file), Some(direct)) = (store.audit_file(), store.direct()) {
        let (file, records_file) = (std::sync::Arc::clone(file), direct.path().to_owned());
        let moved = crate::direct::blocking("moving the audit trail", move || {
            file.adopt_legacy(&records_file)
        })
        .await?;
        if moved > 0 {
            tracing::info!(records = moved, "moved the audit trail into audit.db");
        }
    }
    Ok(applied)
}

/// Seals the ID and phone numbers of residents stored before encryption (their
/// `id_number_hash` is empty), a batch per transaction; returns how many.
async fn seal_plaintext_rows(store: &Store) -> Result<u64> {
    let mut done = 0u64;
    loop {
        let n: u64 = on_write!(store, pool => {
            let mut tx = pool.begin().await?;
            let rows: Vec<(i64, String, Option<String>)> = sqlx::query_as(
                "SELECT id, id_number, phone FROM residents WHERE id_number_hash IS NULL ORDER BY id LIMIT $1",
            )
            .bind(SEAL_BATCH)
            .fetch_all(&mut *tx).await?;
            for (id, id_number, phone) in &rows {
                let id_number = gongti_core::IdNumber::parse(id_number, time::Date::MAX)
                    .map_err(|_| StoreError::Corrupt(format!("resident {id}: a stored ID number does not parse")))?;
                let phone = phone
                    .as_deref()
                    .map(gongti_core::Phone::parse)
                    .transpose()
                    .map_err(|_| StoreError::Corrupt(format!("resident {id}: a stored phone does not parse")))?;
                let s = crate::residents::seal_numbers(&store.keys, &id_number, phone.as_ref());
                sqlx::query("UPDATE residents SET id_number = $1, phone = $2, id_number_hash = $3 WHERE id = $4")
                    .bind(&s.id_number).bind(&s.phone).bind(&s.id_hash[..]).bind(id)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
            rows.len() as u64
        });
        done += n;
        if n < SEAL_BATCH as u64 {
            return Ok(done);
        }
    }
}

impl Store {
    /// Seals again, with the current key, every ID number (a resident's, a
    /// prescription's collector's), phone number, recipient's code and kept answer
    /// sealed with an older one (after `DataKeys::rotate`); returns how many
    /// values it sealed. Once it has run, the older keys may leave the key file.
    pub async fn reseal_personal_data(&self) -> Result<u64> {
        let current = self.keys.current_id();
        let stale = |text: &Option<String>| {
            text.as_deref()
                .is_some_and(|t| crate::crypto::DataKeys::text_sealed_with(t) != Some(current))
        };
        let mut done = 0u64;
        let mut after = 0i64;
        loop {
            let rows: Vec<(i64, Option<String>, Option<String>)> = on_write!(self, pool => {
                sqlx::query_as("SELECT id, id_number, phone FROM residents WHERE id > $1 ORDER BY id LIMIT $2")
                    .bind(after).bind(SEAL_BATCH).fetch_all(pool).await?
            });
            let Some(last) = rows.last().map(|r| r.0) else {
                break;
            };
            after = last;
            let todo: Vec<_> = rows
                .iter()
                .filter(|(_, i, p)| stale(i) || stale(p))
                .collect();
            on_write!(self, pool => {
                let mut tx = pool.begin().await?;
                for (id, id_number, phone) in &todo {
                    let open = |column: &str, v: &Option<String>| {
                        v.as_deref().map(|t| self.keys.open_text(column, t)).transpose()
                    };
                    let id_number = open(crate::residents::ID_NUMBER_COLUMN, id_number)?;
                    let phone = open(crate::residents::PHONE_COLUMN, phone)?;
                    let seal = |column: &str, v: Option<String>| v.map(|t| self.keys.seal_text(column, &t));
                    sqlx::query("UPDATE residents SET id_number = $1, phone = $2 WHERE id = $3")
                        .bind(seal(crate::residents::ID_NUMBER_COLUMN, id_number))
                        .bind(seal(crate::residents::PHONE_COLUMN, phone))
                        .bind(id)
                        .execute(&mut *tx).await?;
                }
                tx.commit().await?;
            });
            done += todo.len() as u64;
        }
        done += self.reseal_fills(&stale).await?;
        done += self.reseal_hl7_messages(&stale).await?;
        let versions = self.reseal_kept_versions(&stale).await?;
        if versions > 0 {
            tracing::info!(versions, "resealed residents' earlier versions");
        }
        let answers: Vec<(String, String, Vec<u8>)> = on_write!(self, pool => {
            sqlx::query_as("SELECT scope, key, answer FROM idempotency_keys WHERE answer IS NOT NULL")
                .fetch_all(pool).await?
        });
        for (scope, key, sealed) in answers {
            if crate::crypto::DataKeys::sealed_with(&sealed) == Some(current) {
                continue;
            }
            let again = self.seal(&self.open_sealed(&sealed)?)?;
            on_write!(self, pool => {
                sqlx::query("UPDATE idempotency_keys SET answer = $1 WHERE scope = $2 AND key = $3")
                    .bind(&again[..]).bind(&scope).bind(&key).execute(pool).await?;
            });
            done += 1;
        }
        Ok(done)
    }

    /// Reseals the ID and phone numbers kept in residents' earlier versions
    /// (`record_versions`) under the current key, as [`Store::reseal_personal_data`]
    /// does for the records themselves; returns how many versions.
    async fn reseal_kept_versions(&self, stale: &dyn Fn(&Option<String>) -> bool) -> Result<u64> {
        let (select, update) = match self.kind() {
            crate::EngineKind::Sqlite => (
                "SELECT row_id, version, json_extract(snapshot, '$.id_number'), json_extract(snapshot, '$.phone')
                 FROM record_versions WHERE table_name = 'residents' AND (row_id > $1 OR (row_id = $1 AND version > $2))
                 ORDER BY row_id, version LIMIT $3",
                "UPDATE record_versions SET snapshot = json_set(snapshot, '$.id_number', $1, '$.phone', $2)
                 WHERE table_name = 'residents' AND row_id = $3 AND version = $4",
            ),
            crate::EngineKind::Postgres => (
                "SELECT row_id, version, snapshot ->> 'id_number', snapshot ->> 'phone'
                 FROM record_versions WHERE table_name = 'residents' AND (row_id > $1 OR (row_id = $1 AND version > $2))
                 ORDER BY row_id, version LIMIT $3",
                "UPDATE record_versions SET snapshot = snapshot || jsonb_build_object('id_number', $1::text, 'phone', $2::text)
                 WHERE table_name = 'residents' AND row_id = $3 AND version = $4",
            ),
        };
        let mut done = 0u64;
        let mut after = (0i64, 0i64);
        loop {
            let rows: Vec<(i64, i64, Option<String>, Option<String>)> = on_write!(self, pool => {
                sqlx::query_as(select).bind(after.0).bind(after.1).bind(SEAL_BATCH).fetch_all(pool).await?
            });
            let Some(&(row, version, _, _)) = rows.last() else {
                break;
            };
            after = (row, version);
            let todo: Vec<_> = rows
                .iter()
                .filter(|(_, _, i, p)| stale(i) || stale(p))
                .collect();
            on_write!(self, pool => {
                let mut tx = pool.begin().await?;
                for (row, version, id_number, phone) in &todo {
                    let reseal = |column: &str, v: &Option<String>| -> Result<Option<String>> {
                        v.as_deref()
                            .map(|t| self.keys.open_text(column, t).map(|plain| self.keys.seal_text(column, &plain)))
                            .transpose()
                    };
                    sqlx::query(update)
                        .bind(reseal(crate::residents::ID_NUMBER_COLUMN, id_number)?)
                        .bind(reseal(crate::residents::PHONE_COLUMN, phone)?)
                        .bind(row).bind(version)
                        .execute(&mut *tx).await?;
                }
                tx.commit().await?;
            });
            done += todo.len() as u64;
        }
        Ok(done)
    }
}

/// The SQLite schema as the migrations before `version` leave it, in memory, foreign
/// keys off as [`run`] applies them (for tests of migrations and of statements).
#[cfg(test)]
pub(crate) fn sqlite_schema_before(version: i64) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open_in_memory().expect("memory");
    conn.pragma_update(None, "foreign_keys", "off")
        .expect("pragma");
    for m in MIGRATIONS.iter().filter(|m| m.version < version) {
        conn.execute_batch(m.sqlite)
            .unwrap_or_else(|e| panic!("migration {} ({}): {e}", m.version, m.name));
    }
    conn
}

#[cfg(test)]
mod tests {
    use super::{MIGRATIONS, sqlite_schema_before as sqlite_before};

    /// Every row of `table`, each column as text, in the order of `order`.
    fn rows(conn: &rusqlite::Connection, table: &str, order: &str) -> Vec<Vec<String>> {
        let mut statement = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
            .expect("select");
        let columns = statement.column_count();
        let names: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut out = vec![names];
        let mut found = statement.query([]).expect("query");
        while let Some(row) = found.next().expect("row") {
            out.push(
                (0..columns)
                    .map(|i| format!("{:?}", row.get_ref(i).expect("value")))
                    .collect(),
            );
        }
        out
    }

    /// Migration 0046 rebuilds `indicator_facts` without a rowid: every row keeps
    /// every value (nulls, days, flags), the key still refuses a second row of an
    /// enrolment's period, and the table has no rowid left.
    #[test]
    fn the_facts_rebuilt_without_rowid_keep_every_row_and_value() {
        let conn = sqlite_before(46);
        conn.execute_batch(
            "INSERT INTO indicator_facts (enrolment_id, period, face_to_face, bp_on, bp_id, bp_ok,
                 fpg_on, fpg_id, fpg_ok, hba1c_on, hba1c_id, hba1c_ok, seen, contacted) VALUES
             (7, '2026-Q1', 2, '2026-02-03', 11, 1, NULL, NULL, NULL, '2026-01-05', 4, 0, 1, 0),
             (7, '2026', 3, '2026-02-03', 11, 1, '2025-12-30', 9, 1, NULL, NULL, NULL, 1, 1),
             (3, '2026-04', 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, 1);",
        )
        .expect("facts before 0046");
        let before = rows(&conn, "indicator_facts", "enrolment_id, period");
        let m = MIGRATIONS.iter().find(|m| m.version == 46).expect("0046");
        conn.execute_batch(m.sqlite).expect("0046 applies");
        assert_eq!(
            rows(&conn, "indicator_facts", "enrolment_id, period"),
            before
        );
        let twice = conn.execute(
            "INSERT INTO indicator_facts (enrolment_id, period, face_to_face, seen, contacted)
             VALUES (7, '2026', 1, 0, 0)",
            [],
        );
        assert!(twice.is_err(), "the key still holds");
        assert!(
            conn.prepare("SELECT rowid FROM indicator_facts").is_err(),
            "no rowid left"
        );
    }

    /// Migration 0047 adds the kept facts packed a year to a row beside the table of
    /// a row a period, which keeps its rows for the releases before it (expand only).
    #[test]
    fn the_facts_by_year_come_beside_the_facts_by_period() {
        let conn = sqlite_before(47);
        conn.execute_batch(
            "INSERT INTO indicator_facts (enrolment_id, period, face_to_face, seen, contacted)
                 VALUES (7, '2026-Q1', 2, 1, 0);
             INSERT INTO settings (key, value) VALUES ('indicator_counters', 'built');",
        )
        .expect("facts and settings before 0047");
        let before = rows(&conn, "indicator_facts", "enrolment_id, period");
        let m = MIGRATIONS.iter().find(|m| m.version == 47).expect("0047");
        conn.execute_batch(m.sqlite).expect("0047 applies");
        assert_eq!(
            rows(&conn, "indicator_facts", "enrolment_id, period"),
            before
        );
        assert_eq!(rows(&conn, "settings", "key").len(), 2, "the mark stays");
        assert_eq!(
            rows(&conn, "indicator_year_facts", "enrolment_id, year"),
            vec![vec!["enrolment_id", "year", "facts"]]
        );
        conn.execute(
            "INSERT INTO indicator_year_facts (enrolment_id, year, facts) VALUES (7, 2026, X'01')",
            [],
        )
        .expect("a year of facts");
        assert!(
            conn.execute(
                "INSERT INTO indicator_year_facts (enrolment_id, year, facts) VALUES (7, 2026, X'01')",
                []
            )
            .is_err(),
            "one row an enrolment's year"
        );
        assert!(
            conn.prepare("SELECT rowid FROM indicator_year_facts")
                .is_err(),
            "no rowid"
        );
    }
}
