//! Family-doctor contracts and their service packages (DOMAIN.md §5). A contract plan
//! from `gongti_core::contract::plan` is written in one transaction, each status
//! change guarded by the status it was decided on.

use gongti_core::audit::AuditEntry;
use gongti_core::contract::{Close, ContractState, ContractStatus, FeeSplit, NewTerm};
use time::Date;

use crate::coverage_counts::{coverage_facts_in, restate_coverage_in};
use crate::outbox::{created, stage_audit};
use crate::row::{RowExt, id_list, trusted};
use crate::{Page, Result, Store, StoreError, date_cursor, on_read, on_write, split_date_cursor};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// The basic package every contract carries; others are optional.
    pub basic: bool,
    pub split: FeeSplit,
}

#[derive(Debug, Clone)]
pub struct NewPackage {
    pub code: String,
    pub name: String,
    pub basic: bool,
    pub split: FeeSplit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractRecord {
    pub id: i64,
    pub resident_id: i64,
    pub resident_name: String,
    pub team_id: i64,
    pub team_name: String,
    pub institution_id: i64,
    pub status: ContractStatus,
    pub start_on: Date,
    pub end_on: Date,
    pub ended_on: Option<Date>,
    pub end_reason: Option<String>,
    pub previous_id: Option<i64>,
    pub split: FeeSplit,
    pub package_codes: Vec<String>,
    pub signed_by_staff_id: i64,
    pub signed_at_us: i64,
    pub changed_at_us: i64,
    pub version: crate::Version,
}

impl ContractRecord {
    pub fn state(&self) -> ContractState {
        ContractState {
            id: self.id,
            team_id: self.team_id,
            status: self.status,
            start_on: self.start_on,
            end_on: self.end_on,
            ended_on: self.ended_on,
        }
    }
}

/// A new contract term to open, with what the workflow cannot know.
#[derive(Debug, Clone)]
pub struct OpenContract {
    pub term: NewTerm,
    pub institution_id: i64,
    /// Package ids with the split each carried when signed.
    pub packages: Vec<(i64, FeeSplit)>,
    pub signed_by_staff_id: i64,
    /// The instant the care relationship ends: the end of the term's last day.
    pub care_until_us: i64,
}

#[derive(Debug, Clone)]
pub struct ContractWrite {
    pub resident_id: i64,
    pub close: Vec<Close>,
    pub end_reason: Option<String>,
    pub open: Option<OpenContract>,
    pub now_us: i64,
}

const COLUMNS: &str = "c.id, c.resident_id, r.name AS resident_name, c.team_id, t.name AS team_name, \
    c.institution_id, c.status, c.start_on, c.end_on, c.ended_on, c.end_reason, c.previous_id, \
    c.insurance_fen, c.public_health_fen, c.resident_fen, c.signed_by_staff_id, c.signed_at_us, \
    c.changed_at_us, c.version, COALESCE(c.version_at_us, c.signed_at_us) AS version_at_us, \
    (SELECT string_agg_placeholder) AS package_codes";
const FROM: &str =
    "FROM contracts c JOIN residents r ON r.id = c.resident_id JOIN teams t ON t.id = c.team_id";

fn split(row: &impl RowExt) -> Result<FeeSplit> {
    Ok(FeeSplit {
        insurance_fen: row.i64("insurance_fen")?,
        public_health_fen: row.i64("public_health_fen")?,
        resident_fen: row.i64("resident_fen")?,
    })
}

fn contract(row: &impl RowExt) -> Result<ContractRecord> {
    let status = row.text("status")?;
    Ok(ContractRecord {
        id: row.i64("id")?,
        resident_id: row.i64("resident_id")?,
        resident_name: row.text("resident_name")?,
        team_id: row.i64("team_id")?,
        team_name: row.text("team_name")?,
        institution_id: row.i64("institution_id")?,
        status: ContractStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("contract status {status:?}")))?,
        start_on: row.date("start_on")?,
        end_on: row.date("end_on")?,
        ended_on: row.opt_date("ended_on")?,
        end_reason: row.opt_text("end_reason")?,
        previous_id: row.opt_i64("previous_id")?,
        split: split(row)?,
        package_codes: row
            .opt_text("package_codes")?
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        signed_by_staff_id: row.i64("signed_by_staff_id")?,
        signed_at_us: row.i64("signed_at_us")?,
        changed_at_us: row.i64("changed_at_us")?,
        version: crate::Version::of(row)?,
    })
}

fn package(row: &impl RowExt) -> Result<PackageRecord> {
    Ok(PackageRecord {
        id: row.i64("id")?,
        code: row.text("code")?,
        name: row.text("name")?,
        basic: row.bool("basic")?,
        split: split(row)?,
    })
}

