//! Who may touch what: the access rules as one pure function per kind of target.
//!
//! The table in `docs/access.md` is this module in prose; every row of it is a test
//! case below. Scope comes from the actor's institution and district; patient records
//! are reachable through the institution that holds them, an open care relationship
//! (contract, referral, order …), or an audited break-the-glass with a reason.

use crate::region::{DistrictCode, InstitutionId};
use crate::role::{Role, ScopeLevel};
use crate::scheduling::Pool;

/// The signed-in person, as far as access rules care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub role: Role,
    /// The institution a staff member works at; `None` for district and city roles.
    pub institution: Option<InstitutionId>,
    /// The district the actor works in; `None` for city roles.
    pub district: Option<DistrictCode>,
}

/// Where a patient's record lives and who cares for them now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientPlace {
    /// The institution that holds the record (registered the resident).
    pub home_institution: InstitutionId,
    pub home_district: DistrictCode,
    /// Institutions with an open care relationship to the patient.
    pub care_institutions: Vec<InstitutionId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatientAction {
    /// Read the record (demographics, and in later issues the clinical record).
    Read,
    /// Change the record.
    Write,
    /// Merge this record with another record of the same person (MPI stewardship).
    Merge,
}

/// Why access was granted; recorded in the audit trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    HomeInstitution,
    CareRelationship,
    RegistryStewardship,
    BreakGlass,
}

impl Basis {
    pub fn code(self) -> &'static str {
        match self {
            Basis::HomeInstitution => "home_institution",
            Basis::CareRelationship => "care_relationship",
            Basis::RegistryStewardship => "registry_stewardship",
            Basis::BreakGlass => "break_glass",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow(Basis),
    /// Allowed only through break-the-glass: retry with a reason, which is audited.
    BreakGlassRequired,
    Deny,
}

/// The shortest reason accepted for break-the-glass, in visible characters.
pub const BREAK_GLASS_REASON_MIN_CHARS: usize = 4;
/// The longest reason kept (it is written into every audit record of the access).
pub const BREAK_GLASS_REASON_MAX_CHARS: usize = 200;

/// Whether a role may reach named patients through break-the-glass at all (a column
/// of the table in `docs/access.md`): the district and city officers and the city
/// administrator, for oversight. Clinicians reach patients through care instead; the
/// insurance officer never sees names (DOMAIN.md §10), whatever reason is given.
pub fn may_break_glass(role: Role) -> bool {
    matches!(
        role,
        Role::DistrictOfficer | Role::CityOfficer | Role::CityAdmin
    )
}

/// Whether a break-the-glass reason says something: at least
/// [`BREAK_GLASS_REASON_MIN_CHARS`] visible characters (zero-width and blank
/// characters do not count).
pub fn break_glass_reason_ok(reason: Option<&str>) -> bool {
    reason.is_some_and(|r| {
        crate::text::visible_chars(r) >= BREAK_GLASS_REASON_MIN_CHARS
            && r.chars().count() <= BREAK_GLASS_REASON_MAX_CHARS
    })
}

/// Decides a patient-record action. `break_glass_reason` is the reason the actor gave,
/// if any; it only matters where the rules allow break-the-glass.
pub fn decide_patient(
    actor: &Actor,
    action: PatientAction,
    patient: &PatientPlace,
    break_glass_reason: Option<&str>,
) -> Decision {
    let at_home = actor.institution == Some(patient.home_institution);
    let in_care = actor
        .institution
        .is_some_and(|i| patient.care_institutions.contains(&i));
    let in_district = actor.district.as_ref() == Some(&patient.home_district);
    let reason_ok = break_glass_reason_ok(break_glass_reason);
    let glass = |reachable: bool| match (reachable, reason_ok) {
        (false, _) => Decision::Deny,
        (true, true) => Decision::Allow(Basis::BreakGlass),
        (true, false) => Decision::BreakGlassRequired,
    };

    match (actor.role, action) {
        (role, PatientAction::Read | PatientAction::Write) if role.is_clinical() => {
            if at_home {
                Decision::Allow(Basis::HomeInstitution)
            } else if in_care {
                Decision::Allow(Basis::CareRelationship)
            } else {
                Decision::Deny
            }
        }
        (
            Role::InstitutionAdmin,
            PatientAction::Read | PatientAction::Write | PatientAction::Merge,
        ) => {
            if at_home {
                Decision::Allow(Basis::RegistryStewardship)
            } else {
                Decision::Deny
            }
        }
        (Role::DistrictOfficer, PatientAction::Read) => glass(in_district),
        (Role::CityOfficer, PatientAction::Read) => glass(true),
        (Role::CityAdmin, PatientAction::Read | PatientAction::Merge) => glass(true),
        _ => Decision::Deny,
    }
}

/// Which residents a search by this actor may list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchScope {
    /// Residents whose record the institution holds.
    Institution(InstitutionId),
    /// Residents held in the district (break-the-glass).
    District(DistrictCode),
    /// Every resident (break-the-glass).
    City,
}

