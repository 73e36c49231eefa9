//! An institution's own units as its administrator sets them up: departments (科室)
//! and family-doctor teams (家庭医生团队). DOMAIN.md §5: a team is a family doctor, a
//! nurse and a public-health doctor, and contracts are signed with it — so a team
//! belongs to a grassroots institution and its three seats are held by staff of that
//! institution in those roles.

use crate::problem::{FieldProblem, Problem, required_text_problem};
use crate::region::InstitutionKind;
use crate::role::Role;

/// Longest team name (characters).
pub const TEAM_NAME_MAX_CHARS: usize = 60;
/// Longest department code (characters: letters, digits, `-`, `_`).
pub const DEPARTMENT_CODE_MAX_CHARS: usize = 20;
/// Longest department name (characters).
pub const DEPARTMENT_NAME_MAX_CHARS: usize = 40;

/// A seat of a family-doctor team and the role that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seat {
    Doctor,
    Nurse,
    PublicHealth,
}

impl Seat {
    pub const ALL: [Seat; 3] = [Seat::Doctor, Seat::Nurse, Seat::PublicHealth];

    /// The role a holder of the seat has.
    pub fn role(self) -> Role {
        match self {
            Seat::Doctor => Role::FamilyDoctor,
            Seat::Nurse => Role::Nurse,
            Seat::PublicHealth => Role::PublicHealthDoctor,
        }
    }

    /// The form's field naming the seat's holder.
    pub fn field(self) -> &'static str {
        match self {
            Seat::Doctor => "doctor_staff_id",
            Seat::Nurse => "nurse_staff_id",
            Seat::PublicHealth => "public_health_staff_id",
        }
    }
}

/// A staff member proposed for a seat, as the registry holds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub role: Role,
    pub institution_id: Option<i64>,
}

/// The problems of a new team of `institution` (its kind given): its name, and each
/// seat's holder (`None`: no such staff member) — every problem at once.
pub fn check_team(
    institution_id: i64,
    kind: InstitutionKind,
    name: &str,
    seats: [(Seat, Option<Candidate>); 3],
) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    if !kind.is_grassroots() {
        problems.push(FieldProblem::new("institution_id", Problem::NotAllowed));
    }
    name_problems(&mut problems, "name", name, TEAM_NAME_MAX_CHARS);
    for (seat, candidate) in seats {
        let fits = candidate
            .is_some_and(|c| c.role == seat.role() && c.institution_id == Some(institution_id));
        if !fits {
            problems.push(FieldProblem::new(seat.field(), Problem::NotAllowed));
        }
    }
    problems
}

/// The problems of a new department: a short code of letters, digits, `-` and `_`
/// (unique within the institution, which the store holds), and a name.
pub fn check_department(code: &str, name: &str) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    let code = code.trim();
    if code.is_empty() {
        problems.push(FieldProblem::new("code", Problem::Required));
    } else if code.chars().count() > DEPARTMENT_CODE_MAX_CHARS {
        problems.push(FieldProblem::new(
            "code",
            Problem::TooLong {
                max_chars: DEPARTMENT_CODE_MAX_CHARS,
            },
        ));
    } else if !code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        problems.push(FieldProblem::new("code", Problem::Malformed));
    }
    name_problems(&mut problems, "name", name, DEPARTMENT_NAME_MAX_CHARS);
    problems
}

fn name_problems(problems: &mut Vec<FieldProblem>, field: &'static str, name: &str, max: usize) {
    if let Some(p) = required_text_problem(name, max) {
        problems.push(FieldProblem::new(field, p));
    } else if name.chars().any(char::is_control) {
        problems.push(FieldProblem::new(field, Problem::ControlCharacters));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: i64 = 7;

    type Seats = [(Seat, Option<Candidate>); 3];

    fn at(role: Role, institution: i64) -> Option<Candidate> {
        Some(Candidate {
            role,
            institution_id: Some(institution),
        })
    }

    fn fields(problems: &[FieldProblem]) -> Vec<&'static str> {
        problems.iter().map(|p| p.field).collect()
    }

    /// DOMAIN.md §5: "Team: family doctor + nurse + public-health doctor".
    #[test]
    fn a_team_is_a_family_doctor_a_nurse_and_a_public_health_doctor_of_one_grassroots_institution()
    {
        use InstitutionKind::*;
        use Role::*;
        let good = [
            (Seat::Doctor, at(FamilyDoctor, HOME)),
            (Seat::Nurse, at(Nurse, HOME)),
            (Seat::PublicHealth, at(PublicHealthDoctor, HOME)),
        ];
        let too_long = "团".repeat(TEAM_NAME_MAX_CHARS + 1);
        let cases: Vec<(&str, InstitutionKind, &str, Seats, Vec<&str>)> = vec![
            (
                "complete",
                CommunityHealthCentre,
                "王医生团队",
                good,
                vec![],
            ),
            ("village clinic", VillageClinic, "一村团队", good, vec![]),
            (
                "a hospital holds no team",
                TertiaryHospital,
                "团队",
                good,
                vec!["institution_id"],
            ),
            (
                "no name",
                CommunityHealthCentre,
                " \u{200b} ",
                good,
                vec!["name"],
            ),
            (
                "name too long",
                CommunityHealthCentre,
                &too_long,
                good,
                vec!["name"],
            ),
            (
                "a specialist in the doctor's seat",
                CommunityHealthCentre,
                "团队",
                [(Seat::Doctor, at(Specialist, HOME)), good[1], good[2]],
                vec!["doctor_staff_id"],
            ),
            (
                "a nurse of another institution",
                CommunityHealthCentre,
                "团队",
                [good[0], (Seat::Nurse, at(Nurse, HOME + 1)), good[2]],
                vec!["nurse_staff_id"],
            ),
            (
                "no such public-health doctor, and the doctor a nurse",
                CommunityHealthCentre,
                "团队",
                [
                    (Seat::Doctor, at(Nurse, HOME)),
                    good[1],
                    (Seat::PublicHealth, None),
                ],
                vec!["doctor_staff_id", "public_health_staff_id"],
            ),
        ];
        for (what, kind, name, seats, expected) in cases {
            assert_eq!(
                fields(&check_team(HOME, kind, name, seats)),
                expected,
                "{what}"
            );
        }
    }

    #[test]
    fn a_department_has_a_short_code_and_a_name() {
        let too_long = "x".repeat(DEPARTMENT_CODE_MAX_CHARS + 1);
        let cases: [(&str, &str, &[&str]); 7] = [
            ("cardio", "心血管内科", &[]),
            ("GP-01_a", "全科", &[]),
            ("", "全科", &["code"]),
            ("心内", "心血管内科", &["code"]),
            ("a b", "全科", &["code"]),
            (&too_long, "全科", &["code"]),
            ("endo", "", &["name"]),
        ];
        for (code, name, expected) in cases {
            assert_eq!(
                fields(&check_department(code, name)),
                expected,
                "{code}/{name}"
            );
        }
    }
}