/// Opens contract `$open` (`&OpenContract`) of resident `$resident_id` in the open
/// transaction `$tx` — its care relationship, the contract row and its packages;
/// evaluates to the contract's id.
macro_rules! open_contract_in {
    ($tx:ident, $resident_id:expr, $open:expr, $now_us:expr) => {{
        let o: &OpenContract = $open;
        let (resident_id, now_us): (i64, i64) = ($resident_id, $now_us);
        let (care_id,): (i64,) = sqlx::query_as(
            "INSERT INTO care_relationships (resident_id, institution_id, kind, opened_at_us, until_us)
             VALUES ($1, $2, 'contract', $3, $4) RETURNING id",
        )
        .bind(resident_id).bind(o.institution_id).bind(now_us).bind(o.care_until_us)
        .fetch_one(&mut *$tx).await?;
        let total = FeeSplit::sum(o.packages.iter().map(|(_, s)| s));
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO contracts (resident_id, team_id, institution_id, status, start_on, end_on,
                 previous_id, insurance_fen, public_health_fen, resident_fen, signed_by_staff_id,
                 care_relationship_id, signed_at_us, changed_at_us)
             VALUES ($1, $2, $3, 'active', $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id",
        )
        .bind(resident_id).bind(o.term.team_id).bind(o.institution_id)
        .bind(o.term.start_on).bind(o.term.end_on).bind(o.term.previous_id)
        .bind(total.insurance_fen).bind(total.public_health_fen).bind(total.resident_fen)
        .bind(o.signed_by_staff_id).bind(care_id).bind(now_us)
        .fetch_one(&mut *$tx).await?;
        for (package_id, s) in &o.packages {
            sqlx::query(
                "INSERT INTO contract_packages (contract_id, package_id, insurance_fen, public_health_fen, resident_fen)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id).bind(package_id).bind(s.insurance_fen).bind(s.public_health_fen).bind(s.resident_fen)
            .execute(&mut *$tx).await?;
        }
        id
    }};
}

impl Store {
    fn contract_columns(&self) -> String {
        let agg = match self.kind() {
            crate::EngineKind::Sqlite => {
                "group_concat(p.code) FROM contract_packages cp JOIN service_packages p ON p.id = cp.package_id WHERE cp.contract_id = c.id"
            }
            crate::EngineKind::Postgres => {
                "string_agg(p.code, ',' ORDER BY p.code) FROM contract_packages cp JOIN service_packages p ON p.id = cp.package_id WHERE cp.contract_id = c.id"
            }
        };
        COLUMNS.replace("string_agg_placeholder", agg)
    }

    pub async fn insert_package(&self, p: &NewPackage, now_us: i64) -> Result<PackageRecord> {
        let row = on_write!(self, pool => {
            sqlx::query(
                "INSERT INTO service_packages (code, name, basic, insurance_fen, public_health_fen, resident_fen, created_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 RETURNING id, code, name, basic, insurance_fen, public_health_fen, resident_fen",
            )
            .bind(&p.code).bind(&p.name).bind(p.basic)
            .bind(p.split.insurance_fen).bind(p.split.public_health_fen).bind(p.split.resident_fen)
            .bind(now_us)
            .fetch_one(pool).await.map_err(StoreError::from).and_then(|r| package(&r))
        })?;
        Ok(row)
    }

    pub async fn packages(&self) -> Result<Vec<PackageRecord>> {
        on_read!(self, pool => {
            sqlx::query("SELECT id, code, name, basic, insurance_fen, public_health_fen, resident_fen FROM service_packages ORDER BY basic DESC, code")
                .fetch_all(pool).await?.iter().map(package).collect()
        })
    }

    /// A superseded version of a contract (`None`: not a version it had before).
    pub async fn contract_version(&self, id: i64, version: i64) -> Result<Option<ContractRecord>> {
        let sql = format!("SELECT {} {FROM} WHERE c.id = $1", self.contract_columns());
        crate::versions::superseded!(
            self,
            crate::Kept::Contracts,
            "c",
            &sql,
            id,
            version,
            contract
        )
    }

    pub async fn contract(&self, id: i64) -> Result<ContractRecord> {
        let sql = format!("SELECT {} {FROM} WHERE c.id = $1", self.contract_columns());
        on_read!(self, pool => {
            let row = sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(contract).transpose()?.ok_or(StoreError::NotFound)
        })
    }

    /// A resident's contracts, newest first (at most `limit`).
    pub async fn contracts_of_resident(
        &self,
        resident_id: i64,
        limit: u32,
    ) -> Result<Vec<ContractRecord>> {
        let sql = format!(
            "SELECT {} {FROM} WHERE c.resident_id = $1 ORDER BY c.id DESC LIMIT $2",
            self.contract_columns()
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(resident_id).bind(i64::from(limit))
                .fetch_all(pool).await?.iter().map(contract).collect()
        })
    }

    /// The contracts of several residents (a bulk export's page) whose version is
    /// newer than `since_us` (all when `None`), by resident then id.
    pub async fn contracts_of_residents(
        &self,
        residents: &[i64],
        since_us: Option<i64>,
    ) -> Result<Vec<ContractRecord>> {
        if residents.is_empty() {
            return Ok(Vec::new());
        }
        // The ids are integers read back from the database, not client input.
        let sql = format!(
            "SELECT {} {FROM} WHERE c.resident_id IN ({})
               AND ($1 IS NULL OR COALESCE(c.version_at_us, c.signed_at_us) > $1) ORDER BY c.resident_id, c.id",
            self.contract_columns(),
            id_list(residents.iter().copied())
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(since_us).fetch_all(pool).await?.iter().map(contract).collect()
        })
    }

    /// The contracts the workflow may still change: active, renewed or switched.
    pub async fn contracts_in_play(&self, resident_id: i64) -> Result<Vec<ContractRecord>> {
        let sql = format!(
            "SELECT {} {FROM} WHERE c.resident_id = $1 AND c.status IN ('active', 'renewed', 'switched') ORDER BY c.id",
            self.contract_columns()
        );
        on_write!(self, pool => {
            sqlx::query(trusted(&sql)).bind(resident_id)
                .fetch_all(pool).await?.iter().map(contract).collect()
        })
    }

    /// Applies a contract plan in one transaction. Each status change applies only if
    /// the contract still has the status the plan was decided on; otherwise nothing is
    /// saved and the error is [`StoreError::Changed`]. A second active contract for the
    /// resident is refused by the database ([`StoreError::Duplicate`]).
    pub async fn apply_contract_plan(
        &self,
        w: &ContractWrite,
        audit: &[AuditEntry],
    ) -> Result<Option<i64>> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let before = coverage_facts_in!(tx, &[w.resident_id], true);
            for c in &w.close {
                let done = sqlx::query(
                    "UPDATE contracts SET status = $1, ended_on = COALESCE($2, ended_on),
                         end_reason = COALESCE($3, end_reason), changed_at_us = $4
                     WHERE id = $5 AND status = $6 AND resident_id = $7",
                )
                .bind(c.to.code()).bind(c.ended_on).bind(w.end_reason.as_deref()).bind(w.now_us)
                .bind(c.contract_id).bind(c.from.code()).bind(w.resident_id)
                .execute(&mut *tx).await?;
                if done.rows_affected() != 1 {
                    return Err(StoreError::Changed("contract"));
                }
                if c.to == ContractStatus::Terminated {
                    sqlx::query(
                        "UPDATE care_relationships SET closed_at_us = $1
                         WHERE id = (SELECT care_relationship_id FROM contracts WHERE id = $2) AND closed_at_us IS NULL",
                    )
                    .bind(w.now_us).bind(c.contract_id)
                    .execute(&mut *tx).await?;
                }
            }
            let opened = match &w.open {
                Some(o) => Some(open_contract_in!(tx, w.resident_id, o, w.now_us)),
                None => None,
            };
            restate_coverage_in!(tx, &[w.resident_id], before);
            match opened {
                Some(id) => stage_audit!(tx, &created(audit, id)),
                None => stage_audit!(tx, audit),
            }
            tx.commit().await?;
            Ok(opened)
        })
    }

    /// Opens the contracts of residents with none in play, in one transaction — for
    /// loading a region (the demo) rather than one at a time; `audit` gives the
    /// records of each (resident, contract) opened, which commit with them. The kept
    /// 签约率 counters are left to the recompute that ends the load.
    pub async fn open_contracts_bulk(
        &self,
        opens: &[(i64, OpenContract)],
        now_us: i64,
        audit: crate::AuditFor<'_, Vec<(i64, i64)>>,
    ) -> Result<Vec<i64>> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut opened = Vec::with_capacity(opens.len());
            for (resident_id, o) in opens {
                let id = open_contract_in!(tx, *resident_id, o, now_us);
                opened.push((*resident_id, id));
            }
            stage_audit!(tx, &audit(&opened));
            tx.commit().await?;
            Ok(opened.into_iter().map(|(_, id)| id).collect())
        })
    }

    /// Active contracts of an institution (optionally one team) whose term ends on or
    /// before `through_on`, soonest first, for the renewal worklist.
    pub async fn expiring_contracts(
        &self,
        institution_id: i64,
        team_id: Option<i64>,
        through_on: Date,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<ContractRecord>> {
        let (after_on, after_id) = split_date_cursor(after)?;
        let sql = format!(
            "SELECT {} {FROM} WHERE c.institution_id = $1 AND c.status = 'active' AND c.end_on <= $2
               AND ($3 IS NULL OR c.team_id = $3)
               AND (c.end_on > $4 OR (c.end_on = $4 AND c.id > $5))
             ORDER BY c.end_on, c.id LIMIT $6",
            self.contract_columns()
        );
        let rows: Vec<ContractRecord> = on_read!(self, pool => {
            sqlx::query(trusted(&sql))
                .bind(institution_id).bind(through_on).bind(team_id).bind(after_on).bind(after_id)
                .bind(i64::from(limit) + 1)
                .fetch_all(pool).await?.iter().map(contract).collect::<Result<_>>()
        })?;
        Ok(Page::from_overfetch(rows, limit, |c| {
            date_cursor(c.end_on, c.id)
        }))
    }
}