/// Decides what a resident search may list: clinicians and institution admins search
/// their own institution's records; officers and the city admin search only through an
/// audited break-the-glass; everyone else is denied.
pub fn search_scope(
    actor: &Actor,
    break_glass_reason: Option<&str>,
) -> Result<SearchScope, Decision> {
    let reason_ok = break_glass_reason_ok(break_glass_reason);
    let glass = |scope: SearchScope| {
        if reason_ok {
            Ok(scope)
        } else {
            Err(Decision::BreakGlassRequired)
        }
    };
    match actor.role {
        role if role.is_clinical() || role == Role::InstitutionAdmin => actor
            .institution
            .map(SearchScope::Institution)
            .ok_or(Decision::Deny),
        Role::DistrictOfficer => match &actor.district {
            Some(d) => glass(SearchScope::District(d.clone())),
            None => Err(Decision::Deny),
        },
        Role::CityOfficer | Role::CityAdmin => glass(SearchScope::City),
        _ => Err(Decision::Deny),
    }
}

/// Whether full ID and phone numbers may be shown for access granted on `basis`:
/// to those caring for the patient or keeping the register, not to a break-the-glass
/// viewer, who sees them masked (DOMAIN.md §1).
pub fn may_see_identifiers(basis: Basis) -> bool {
    !matches!(basis, Basis::BreakGlass)
}

/// May the actor register a new resident whose record will be held by `institution`?
pub fn may_register_resident(actor: &Actor, institution: InstitutionId) -> bool {
    is_community_team_at(actor, institution)
}

/// The roles that keep a community's register and contracts (family doctor, nurse,
/// public-health doctor, institution administrator), at their own institution.
fn is_community_team_at(actor: &Actor, institution: InstitutionId) -> bool {
    let community_role = matches!(
        actor.role,
        Role::FamilyDoctor | Role::Nurse | Role::PublicHealthDoctor | Role::InstitutionAdmin
    );
    community_role && actor.institution == Some(institution)
}

/// May the actor sign, renew, switch or terminate family-doctor contracts
/// (DOMAIN.md §5) with teams of `institution`? The community team's roles and the
/// institution administrator, at their own institution.
pub fn may_manage_contracts(actor: &Actor, institution: InstitutionId) -> bool {
    is_community_team_at(actor, institution)
}

/// May the actor prescribe, and so run the prescription check (DOMAIN.md §4)? A
/// family doctor or a specialist at an institution; whether a given prescription is
/// theirs to issue (licence, years, title, rights) is the check's to say.
pub fn may_prescribe(actor: &Actor) -> bool {
    matches!(actor.role, Role::FamilyDoctor | Role::Specialist) && actor.institution.is_some()
}

/// May the actor confirm or disable the prescription knowledge base's rules for
/// `institution` (its pharmacy and therapeutics committee's decisions, DOMAIN.md §4)?
/// Its pharmacists and its administrator.
pub fn may_set_drug_rules(actor: &Actor, institution: InstitutionId) -> bool {
    matches!(actor.role, Role::Pharmacist | Role::InstitutionAdmin)
        && actor.institution == Some(institution)
}

/// May the actor publish or change schedules, and the share of slots held back for
/// family doctors, at `hospital`? Its institution administrator (DOMAIN.md §3).
pub fn may_manage_schedules(actor: &Actor, hospital: InstitutionId) -> bool {
    actor.role == Role::InstitutionAdmin && actor.institution == Some(hospital)
}

