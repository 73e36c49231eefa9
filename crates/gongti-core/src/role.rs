//! Staff roles. A role decides what a signed-in person may do; its scope (institution,
//! district, city) decides where.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 家庭医生
    FamilyDoctor,
    /// 护士
    Nurse,
    /// 公卫医生
    PublicHealthDoctor,
    /// 药师
    Pharmacist,
    /// 健康管理师
    HealthManager,
    /// 专科医生
    Specialist,
    /// 诊断医生 (reads images, ECGs, lab results)
    ExamReader,
    /// 机构管理员
    InstitutionAdmin,
    /// 区卫健委
    DistrictOfficer,
    /// 市卫健委
    CityOfficer,
    /// 医保
    InsuranceOfficer,
    /// 系统管理员: runs the registry for the whole city; no clinical access.
    CityAdmin,
}

/// Where a role's powers reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeLevel {
    Institution,
    District,
    City,
}

impl Role {
    pub const ALL: [Role; 12] = [
        Role::FamilyDoctor,
        Role::Nurse,
        Role::PublicHealthDoctor,
        Role::Pharmacist,
        Role::HealthManager,
        Role::Specialist,
        Role::ExamReader,
        Role::InstitutionAdmin,
        Role::DistrictOfficer,
        Role::CityOfficer,
        Role::InsuranceOfficer,
        Role::CityAdmin,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Role::FamilyDoctor => "family_doctor",
            Role::Nurse => "nurse",
            Role::PublicHealthDoctor => "public_health_doctor",
            Role::Pharmacist => "pharmacist",
            Role::HealthManager => "health_manager",
            Role::Specialist => "specialist",
            Role::ExamReader => "exam_reader",
            Role::InstitutionAdmin => "institution_admin",
            Role::DistrictOfficer => "district_officer",
            Role::CityOfficer => "city_officer",
            Role::InsuranceOfficer => "insurance_officer",
            Role::CityAdmin => "city_admin",
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Role::FamilyDoctor => "家庭医生",
            Role::Nurse => "护士",
            Role::PublicHealthDoctor => "公卫医生",
            Role::Pharmacist => "药师",
            Role::HealthManager => "健康管理师",
            Role::Specialist => "专科医生",
            Role::ExamReader => "诊断医生",
            Role::InstitutionAdmin => "机构管理员",
            Role::DistrictOfficer => "区卫健委",
            Role::CityOfficer => "市卫健委",
            Role::InsuranceOfficer => "医保专员",
            Role::CityAdmin => "系统管理员",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            Role::FamilyDoctor => "Family doctor",
            Role::Nurse => "Nurse",
            Role::PublicHealthDoctor => "Public-health doctor",
            Role::Pharmacist => "Pharmacist",
            Role::HealthManager => "Health manager",
            Role::Specialist => "Specialist",
            Role::ExamReader => "Exam reader",
            Role::InstitutionAdmin => "Institution administrator",
            Role::DistrictOfficer => "District health officer",
            Role::CityOfficer => "City health officer",
            Role::InsuranceOfficer => "Insurance officer",
            Role::CityAdmin => "City administrator",
        }
    }

    /// Roles that treat patients and so may hold clinical access to records.
    pub fn is_clinical(self) -> bool {
        matches!(
            self,
            Role::FamilyDoctor
                | Role::Nurse
                | Role::PublicHealthDoctor
                | Role::Pharmacist
                | Role::HealthManager
                | Role::Specialist
                | Role::ExamReader
        )
    }

    pub fn scope_level(self) -> ScopeLevel {
        match self {
            Role::DistrictOfficer => ScopeLevel::District,
            Role::CityOfficer | Role::InsuranceOfficer | Role::CityAdmin => ScopeLevel::City,
            _ => ScopeLevel::Institution,
        }
    }
}

/// The most years of independent practice a staff record holds (a working life).
pub const PRACTICE_YEARS_MAX: i64 = 70;
/// [`PRACTICE_YEARS_MAX`] as a problem states it.
const PRACTICE_YEARS_MAX_TEXT: &str = "70";

/// Years of independent practice as entered in a form: none when left empty, else a
/// whole number from 0 to [`PRACTICE_YEARS_MAX`].
pub fn practice_years(entered: &str) -> Result<i64, crate::problem::Problem> {
    match entered.trim() {
        "" => Ok(0),
        y => y
            .parse::<i64>()
            .ok()
            .filter(|y| (0..=PRACTICE_YEARS_MAX).contains(y))
            .ok_or(crate::problem::Problem::OutOfRange {
                min: "0",
                max: PRACTICE_YEARS_MAX_TEXT,
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn practice_years_are_a_working_life_at_most() {
        assert_eq!(PRACTICE_YEARS_MAX.to_string(), PRACTICE_YEARS_MAX_TEXT);
        for (entered, years) in [
            ("", Some(0)),
            (" 8 ", Some(8)),
            ("0", Some(0)),
            ("70", Some(70)),
        ] {
            assert_eq!(practice_years(entered).ok(), years, "{entered}");
        }
        for entered in ["71", "-1", "八", "8.5"] {
            assert!(practice_years(entered).is_err(), "{entered}");
        }
    }

    #[test]
    fn role_codes_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::from_code(role.code()), Some(role));
        }
    }
}
