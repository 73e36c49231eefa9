//! Districts, institutions, departments, staff and family-doctor teams.

use gongti_core::audit::AuditEntry;
use gongti_core::region::InstitutionKind;
use gongti_core::role::Role;

use crate::outbox::{created, stage_audit};
use crate::row::{Arg, Conditions, RowExt, bind_all, trusted};
use crate::{Page, Result, Store, StoreError, on_read, on_write};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistrictRecord {
    pub code: String,
    pub name: String,
    pub city_code: String,
}

#[derive(Debug, Clone)]
pub struct NewInstitution {
    pub code: String,
    pub name: String,
    pub kind: InstitutionKind,
    pub district_code: String,
    pub upper_institution_id: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstitutionRecord {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub kind: InstitutionKind,
    pub district_code: String,
    pub upper_institution_id: Option<i64>,
    pub version: crate::Version,
}

#[derive(Debug, Clone, Default)]
pub struct InstitutionFilter {
    pub district_code: Option<String>,
    /// Any of these kinds (every kind when empty); so for each list below.
    pub kinds: Vec<InstitutionKind>,
    pub upper_institution_id: Option<i64>,
    pub name_prefixes: Vec<String>,
    pub codes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentRecord {
    pub id: i64,
    pub institution_id: i64,
    pub code: String,
    pub name: String,
    pub version: crate::Version,
}

#[derive(Debug, Clone)]
pub struct NewStaff {
    pub name: String,
    pub role: Role,
    pub institution_id: Option<i64>,
    pub district_code: Option<String>,
    pub department_id: Option<i64>,
    pub licence_number: Option<String>,
    pub title: Option<String>,
    pub practice_years: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub institution_id: Option<i64>,
    pub district_code: Option<String>,
    pub department_id: Option<i64>,
    pub licence_number: Option<String>,
    pub title: Option<String>,
    pub practice_years: i64,
    pub version: crate::Version,
}

#[derive(Debug, Clone, Default)]
pub struct StaffFilter {
    /// At any of these institutions (anywhere when empty); so for each list below.
    pub institution_ids: Vec<i64>,
    pub roles: Vec<Role>,
    pub name_prefixes: Vec<String>,
    pub licence_numbers: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct NewTeam {
    pub institution_id: i64,
    pub name: String,
    pub doctor_staff_id: i64,
    pub nurse_staff_id: i64,
    pub public_health_staff_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    pub id: i64,
    pub institution_id: i64,
    pub name: String,
    pub doctor_staff_id: i64,
    pub nurse_staff_id: i64,
    pub public_health_staff_id: i64,
}

const INSTITUTION_COLUMNS: &str = "id, code, name, kind, district_code, upper_institution_id, \
     version, COALESCE(version_at_us, created_at_us) AS version_at_us";
const STAFF_COLUMNS: &str = "id, name, role, institution_id, district_code, department_id, licence_number, title, practice_years, \
     version, COALESCE(version_at_us, created_at_us) AS version_at_us";
/// One institution's INSERT: `$1` code … `$6` the time, answering the id.
const INSTITUTION_INSERT: &str = "INSERT INTO institutions (code, name, kind, district_code, \
     upper_institution_id, created_at_us) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
/// One staff member's INSERT: `$1` name … `$9` the time, answering the id.
const STAFF_INSERT: &str = "INSERT INTO staff (name, role, institution_id, district_code, department_id, \
     licence_number, title, practice_years, created_at_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";
const DEPARTMENT_COLUMNS: &str = "id, institution_id, code, name, version, COALESCE(version_at_us, created_at_us) AS version_at_us";

fn department(row: &impl RowExt) -> Result<DepartmentRecord> {
    Ok(DepartmentRecord {
        id: row.i64("id")?,
        institution_id: row.i64("institution_id")?,
        code: row.text("code")?,
        name: row.text("name")?,
        version: crate::Version::of(row)?,
    })
}

/// An institution's row, read in the order of [`INSTITUTION_COLUMNS`] (the direct
/// lane finds each column at its first guess so).
fn institution(row: &impl RowExt) -> Result<InstitutionRecord> {
    let (id, code, name, kind) = (
        row.i64("id")?,
        row.text("code")?,
        row.text("name")?,
        row.text("kind")?,
    );
    Ok(InstitutionRecord {
        id,
        code,
        name,
        kind: InstitutionKind::from_code(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("institution kind {kind}")))?,
        district_code: row.text("district_code")?,
        upper_institution_id: row.opt_i64("upper_institution_id")?,
        version: crate::Version::of(row)?,
    })
}

fn staff(row: &impl RowExt) -> Result<StaffRecord> {
    let role = row.text("role")?;
    Ok(StaffRecord {
        id: row.i64("id")?,
        name: row.text("name")?,
        role: Role::from_code(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
        institution_id: row.opt_i64("institution_id")?,
        district_code: row.opt_text("district_code")?,
        department_id: row.opt_i64("department_id")?,
        licence_number: row.opt_text("licence_number")?,
        title: row.opt_text("title")?,
        practice_years: row.i64("practice_years")?,
        version: crate::Version::of(row)?,
    })
}

fn team(row: &impl RowExt) -> Result<TeamRecord> {
    Ok(TeamRecord {
        id: row.i64("id")?,
        institution_id: row.i64("institution_id")?,
        name: row.text("name")?,
        doctor_staff_id: row.i64("doctor_staff_id")?,
        nurse_staff_id: row.i64("nurse_staff_id")?,
        public_health_staff_id: row.i64("public_health_staff_id")?,
    })
}

/// `name >= prefix AND name < prefix + U+10FFFF`: a prefix match that uses the index
/// on both engines (PostgreSQL's column is `COLLATE "C"`).
/// Names starting with any of `prefixes` (a range scan each; nothing when none).
pub(crate) fn name_prefixes(conditions: &mut Conditions, column: &str, prefixes: &[String]) {
    if prefixes.is_empty() {
        return;
    }
    let one = format!("({column} >= {{}} AND {column} < {{}})");
    let clause = vec![one; prefixes.len()].join(" OR ");
    conditions.push_each(
        &format!("({clause})"),
        prefixes
            .iter()
            .flat_map(|p| [Arg::Text(p.clone()), Arg::Text(format!("{p}\u{10FFFF}"))]),
    );
}

/// Why an update at `expected_version` changed no row.
fn not_updated(expected_version: Option<i64>) -> StoreError {
    match expected_version {
        Some(_) => StoreError::Changed("version"),
        None => StoreError::NotFound,
    }
}

impl Store {
    pub async fn upsert_district(&self, code: &str, name: &str, city_code: &str) -> Result<()> {
        on_write!(self, pool => {
            sqlx::query(
                "INSERT INTO districts (code, name, city_code) VALUES ($1, $2, $3)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, city_code = excluded.city_code",
            )
            .bind(code).bind(name).bind(city_code)
            .execute(pool).await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    pub async fn districts(&self) -> Result<Vec<DistrictRecord>> {
        let rows: Vec<(String, String, String)> = on_read!(self, pool => {
            sqlx::query_as("SELECT code, name, city_code FROM districts ORDER BY code").fetch_all(pool).await
        })?;
        Ok(rows
            .into_iter()
            .map(|(code, name, city_code)| DistrictRecord {
                code,
                name,
                city_code,
            })
            .collect())
    }

    pub async fn insert_institution(
        &self,
        new: &NewInstitution,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<InstitutionRecord> {
        let id = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(INSTITUTION_INSERT)
            .bind(&new.code).bind(&new.name).bind(new.kind.code()).bind(&new.district_code)
            .bind(new.upper_institution_id).bind(now_us)
            .fetch_one(&mut *tx).await?;
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            id
        });
        self.institution(id).await
    }

    /// Adds several institutions in one transaction, all or none, in the order given:
    /// an institution tied to one of the list (`upper_of[i]`, the index of an earlier
    /// institution of the list) gets its id; `audit[i]` is the record of `list[i]`
    /// (named once stored), `whole` the list's own; they commit with the rows. Their
    /// ids, in order.
    pub async fn insert_institution_list(
        &self,
        list: &[NewInstitution],
        upper_of: &[Option<usize>],
        now_us: i64,
        audit: &[AuditEntry],
        whole: &AuditEntry,
    ) -> Result<Vec<i64>> {
        let ids = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut ids: Vec<i64> = Vec::with_capacity(list.len());
            let mut records = Vec::with_capacity(list.len() + 1);
            for ((new, upper), entry) in list.iter().zip(upper_of).zip(audit) {
                let upper = match upper {
                    Some(i) => Some(*ids.get(*i).ok_or(StoreError::NotFound)?),
                    None => new.upper_institution_id,
                };
                let (id,): (i64,) = sqlx::query_as(INSTITUTION_INSERT)
                    .bind(&new.code).bind(&new.name).bind(new.kind.code()).bind(&new.district_code)
                    .bind(upper).bind(now_us)
                    .fetch_one(&mut *tx).await?;
                ids.push(id);
                records.extend(created(std::slice::from_ref(entry), id));
            }
            records.push(whole.clone());
            stage_audit!(tx, &records);
            tx.commit().await?;
            ids
        });
        Ok(ids)
    }

    /// Renames an institution and sets its tie to an upper hospital, only while it is
    /// at `expected_version` when given ([`StoreError::Changed`] otherwise); the
    /// superseded row is kept as a version. Its code, kind and district never change
    /// (the kept indicator figures are counted under its district).
    pub async fn update_institution(
        &self,
        id: i64,
        name: &str,
        upper: Option<i64>,
        expected_version: Option<i64>,
        audit: &[AuditEntry],
    ) -> Result<InstitutionRecord> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE institutions SET name = $1, upper_institution_id = $2
                 WHERE id = $3 AND ($4 IS NULL OR version = $4)",
            )
            .bind(name).bind(upper).bind(id).bind(expected_version)
            .execute(&mut *tx).await?.rows_affected();
            if done == 0 {
                return Err(not_updated(expected_version));
            }
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
        });
        self.institution(id).await
    }

    /// Replaces what a staff member's record says of them (name, practising licence,
    /// title, years in practice, department), only while it is at `expected_version`
    /// when given; the superseded row is kept as a version. Role and institution never
    /// change (a move is a new staff record).
    pub async fn update_staff(
        &self,
        id: i64,
        s: &NewStaff,
        expected_version: Option<i64>,
        audit: &[AuditEntry],
    ) -> Result<StaffRecord> {
        on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "UPDATE staff SET name = $1, licence_number = $2, title = $3, practice_years = $4, department_id = $5
                 WHERE id = $6 AND ($7 IS NULL OR version = $7)",
            )
            .bind(&s.name).bind(&s.licence_number).bind(&s.title).bind(s.practice_years)
            .bind(s.department_id).bind(id).bind(expected_version)
            .execute(&mut *tx).await?.rows_affected();
            if done == 0 {
                return Err(not_updated(expected_version));
            }
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
        });
        self.staff_member(id).await
    }

    /// Ties a grassroots institution to the upper hospital it refers to (or unties it).
    pub async fn set_upper_institution(&self, id: i64, upper: Option<i64>) -> Result<()> {
        let done = on_write!(self, pool => {
            sqlx::query("UPDATE institutions SET upper_institution_id = $1 WHERE id = $2")
                .bind(upper).bind(id).execute(pool).await.map(|r| r.rows_affected())
        })?;
        if done == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    /// A superseded version of an institution (`None`: not a version it had before).
    pub async fn institution_version(
        &self,
        id: i64,
        version: i64,
    ) -> Result<Option<InstitutionRecord>> {
        let sql = format!("SELECT {INSTITUTION_COLUMNS} FROM institutions WHERE id = $1");
        crate::versions::superseded!(
            self,
            crate::Kept::Institutions,
            "",
            &sql,
            id,
            version,
            institution
        )
    }

    pub async fn institution(&self, id: i64) -> Result<InstitutionRecord> {
        static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!("SELECT {INSTITUTION_COLUMNS} FROM institutions WHERE id = $1")
        });
        if let Some(direct) = self.direct() {
            // A point read on SQLite's hot path: every Organization read and many
            // access decisions start here.
            return direct
                .first(&SQL, &[("$1", &id)], |row| institution(row))?
                .ok_or(StoreError::NotFound);
        }
        on_read!(self, pool => {
            let row = sqlx::query(trusted(&SQL)).bind(id).fetch_optional(pool).await?.ok_or(StoreError::NotFound)?;
            institution(&row)
        })
    }

    fn institution_conditions(filter: &InstitutionFilter) -> Conditions {
        let mut c = Conditions::default();
        if let Some(d) = &filter.district_code {
            c.push("district_code = {}", Arg::Text(d.clone()));
        }
        c.push_in(
            "kind",
            filter.kinds.iter().map(|k| Arg::Text(k.code().to_owned())),
        );
        c.push_in("code", filter.codes.iter().cloned().map(Arg::Text));
        if let Some(u) = filter.upper_institution_id {
            c.push("upper_institution_id = {}", Arg::I64(u));
        }
        name_prefixes(&mut c, "name", &filter.name_prefixes);
        c
    }

    pub async fn institutions(
        &self,
        filter: &InstitutionFilter,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<InstitutionRecord>> {
        let mut c = Self::institution_conditions(filter);
        if let Some(a) = after {
            c.push("id > {}", Arg::I64(a));
        }
        let sql = format!(
            "SELECT {INSTITUTION_COLUMNS} FROM institutions{} ORDER BY id LIMIT {}",
            c.sql(),
            limit + 1
        );
        let items = on_read!(self, pool => {
            bind_all!(sqlx::query(trusted(&sql)), &c.args).fetch_all(pool).await?
                .iter().map(institution).collect::<Result<Vec<_>>>()?
        });
        Ok(Page::from_overfetch(items, limit, |i| i.id))
    }

    /// How many institutions a filter matches (a search's total).
    pub async fn institutions_count(&self, filter: &InstitutionFilter) -> Result<i64> {
        let c = Self::institution_conditions(filter);
        let sql = format!("SELECT COUNT(*) FROM institutions{}", c.sql());
        let (n,): (i64,) = on_read!(self, pool => {
            bind_all!(sqlx::query_as(trusted(&sql)), &c.args).fetch_one(pool).await?
        });
        Ok(n)
    }

    pub async fn institution_count(&self) -> Result<i64> {
        let (n,): (i64,) = on_read!(self, pool => sqlx::query_as("SELECT COUNT(*) FROM institutions").fetch_one(pool).await)?;
        Ok(n)
    }

    /// Adds a department; `audit` (naming it once stored) commits with it. A code the
    /// institution has already is [`StoreError::Duplicate`].
    pub async fn insert_department(
        &self,
        institution_id: i64,
        code: &str,
        name: &str,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<DepartmentRecord> {
        let id = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as("INSERT INTO departments (institution_id, code, name, created_at_us) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(institution_id).bind(code).bind(name).bind(now_us).fetch_one(&mut *tx).await?;
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            id
        });
        Ok(DepartmentRecord {
            id,
            institution_id,
            code: code.to_owned(),
            name: name.to_owned(),
            version: crate::Version::first(now_us),
        })
    }

    pub async fn department(&self, id: i64) -> Result<DepartmentRecord> {
        let sql = format!("SELECT {DEPARTMENT_COLUMNS} FROM departments WHERE id = $1");
        on_read!(self, pool => {
            let row = sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?.ok_or(StoreError::NotFound)?;
            department(&row)
        })
    }

    /// A superseded version of a department (`None`: not a version it had before).
    pub async fn department_version(
        &self,
        id: i64,
        version: i64,
    ) -> Result<Option<DepartmentRecord>> {
        let sql = format!("SELECT {DEPARTMENT_COLUMNS} FROM departments WHERE id = $1");
        crate::versions::superseded!(
            self,
            crate::Kept::Departments,
            "",
            &sql,
            id,
            version,
            department
        )
    }

    pub async fn departments(&self, institution_id: i64) -> Result<Vec<DepartmentRecord>> {
        let sql = format!(
            "SELECT {DEPARTMENT_COLUMNS} FROM departments WHERE institution_id = $1 ORDER BY id"
        );
        on_read!(self, pool => {
            sqlx::query(trusted(&sql)).bind(institution_id).fetch_all(pool).await?
                .iter().map(department).collect()
        })
    }

    pub async fn insert_staff(
        &self,
        new: &NewStaff,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<StaffRecord> {
        let id = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                STAFF_INSERT,
            )
            .bind(&new.name).bind(new.role.code()).bind(new.institution_id).bind(&new.district_code)
            .bind(new.department_id).bind(&new.licence_number).bind(&new.title).bind(new.practice_years).bind(now_us)
            .fetch_one(&mut *tx).await?;
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            id
        });
        self.staff_member(id).await
    }

    /// Adds several staff members in one transaction, all or none: `audit[i]` is the
    /// record of `staff[i]` (named once stored), `list` the record of the whole list;
    /// they commit with the rows. Their ids, in order.
    pub async fn insert_staff_list(
        &self,
        staff: &[NewStaff],
        now_us: i64,
        audit: &[AuditEntry],
        list: &AuditEntry,
    ) -> Result<Vec<i64>> {
        let ids = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let mut ids = Vec::with_capacity(staff.len());
            let mut records = Vec::with_capacity(staff.len() + 1);
            for (new, entry) in staff.iter().zip(audit) {
                let (id,): (i64,) = sqlx::query_as(
                    STAFF_INSERT,
                )
                .bind(&new.name).bind(new.role.code()).bind(new.institution_id).bind(&new.district_code)
                .bind(new.department_id).bind(&new.licence_number).bind(&new.title).bind(new.practice_years).bind(now_us)
                .fetch_one(&mut *tx).await?;
                ids.push(id);
                records.extend(created(std::slice::from_ref(entry), id));
            }
            records.push(list.clone());
            stage_audit!(tx, &records);
            tx.commit().await?;
            ids
        });
        Ok(ids)
    }

    /// A superseded version of a staff member (`None`: not a version they had before).
    pub async fn staff_version(&self, id: i64, version: i64) -> Result<Option<StaffRecord>> {
        let sql = format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1");
        crate::versions::superseded!(self, crate::Kept::Staff, "", &sql, id, version, staff)
    }

    pub async fn staff_member(&self, id: i64) -> Result<StaffRecord> {
        let sql = format!("SELECT {STAFF_COLUMNS} FROM staff WHERE id = $1");
        on_read!(self, pool => {
            let row = sqlx::query(trusted(&sql)).bind(id).fetch_optional(pool).await?.ok_or(StoreError::NotFound)?;
            staff(&row)
        })
    }

    fn staff_conditions(filter: &StaffFilter) -> Conditions {
        let mut c = Conditions::default();
        c.push_in(
            "institution_id",
            filter.institution_ids.iter().copied().map(Arg::I64),
        );
        c.push_in(
            "licence_number",
            filter.licence_numbers.iter().cloned().map(Arg::Text),
        );
        c.push_in(
            "role",
            filter.roles.iter().map(|r| Arg::Text(r.code().to_owned())),
        );
        name_prefixes(&mut c, "name", &filter.name_prefixes);
        // A client system's account acts through a staff row of its own: not a person
        // of the registry.
        c.push_plain(
            "NOT EXISTS (SELECT 1 FROM users u WHERE u.staff_id = staff.id AND u.client_secret_hash IS NOT NULL)",
        );
        c
    }

    pub async fn staff(
        &self,
        filter: &StaffFilter,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Page<StaffRecord>> {
        let mut c = Self::staff_conditions(filter);
        if let Some(a) = after {
            c.push("id > {}", Arg::I64(a));
        }
        let sql = format!(
            "SELECT {STAFF_COLUMNS} FROM staff{} ORDER BY id LIMIT {}",
            c.sql(),
            limit + 1
        );
        let items = on_read!(self, pool => {
            bind_all!(sqlx::query(trusted(&sql)), &c.args).fetch_all(pool).await?
                .iter().map(staff).collect::<Result<Vec<_>>>()?
        });
        Ok(Page::from_overfetch(items, limit, |s| s.id))
    }

    /// How many staff a filter matches (a search's total).
    pub async fn staff_count(&self, filter: &StaffFilter) -> Result<i64> {
        let c = Self::staff_conditions(filter);
        let sql = format!("SELECT COUNT(*) FROM staff{}", c.sql());
        let (n,): (i64,) = on_read!(self, pool => {
            bind_all!(sqlx::query_as(trusted(&sql)), &c.args).fetch_one(pool).await?
        });
        Ok(n)
    }

    /// Adds a family-doctor team; `audit` (naming it once stored) commits with it.
    pub async fn insert_team(
        &self,
        new: &NewTeam,
        now_us: i64,
        audit: &[AuditEntry],
    ) -> Result<TeamRecord> {
        let id = on_write!(self, pool => {
            let mut tx = pool.begin().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO teams (institution_id, name, doctor_staff_id, nurse_staff_id, public_health_staff_id, created_at_us)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(new.institution_id).bind(&new.name).bind(new.doctor_staff_id).bind(new.nurse_staff_id)
            .bind(new.public_health_staff_id).bind(now_us)
            .fetch_one(&mut *tx).await?;
            stage_audit!(tx, &created(audit, id));
            tx.commit().await?;
            id
        });
        Ok(TeamRecord {
            id,
            institution_id: new.institution_id,
            name: new.name.clone(),
            doctor_staff_id: new.doctor_staff_id,
            nurse_staff_id: new.nurse_staff_id,
            public_health_staff_id: new.public_health_staff_id,
        })
    }

    pub async fn teams(&self, institution_id: i64) -> Result<Vec<TeamRecord>> {
        on_read!(self, pool => {
            sqlx::query("SELECT id, institution_id, name, doctor_staff_id, nurse_staff_id, public_health_staff_id FROM teams WHERE institution_id = $1 ORDER BY id")
                .bind(institution_id).fetch_all(pool).await?
                .iter().map(team).collect()
        })
    }

    pub async fn team(&self, id: i64) -> Result<TeamRecord> {
        on_read!(self, pool => {
            let row = sqlx::query("SELECT id, institution_id, name, doctor_staff_id, nurse_staff_id, public_health_staff_id FROM teams WHERE id = $1")
                .bind(id).fetch_optional(pool).await?;
            row.as_ref().map(team).transpose()?.ok_or(StoreError::NotFound)
        })
    }
}