/// May the actor work the hospital's side of its bookings — the day lists with the
/// patients' names, check-in, no-show, booking at the desk? Clinical staff and the
/// administrator of the hospital.
pub fn may_run_clinic(actor: &Actor, hospital: InstitutionId) -> bool {
    (actor.role.is_clinical() || actor.role == Role::InstitutionAdmin)
        && actor.institution == Some(hospital)
}

/// A booking asked for: through which pool, at which hospital, and what the actor
/// already has to do with the patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookingAsk {
    pub via: Pool,
    pub hospital: InstitutionId,
    /// The patient holds an active contract with a team whose family doctor is the actor.
    pub contracted_with_actor: bool,
    /// What [`decide_patient`] gives the actor for writing the patient's record.
    pub record: Decision,
}

/// May the actor book (or change the booking of) a slot for a patient?
/// The reserved pool: a family doctor, for a patient contracted to their team only.
/// The public pool: carers who may write the patient's record (held by their
/// institution or in its care, not break-the-glass), and the hospital's own staff
/// (the registration desk).
pub fn may_book(actor: &Actor, ask: &BookingAsk) -> bool {
    let carer = matches!(
        ask.record,
        Decision::Allow(Basis::HomeInstitution | Basis::CareRelationship)
    );
    match ask.via {
        Pool::Reserved => actor.role == Role::FamilyDoctor && ask.contracted_with_actor,
        Pool::Public => carer || may_run_clinic(actor, ask.hospital),
    }
}

/// Registry administration: institutions, departments, ties, staff and teams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryAction {
    /// Create or change an institution, district or health-community tie.
    ManageInstitutions,
    /// Create or change staff, their sign-ins and teams at an institution.
    ManageStaff { institution: InstitutionId },
}

pub fn may_administer(actor: &Actor, action: RegistryAction) -> bool {
    match (actor.role, action) {
        (Role::CityAdmin, _) => true,
        (Role::InstitutionAdmin, RegistryAction::ManageStaff { institution }) => {
            actor.institution == Some(institution)
        }
        _ => false,
    }
}

/// The area whose aggregate figures a report covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AggregateScope {
    City,
    District(DistrictCode),
    Institution {
        id: InstitutionId,
        district: DistrictCode,
    },
}

/// May the actor see de-identified aggregate figures for `scope`?
pub fn may_view_aggregates(actor: &Actor, scope: &AggregateScope) -> bool {
    match (actor.role.scope_level(), scope) {
        (_, _) if actor.role == Role::CityAdmin => false,
        (ScopeLevel::City, _) => true,
        (ScopeLevel::District, AggregateScope::City) => false,
        (ScopeLevel::District, AggregateScope::District(d))
        | (ScopeLevel::District, AggregateScope::Institution { district: d, .. }) => {
            actor.district.as_ref() == Some(d)
        }
        (ScopeLevel::Institution, AggregateScope::Institution { id, .. }) => {
            actor.institution == Some(*id)
        }
        (ScopeLevel::Institution, _) => false,
    }
}

/// What a bulk export (FHIR Bulk Data `$export`) may carry for an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportReach {
    /// The named records of the residents the institution holds, and the registry.
    Institution(InstitutionId),
    /// The registry only (institutions, departments, staff): no named patient data.
    RegistryOnly,
}

