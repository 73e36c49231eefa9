//! The region registry: districts, institutions, departments, staff and teams. Reading
//! it needs only a sign-in (it holds no patient data); changing it needs the registry
//! rights of `gongti_core::access::may_administer`, and every change is audited.

use gongti_core::access::{RegistryAction, may_administer};
use gongti_core::audit::{AuditEntry, Outcome};
use gongti_core::region::{DistrictCode, InstitutionId, check_tie};
use gongti_core::resident::{FieldProblem, Problem};
use gongti_core::team::{Candidate, Seat, check_department, check_team};
use gongti_store::{
    DepartmentRecord, DistrictRecord, InstitutionFilter, InstitutionRecord, NewInstitution,
    NewStaff, NewTeam, Page, StaffFilter, StaffRecord, StoreError, TeamRecord,
};

use crate::{App, AppError, AppResult, Ctx};

/// The problems of an update that changes what may not change, or leaves no name.
fn update_problems(unchanged: &[(&'static str, bool)], name: &str) -> Vec<FieldProblem> {
    let mut problems: Vec<FieldProblem> = unchanged
        .iter()
        .filter(|(_, same)| !same)
        .map(|(field, _)| FieldProblem {
            field,
            problem: Problem::NotAllowed,
        })
        .collect();
    if gongti_core::text::visible_chars(name) == 0 {
        problems.push(FieldProblem {
            field: "name",
            problem: Problem::Required,
        });
    }
    problems
}

impl App {
    pub async fn districts(&self) -> AppResult<Vec<DistrictRecord>> {
        Ok(self.store.districts().await?)
    }

    pub async fn institutions(
        &self,
        filter: &InstitutionFilter,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<InstitutionRecord>> {
        Ok(self.store.institutions(filter, after, limit).await?)
    }

    pub async fn institutions_count(&self, filter: &InstitutionFilter) -> AppResult<i64> {
        Ok(self.store.institutions_count(filter).await?)
    }

    pub async fn staff_count(&self, filter: &StaffFilter) -> AppResult<i64> {
        Ok(self.store.staff_count(filter).await?)
    }

    pub async fn institution(&self, id: i64) -> AppResult<InstitutionRecord> {
        Ok(self.store.institution(id).await?)
    }

    pub async fn department(&self, id: i64) -> AppResult<DepartmentRecord> {
        Ok(self.store.department(id).await?)
    }

    pub async fn departments(&self, institution_id: i64) -> AppResult<Vec<DepartmentRecord>> {
        Ok(self.store.departments(institution_id).await?)
    }

    pub async fn staff(
        &self,
        filter: &StaffFilter,
        after: Option<i64>,
        limit: u32,
    ) -> AppResult<Page<StaffRecord>> {
        Ok(self.store.staff(filter, after, limit).await?)
    }

    pub async fn staff_member(&self, id: i64) -> AppResult<StaffRecord> {
        Ok(self.store.staff_member(id).await?)
    }

    /// An institution's name, or nothing when unknown (for headings).
    pub async fn institution_name(&self, id: i64) -> String {
        self.store
            .institution(id)
            .await
            .map(|i| i.name)
            .unwrap_or_default()
    }

    /// A district's name, or its code when unknown (for headings).
    pub async fn district_name(&self, code: &str) -> String {
        self.store
            .districts()
            .await
            .ok()
            .and_then(|ds| ds.into_iter().find(|d| d.code == code).map(|d| d.name))
            .unwrap_or_else(|| code.to_owned())
    }

    pub async fn team(&self, id: i64) -> AppResult<TeamRecord> {
        Ok(self.store.team(id).await?)
    }

    pub async fn teams(&self, institution_id: i64) -> AppResult<Vec<TeamRecord>> {
        Ok(self.store.teams(institution_id).await?)
    }

    pub(crate) fn registry_entry(
        &self,
        ctx: &Ctx,
        action: &str,
        resource: &str,
        outcome: Outcome,
    ) -> AuditEntry {
        let mut e = ctx
            .principal
            .audit(self.now_us(), action, resource, outcome);
        e.request_id = ctx.request_id.clone();
        e
    }

    /// Audits a refused registry change.
    async fn audit_registry(
        &self,
        ctx: &Ctx,
        action: &str,
        resource: &str,
        outcome: Outcome,
    ) -> AppResult<()> {
        let e = self.registry_entry(ctx, action, resource, outcome);
        self.audit.record(vec![e]).await
    }

    /// Audits a refused change at `institution` (named in the record's detail).
    async fn audit_registry_at(
        &self,
        ctx: &Ctx,
        (action, resource): (&str, &str),
        outcome: Outcome,
        institution: i64,
    ) -> AppResult<()> {
        let mut e = self.registry_entry(ctx, action, resource, outcome);
        e.detail = Some(format!("institution={institution}"));
        self.audit.record(vec![e]).await
    }

    /// Adds an institution (city administrator only). A grassroots institution may be
    /// tied to an upper hospital at once.
    pub async fn create_institution(
        &self,
        ctx: &Ctx,
        new: &NewInstitution,
    ) -> AppResult<InstitutionRecord> {
        if !may_administer(&ctx.principal.actor(), RegistryAction::ManageInstitutions) {
            self.audit_registry(ctx, "institution.create", "Institution", Outcome::Denied)
                .await?;
            return Err(AppError::Forbidden);
        }
        let mut problems = Vec::new();
        if DistrictCode::parse(&new.district_code).is_err() {
            problems.push(FieldProblem {
                field: "district_code",
                problem: Problem::Required,
            });
        }
        if gongti_core::text::visible_chars(&new.name) == 0 {
            problems.push(FieldProblem {
                field: "name",
                problem: Problem::Required,
            });
        }
        if new.code.trim().is_empty() {
            problems.push(FieldProblem {
                field: "code",
                problem: Problem::Required,
            });
        }
        if let Some(upper) = new.upper_institution_id {
            match self.store.institution(upper).await {
                Ok(u) if check_tie(new.kind, u.kind).is_ok() => {}
                _ => problems.push(FieldProblem {
                    field: "upper_institution_id",
                    problem: Problem::NotAllowed,
                }),
            }
        }
        if !problems.is_empty() {
            self.audit_registry(ctx, "institution.create", "Institution", Outcome::Invalid)
                .await?;
            return Err(AppError::Invalid(problems));
        }
        let entry = self.registry_entry(ctx, "institution.create", "Institution", Outcome::Ok);
        let refused =
            |code: Outcome| self.audit_registry(ctx, "institution.create", "Institution", code);
        let record = match self
            .store
            .insert_institution(new, self.now_us(), &[entry])
            .await
        {
            Ok(r) => r,
            Err(StoreError::Duplicate(_)) => {
                refused(Outcome::Invalid).await?;
                return Err(AppError::Conflict("institution_code_taken"));
            }
            Err(StoreError::MissingReference(_)) => {
                refused(Outcome::Invalid).await?;
                return Err(AppError::invalid("district_code", Problem::Required));
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        Ok(record)
    }

    /// Adds a staff member at an institution (its admin or the city administrator).
    pub async fn create_staff(&self, ctx: &Ctx, new: &NewStaff) -> AppResult<StaffRecord> {
        let Some(institution) = new.institution_id else {
            return Err(AppError::invalid("institution_id", Problem::Required));
        };
        let action = RegistryAction::ManageStaff {
            institution: InstitutionId(institution),
        };
        if !may_administer(&ctx.principal.actor(), action) {
            self.audit_registry(ctx, "staff.create", "Staff", Outcome::Denied)
                .await?;
            return Err(AppError::Forbidden);
        }
        let mut problems = Vec::new();
        if gongti_core::text::visible_chars(&new.name) == 0 {
            problems.push(FieldProblem::new("name", Problem::Required));
        }
        // Staff work at an institution: an officer's or the city administrator's role
        // is not given here (an institution's administrator could raise anyone to it).
        if new.role.scope_level() != gongti_core::role::ScopeLevel::Institution {
            problems.push(FieldProblem::new("role", Problem::NotAllowed));
        }
        if let Some(d) = new.department_id {
            match self.store.department(d).await {
                Ok(dept) if dept.institution_id == institution => {}
                _ => problems.push(FieldProblem::new("department_id", Problem::NotAllowed)),
            }
        }
        if !problems.is_empty() {
            self.audit_registry(ctx, "staff.create", "Staff", Outcome::Invalid)
                .await?;
            return Err(AppError::Invalid(problems));
        }
        let home = self.store.institution(institution).await?;
        let new = NewStaff {
            district_code: Some(home.district_code),
            ..new.clone()
        };
        let entry = self.registry_entry(ctx, "staff.create", "Staff", Outcome::Ok);
        let record = self
            .store
            .insert_staff(&new, self.now_us(), &[entry])
            .await?;
        self.audit.flush().await?;
        Ok(record)
    }

    /// Refuses (audited as `action` on `resource`) unless the viewer may set up
    /// `institution`'s staff, departments and teams; the institution as stored.
    async fn administered(
        &self,
        ctx: &Ctx,
        institution: i64,
        action: &str,
        resource: &str,
    ) -> AppResult<InstitutionRecord> {
        let allowed = may_administer(
            &ctx.principal.actor(),
            RegistryAction::ManageStaff {
                institution: InstitutionId(institution),
            },
        );
        let found = match self.store.institution(institution).await {
            Ok(i) => Some(i),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        match found {
            Some(i) if allowed => Ok(i),
            _ => {
                self.audit_registry_at(ctx, (action, resource), Outcome::Denied, institution)
                    .await?;
                Err(if allowed {
                    AppError::NotFound
                } else {
                    AppError::Forbidden
                })
            }
        }
    }

    /// Adds a department (科室) to an institution (its administrator or the city
    /// administrator): a code unique in the institution and a name.
    pub async fn create_department(
        &self,
        ctx: &Ctx,
        institution: i64,
        code: &str,
        name: &str,
    ) -> AppResult<DepartmentRecord> {
        const ACTION: &str = "department.create";
        self.administered(ctx, institution, ACTION, "Department")
            .await?;
        let problems = check_department(code, name);
        if !problems.is_empty() {
            self.audit_registry_at(ctx, (ACTION, "Department"), Outcome::Invalid, institution)
                .await?;
            return Err(AppError::Invalid(problems));
        }
        let entry = self.registry_entry(ctx, ACTION, "Department", Outcome::Ok);
        let record = match self
            .store
            .insert_department(
                institution,
                code.trim(),
                name.trim(),
                self.now_us(),
                &[entry],
            )
            .await
        {
            Ok(r) => r,
            Err(StoreError::Duplicate(_)) => {
                self.audit_registry_at(ctx, (ACTION, "Department"), Outcome::Invalid, institution)
                    .await?;
                return Err(AppError::Conflict("department_code_taken"));
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        Ok(record)
    }

    /// Adds a family-doctor team (家庭医生团队) to a grassroots institution (its
    /// administrator or the city administrator): a family doctor, a nurse and a
    /// public-health doctor of that institution (DOMAIN.md §5).
    pub async fn create_team(&self, ctx: &Ctx, new: &NewTeam) -> AppResult<TeamRecord> {
        const ACTION: &str = "team.create";
        let home = self
            .administered(ctx, new.institution_id, ACTION, "Team")
            .await?;
        let mut seats = Vec::with_capacity(3);
        for (seat, id) in Seat::ALL.into_iter().zip([
            new.doctor_staff_id,
            new.nurse_staff_id,
            new.public_health_staff_id,
        ]) {
            let candidate = match self.store.staff_member(id).await {
                Ok(s) => Some(Candidate {
                    role: s.role,
                    institution_id: s.institution_id,
                }),
                Err(StoreError::NotFound) => None,
                Err(e) => return Err(e.into()),
            };
            seats.push((seat, candidate));
        }
        let seats: [(Seat, Option<Candidate>); 3] = [seats[0], seats[1], seats[2]];
        let problems = check_team(home.id, home.kind, &new.name, seats);
        if !problems.is_empty() {
            self.audit_registry_at(ctx, (ACTION, "Team"), Outcome::Invalid, home.id)
                .await?;
            return Err(AppError::Invalid(problems));
        }
        let entry = self.registry_entry(ctx, ACTION, "Team", Outcome::Ok);
        let new = NewTeam {
            name: new.name.trim().to_owned(),
            ..new.clone()
        };
        let record = self
            .store
            .insert_team(&new, self.now_us(), &[entry])
            .await?;
        self.audit.flush().await?;
        Ok(record)
    }

    /// Renames an institution or changes its tie to an upper hospital (city
    /// administrator only), at `expected_version` when given. Its code, kind and
    /// district are what identify and count it: a change of them is refused.
    pub async fn update_institution(
        &self,
        ctx: &Ctx,
        id: i64,
        changed: &NewInstitution,
        expected_version: Option<i64>,
    ) -> AppResult<InstitutionRecord> {
        const ACTION: &str = "institution.update";
        if !may_administer(&ctx.principal.actor(), RegistryAction::ManageInstitutions) {
            self.audit_registry(ctx, ACTION, "Institution", Outcome::Denied)
                .await?;
            return Err(AppError::Forbidden);
        }
        let now = self.store.institution(id).await?;
        let mut problems = update_problems(
            &[
                ("code", changed.code.trim() == now.code),
                ("kind", changed.kind == now.kind),
                ("district_code", changed.district_code == now.district_code),
            ],
            &changed.name,
        );
        if let Some(upper) = changed.upper_institution_id {
            match self.store.institution(upper).await {
                Ok(u) if upper != id && check_tie(now.kind, u.kind).is_ok() => {}
                _ => problems.push(FieldProblem {
                    field: "upper_institution_id",
                    problem: Problem::NotAllowed,
                }),
            }
        }
        if !problems.is_empty() {
            self.audit_registry(ctx, ACTION, "Institution", Outcome::Invalid)
                .await?;
            return Err(AppError::Invalid(problems));
        }
        let entry = self.registry_entry(ctx, ACTION, "Institution", Outcome::Ok);
        let record = match self
            .store
            .update_institution(
                id,
                changed.name.trim(),
                changed.upper_institution_id,
                expected_version,
                &[entry],
            )
            .await
        {
            Ok(r) => r,
            Err(StoreError::Changed(_)) => {
                self.audit_registry(ctx, ACTION, "Institution", Outcome::Invalid)
                    .await?;
                return Err(AppError::Conflict("version_changed"));
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        Ok(record)
    }

    /// Replaces what a staff member's record says of them (its institution's
    /// administrator or the city administrator), at `expected_version` when given.
    /// Role and institution are refused as changes: a move is a new staff record.
    pub async fn update_staff(
        &self,
        ctx: &Ctx,
        id: i64,
        changed: &NewStaff,
        expected_version: Option<i64>,
    ) -> AppResult<StaffRecord> {
        const ACTION: &str = "staff.update";
        let now = self.store.staff_member(id).await?;
        let action = match now.institution_id {
            Some(i) => RegistryAction::ManageStaff {
                institution: InstitutionId(i),
            },
            None => RegistryAction::ManageInstitutions,
        };
        if !may_administer(&ctx.principal.actor(), action) {
            self.audit_registry(ctx, ACTION, "Staff", Outcome::Denied)
                .await?;
            return Err(AppError::Forbidden);
        }
        let mut problems = update_problems(
            &[
                ("role", changed.role == now.role),
                (
                    "institution_id",
                    changed.institution_id == now.institution_id,
                ),
            ],
            &changed.name,
        );
        if let Some(d) = changed.department_id {
            match self.store.department(d).await {
                Ok(dept) if Some(dept.institution_id) == now.institution_id => {}
                _ => problems.push(FieldProblem {
                    field: "department_id",
                    problem: Problem::NotAllowed,
                }),
            }
        }
        if !problems.is_empty() {
            self.audit_registry(ctx, ACTION, "Staff", Outcome::Invalid)
                .await?;
            return Err(AppError::Invalid(problems));
        }
        let entry = self.registry_entry(ctx, ACTION, "Staff", Outcome::Ok);
        let changed = NewStaff {
            name: changed.name.trim().to_owned(),
            ..changed.clone()
        };
        let record = match self
            .store
            .update_staff(id, &changed, expected_version, &[entry])
            .await
        {
            Ok(r) => r,
            Err(StoreError::Changed(_)) => {
                self.audit_registry(ctx, ACTION, "Staff", Outcome::Invalid)
                    .await?;
                return Err(AppError::Conflict("version_changed"));
            }
            Err(e) => return Err(e.into()),
        };
        self.audit.flush().await?;
        Ok(record)
    }
}