/// Decides what a bulk export may carry (docs/access.md, "Bulk export"): an
/// institution administrator exports the records of the residents their institution
/// holds — its data warehouse's feed; the officers and the city administrator, who
/// see named patients only one at a time through an audited break-the-glass, export
/// the registry alone; clinicians work patient by patient and export nothing.
pub fn export_reach(actor: &Actor) -> Result<ExportReach, Decision> {
    match actor.role {
        Role::InstitutionAdmin => actor
            .institution
            .map(ExportReach::Institution)
            .ok_or(Decision::Deny),
        Role::DistrictOfficer | Role::CityOfficer | Role::InsuranceOfficer | Role::CityAdmin => {
            Ok(ExportReach::RegistryOnly)
        }
        _ => Err(Decision::Deny),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PatientAction::*;

    const HOME: InstitutionId = InstitutionId(1);
    const CARE: InstitutionId = InstitutionId(2);
    const ELSEWHERE: InstitutionId = InstitutionId(3);

    fn district(code: &str) -> DistrictCode {
        DistrictCode::parse(code).unwrap()
    }

    fn patient() -> PatientPlace {
        PatientPlace {
            home_institution: HOME,
            home_district: district("120101"),
            care_institutions: vec![CARE],
        }
    }

    fn staff(role: Role, at: InstitutionId) -> Actor {
        Actor {
            role,
            institution: Some(at),
            district: Some(district("120101")),
        }
    }

    fn officer(role: Role, district_code: Option<&str>) -> Actor {
        Actor {
            role,
            institution: None,
            district: district_code.map(district),
        }
    }

    const GLASS: Option<&str> = Some("公共卫生事件调查");

    /// One row per line of the access table in docs/access.md.
    #[test]
    fn access_table_patient_records() {
        use Decision::*;
        let allow_home = Allow(Basis::HomeInstitution);
        let allow_care = Allow(Basis::CareRelationship);
        let rows: Vec<(&str, Actor, PatientAction, Option<&str>, Decision)> = vec![
            (
                "clinician reads own institution's patient",
                staff(Role::FamilyDoctor, HOME),
                Read,
                None,
                allow_home,
            ),
            (
                "clinician writes own institution's patient",
                staff(Role::Nurse, HOME),
                Write,
                None,
                allow_home,
            ),
            (
                "clinician reads patient in open care relationship",
                staff(Role::Specialist, CARE),
                Read,
                None,
                allow_care,
            ),
            (
                "clinician writes patient in open care relationship",
                staff(Role::Pharmacist, CARE),
                Write,
                None,
                allow_care,
            ),
            (
                "clinician elsewhere is denied",
                staff(Role::FamilyDoctor, ELSEWHERE),
                Read,
                None,
                Deny,
            ),
            (
                "clinician elsewhere is denied even with a reason",
                staff(Role::Specialist, ELSEWHERE),
                Read,
                GLASS,
                Deny,
            ),
            (
                "clinician cannot merge",
                staff(Role::FamilyDoctor, HOME),
                Merge,
                None,
                Deny,
            ),
            (
                "institution admin reads own patients",
                staff(Role::InstitutionAdmin, HOME),
                Read,
                None,
                Allow(Basis::RegistryStewardship),
            ),
            (
                "institution admin merges own patients",
                staff(Role::InstitutionAdmin, HOME),
                Merge,
                None,
                Allow(Basis::RegistryStewardship),
            ),
            (
                "institution admin cannot reach care-relationship patients",
                staff(Role::InstitutionAdmin, CARE),
                Read,
                None,
                Deny,
            ),
            (
                "district officer needs break-glass in district",
                officer(Role::DistrictOfficer, Some("120101")),
                Read,
                None,
                BreakGlassRequired,
            ),
            (
                "district officer breaks the glass in district",
                officer(Role::DistrictOfficer, Some("120101")),
                Read,
                GLASS,
                Allow(Basis::BreakGlass),
            ),
            (
                "district officer's too-short reason is refused",
                officer(Role::DistrictOfficer, Some("120101")),
                Read,
                Some(" ab "),
                BreakGlassRequired,
            ),
            (
                "district officer denied outside district",
                officer(Role::DistrictOfficer, Some("120102")),
                Read,
                GLASS,
                Deny,
            ),
            (
                "district officer never writes",
                officer(Role::DistrictOfficer, Some("120101")),
                Write,
                GLASS,
                Deny,
            ),
            (
                "city officer needs break-glass",
                officer(Role::CityOfficer, None),
                Read,
                None,
                BreakGlassRequired,
            ),
            (
                "city officer breaks the glass",
                officer(Role::CityOfficer, None),
                Read,
                GLASS,
                Allow(Basis::BreakGlass),
            ),
            (
                "city officer never writes",
                officer(Role::CityOfficer, None),
                Write,
                GLASS,
                Deny,
            ),
            (
                "insurance officer is denied named patients",
                officer(Role::InsuranceOfficer, None),
                Read,
                GLASS,
                Deny,
            ),
            (
                "city admin needs break-glass to read",
                officer(Role::CityAdmin, None),
                Read,
                None,
                BreakGlassRequired,
            ),
            (
                "city admin merges with a reason",
                officer(Role::CityAdmin, None),
                Merge,
                GLASS,
                Allow(Basis::BreakGlass),
            ),
            (
                "city admin never writes clinical data",
                officer(Role::CityAdmin, None),
                Write,
                GLASS,
                Deny,
            ),
        ];
        for (name, actor, action, reason, expected) in rows {
            assert_eq!(
                decide_patient(&actor, action, &patient(), reason),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn access_table_resident_search() {
        use SearchScope as S;
        let d1 = district("120101");
        let rows: Vec<(Actor, Option<&str>, Result<SearchScope, Decision>)> = vec![
            (
                staff(Role::FamilyDoctor, HOME),
                None,
                Ok(S::Institution(HOME)),
            ),
            (
                staff(Role::Specialist, CARE),
                None,
                Ok(S::Institution(CARE)),
            ),
            (
                staff(Role::InstitutionAdmin, HOME),
                None,
                Ok(S::Institution(HOME)),
            ),
            (
                officer(Role::DistrictOfficer, Some("120101")),
                None,
                Err(Decision::BreakGlassRequired),
            ),
            (
                officer(Role::DistrictOfficer, Some("120101")),
                GLASS,
                Ok(S::District(d1)),
            ),
            (
                officer(Role::CityOfficer, None),
                None,
                Err(Decision::BreakGlassRequired),
            ),
            (officer(Role::CityOfficer, None), GLASS, Ok(S::City)),
            (officer(Role::CityAdmin, None), GLASS, Ok(S::City)),
            (
                officer(Role::InsuranceOfficer, None),
                GLASS,
                Err(Decision::Deny),
            ),
        ];
        for (actor, reason, expected) in rows {
            assert_eq!(
                search_scope(&actor, reason),
                expected,
                "{actor:?} {reason:?}"
            );
        }
    }

    #[test]
    fn domain_1_identifiers_are_masked_for_break_glass_viewers() {
        assert!(may_see_identifiers(Basis::HomeInstitution));
        assert!(may_see_identifiers(Basis::CareRelationship));
        assert!(may_see_identifiers(Basis::RegistryStewardship));
        assert!(!may_see_identifiers(Basis::BreakGlass));
    }

    /// docs/access.md, the break-the-glass column: which roles may reach a record held
    /// elsewhere with a reason, for every role; and what counts as a reason.
    #[test]
    fn access_table_break_the_glass_by_role() {
        let elsewhere = PatientPlace {
            home_institution: ELSEWHERE,
            home_district: district("120101"),
            care_institutions: vec![],
        };
        for role in Role::ALL {
            let actor = match role.scope_level() {
                ScopeLevel::Institution => staff(role, HOME),
                ScopeLevel::District => officer(role, Some("120101")),
                ScopeLevel::City => officer(role, None),
            };
            let allowed = matches!(
                role,
                Role::DistrictOfficer | Role::CityOfficer | Role::CityAdmin
            );
            assert_eq!(may_break_glass(role), allowed, "{role:?}");
            let with_reason = decide_patient(&actor, Read, &elsewhere, Some("复核死亡病例"));
            let want = if allowed {
                Decision::Allow(Basis::BreakGlass)
            } else {
                Decision::Deny
            };
            assert_eq!(with_reason, want, "{role:?}");
            if allowed {
                for empty in [
                    "",
                    "   ",
                    "\u{200B}\u{200B}\u{200B}\u{200B}",
                    "a\u{200B}b\u{3164}c",
                ] {
                    assert_eq!(
                        decide_patient(&actor, Read, &elsewhere, Some(empty)),
                        Decision::BreakGlassRequired,
                        "{role:?} {empty:?}"
                    );
                    assert!(search_scope(&actor, Some(empty)).is_err(), "{role:?}");
                }
            }
        }
        assert!(break_glass_reason_ok(Some("  核查随访  ")));
        assert!(!break_glass_reason_ok(Some("核查\u{200B}\u{200B}")));
        assert!(!break_glass_reason_ok(None));
    }

    #[test]
    fn access_table_registration() {
        let rows = [
            (staff(Role::FamilyDoctor, HOME), HOME, true),
            (staff(Role::Nurse, HOME), HOME, true),
            (staff(Role::PublicHealthDoctor, HOME), HOME, true),
            (staff(Role::InstitutionAdmin, HOME), HOME, true),
            (staff(Role::FamilyDoctor, HOME), ELSEWHERE, false),
            (staff(Role::Specialist, HOME), HOME, false),
            (staff(Role::Pharmacist, HOME), HOME, false),
            (officer(Role::CityOfficer, None), HOME, false),
            (officer(Role::CityAdmin, None), HOME, false),
        ];
        for (actor, at, expected) in rows {
            assert_eq!(
                may_register_resident(&actor, at),
                expected,
                "{actor:?} at {at:?}"
            );
        }
    }

    #[test]
    fn access_table_contracts() {
        let rows = [
            (staff(Role::FamilyDoctor, HOME), HOME, true),
            (staff(Role::Nurse, HOME), HOME, true),
            (staff(Role::PublicHealthDoctor, HOME), HOME, true),
            (staff(Role::InstitutionAdmin, HOME), HOME, true),
            (staff(Role::FamilyDoctor, HOME), ELSEWHERE, false),
            (staff(Role::HealthManager, HOME), HOME, false),
            (staff(Role::Specialist, HOME), HOME, false),
            (officer(Role::DistrictOfficer, None), HOME, false),
            (officer(Role::CityAdmin, None), HOME, false),
        ];
        for (actor, at, expected) in rows {
            assert_eq!(
                may_manage_contracts(&actor, at),
                expected,
                "{actor:?} at {at:?}"
            );
        }
    }

    #[test]
    fn access_table_schedules_and_clinic() {
        const HOSPITAL: InstitutionId = InstitutionId(9);
        let rows = [
            // (actor, manage schedules, run the clinic)
            (staff(Role::InstitutionAdmin, HOSPITAL), true, true),
            (staff(Role::Specialist, HOSPITAL), false, true),
            (staff(Role::Nurse, HOSPITAL), false, true),
            (staff(Role::InstitutionAdmin, HOME), false, false),
            (staff(Role::FamilyDoctor, HOME), false, false),
            (officer(Role::CityOfficer, None), false, false),
            (officer(Role::CityAdmin, None), false, false),
        ];
        for (actor, manage, clinic) in rows {
            assert_eq!(may_manage_schedules(&actor, HOSPITAL), manage, "{actor:?}");
            assert_eq!(may_run_clinic(&actor, HOSPITAL), clinic, "{actor:?}");
        }
    }

    #[test]
    fn access_table_booking() {
        // DOMAIN.md §3: family doctors book the reserved pool for their own contracted
        // patients; the public pool is open to the patient's carers and the hospital.
        const HOSPITAL: InstitutionId = InstitutionId(9);
        let home = Decision::Allow(Basis::HomeInstitution);
        let care = Decision::Allow(Basis::CareRelationship);
        let glass = Decision::Allow(Basis::BreakGlass);
        let rows = [
            // (actor, via, contracted with the actor, record decision, allowed)
            (
                staff(Role::FamilyDoctor, HOME),
                Pool::Reserved,
                true,
                home,
                true,
            ),
            (
                staff(Role::FamilyDoctor, HOME),
                Pool::Reserved,
                false,
                home,
                false,
            ),
            (staff(Role::Nurse, HOME), Pool::Reserved, true, home, false),
            (
                staff(Role::Specialist, HOSPITAL),
                Pool::Reserved,
                false,
                Decision::Deny,
                false,
            ),
            (
                staff(Role::InstitutionAdmin, HOSPITAL),
                Pool::Reserved,
                false,
                Decision::Deny,
                false,
            ),
            (
                staff(Role::FamilyDoctor, HOME),
                Pool::Public,
                false,
                home,
                true,
            ),
            (staff(Role::Nurse, CARE), Pool::Public, false, care, true),
            (
                staff(Role::Nurse, HOSPITAL),
                Pool::Public,
                false,
                Decision::Deny,
                true,
            ),
            (
                staff(Role::InstitutionAdmin, HOSPITAL),
                Pool::Public,
                false,
                Decision::Deny,
                true,
            ),
            (
                staff(Role::FamilyDoctor, ELSEWHERE),
                Pool::Public,
                false,
                Decision::Deny,
                false,
            ),
            (
                officer(Role::CityOfficer, None),
                Pool::Public,
                false,
                glass,
                false,
            ),
            (
                officer(Role::CityAdmin, None),
                Pool::Public,
                false,
                glass,
                false,
            ),
        ];
        for (actor, via, contracted_with_actor, record, expected) in rows {
            let ask = BookingAsk {
                via,
                hospital: HOSPITAL,
                contracted_with_actor,
                record,
            };
            assert_eq!(may_book(&actor, &ask), expected, "{actor:?} {ask:?}");
        }
    }

    #[test]
    fn access_table_registry_administration() {
        let manage_home = RegistryAction::ManageStaff { institution: HOME };
        let rows = [
            (
                officer(Role::CityAdmin, None),
                RegistryAction::ManageInstitutions,
                true,
            ),
            (officer(Role::CityAdmin, None), manage_home, true),
            (staff(Role::InstitutionAdmin, HOME), manage_home, true),
            (staff(Role::InstitutionAdmin, ELSEWHERE), manage_home, false),
            (
                staff(Role::InstitutionAdmin, HOME),
                RegistryAction::ManageInstitutions,
                false,
            ),
            (
                officer(Role::CityOfficer, None),
                RegistryAction::ManageInstitutions,
                false,
            ),
            (staff(Role::FamilyDoctor, HOME), manage_home, false),
        ];
        for (actor, action, expected) in rows {
            assert_eq!(
                may_administer(&actor, action),
                expected,
                "{actor:?} {action:?}"
            );
        }
    }

    #[test]
    fn access_table_aggregates() {
        let home = AggregateScope::Institution {
            id: HOME,
            district: district("120101"),
        };
        let d1 = AggregateScope::District(district("120101"));
        let d2 = AggregateScope::District(district("120102"));
        let rows = [
            (officer(Role::CityOfficer, None), AggregateScope::City, true),
            (officer(Role::CityOfficer, None), d2.clone(), true),
            (
                officer(Role::InsuranceOfficer, None),
                AggregateScope::City,
                true,
            ),
            (
                officer(Role::DistrictOfficer, Some("120101")),
                d1.clone(),
                true,
            ),
            (
                officer(Role::DistrictOfficer, Some("120101")),
                home.clone(),
                true,
            ),
            (
                officer(Role::DistrictOfficer, Some("120101")),
                d2.clone(),
                false,
            ),
            (
                officer(Role::DistrictOfficer, Some("120101")),
                AggregateScope::City,
                false,
            ),
            (staff(Role::FamilyDoctor, HOME), home.clone(), true),
            (staff(Role::FamilyDoctor, ELSEWHERE), home.clone(), false),
            (staff(Role::FamilyDoctor, HOME), d1.clone(), false),
            (officer(Role::CityAdmin, None), AggregateScope::City, false),
        ];
        for (actor, scope, expected) in rows {
            assert_eq!(
                may_view_aggregates(&actor, &scope),
                expected,
                "{actor:?} {scope:?}"
            );
        }
    }

    /// One row per role of "Bulk export" in docs/access.md.
    #[test]
    fn bulk_export_reach() {
        use ExportReach::*;
        let cases: [(Actor, Result<ExportReach, Decision>); 12] = [
            (staff(Role::InstitutionAdmin, HOME), Ok(Institution(HOME))),
            (staff(Role::FamilyDoctor, HOME), Err(Decision::Deny)),
            (staff(Role::Nurse, HOME), Err(Decision::Deny)),
            (staff(Role::PublicHealthDoctor, HOME), Err(Decision::Deny)),
            (staff(Role::Pharmacist, HOME), Err(Decision::Deny)),
            (staff(Role::HealthManager, HOME), Err(Decision::Deny)),
            (staff(Role::Specialist, HOME), Err(Decision::Deny)),
            (staff(Role::ExamReader, HOME), Err(Decision::Deny)),
            (
                officer(Role::DistrictOfficer, Some("120101")),
                Ok(RegistryOnly),
            ),
            (officer(Role::CityOfficer, None), Ok(RegistryOnly)),
            (officer(Role::InsuranceOfficer, None), Ok(RegistryOnly)),
            (officer(Role::CityAdmin, None), Ok(RegistryOnly)),
        ];
        for (actor, expected) in cases {
            assert_eq!(export_reach(&actor), expected, "{:?}", actor.role);
        }
        let nowhere = Actor {
            institution: None,
            ..staff(Role::InstitutionAdmin, HOME)
        };
        assert_eq!(export_reach(&nowhere), Err(Decision::Deny));
    }
}
