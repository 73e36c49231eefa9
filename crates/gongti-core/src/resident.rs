//! Residents (居民) and the master patient index: what a registration must satisfy.
//!
//! Validation collects every problem so a form can show them all at once.

use time::Date;

use crate::id_number::{IdNumber, Sex};
use crate::phone::Phone;
pub use crate::problem::{FieldProblem, Problem};

pub const NAME_MAX_CHARS: usize = 50;
pub const ADDRESS_MAX_CHARS: usize = 200;
pub const HOUSEHOLD_MAX_CHARS: usize = 40;

/// A registration as entered, before validation.
#[derive(Debug, Clone, Default)]
pub struct ResidentForm {
    pub name: String,
    /// `male` / `female`; derived from the ID number when absent.
    pub sex: Option<String>,
    /// Derived from the ID number when absent.
    pub birth_date: Option<Date>,
    pub id_number: String,
    pub phone: Option<String>,
    pub address: Option<String>,
    /// A household identifier shared by family members (户).
    pub household: Option<String>,
}

/// A registration that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidResident {
    pub name: String,
    pub sex: Sex,
    pub birth_date: Date,
    pub id_number: IdNumber,
    pub phone: Option<Phone>,
    pub address: Option<String>,
    pub household: Option<String>,
}

pub fn parse_sex(input: &str) -> Option<Sex> {
    match input {
        "male" | "1" | "男" => Some(Sex::Male),
        "female" | "2" | "女" => Some(Sex::Female),
        _ => None,
    }
}

fn text(
    problems: &mut Vec<FieldProblem>,
    field: &'static str,
    value: &str,
    max_chars: usize,
) -> String {
    let value = value.trim();
    if value.chars().count() > max_chars {
        problems.push(FieldProblem {
            field,
            problem: Problem::TooLong { max_chars },
        });
    } else if value.chars().any(char::is_control) {
        problems.push(FieldProblem {
            field,
            problem: Problem::ControlCharacters,
        });
    }
    value.to_owned()
}

fn optional_text(
    problems: &mut Vec<FieldProblem>,
    field: &'static str,
    value: Option<&str>,
    max_chars: usize,
) -> Option<String> {
    let value = text(problems, field, value?, max_chars);
    (!value.is_empty()).then_some(value)
}

/// Checks a registration against DOMAIN.md §1 and returns every problem found.
pub fn validate(form: &ResidentForm, today: Date) -> Result<ValidResident, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let name = text(&mut problems, "name", &form.name, NAME_MAX_CHARS);
    // A name of blanks and zero-width characters names nobody.
    if crate::text::visible_chars(&name) == 0 {
        problems.push(FieldProblem {
            field: "name",
            problem: Problem::Required,
        });
    }
    let id_number = if form.id_number.trim().is_empty() {
        problems.push(FieldProblem {
            field: "id_number",
            problem: Problem::Required,
        });
        None
    } else {
        IdNumber::parse(&form.id_number, today)
            .map_err(|e| {
                problems.push(FieldProblem {
                    field: "id_number",
                    problem: Problem::IdNumber(e),
                })
            })
            .ok()
    };
    let sex = match form.sex.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => id_number.as_ref().map(IdNumber::sex),
        Some(s) => match parse_sex(s) {
            None => {
                problems.push(FieldProblem {
                    field: "sex",
                    problem: Problem::UnknownSex,
                });
                None
            }
            Some(sex) => {
                if id_number.as_ref().is_some_and(|id| id.sex() != sex) {
                    problems.push(FieldProblem {
                        field: "sex",
                        problem: Problem::DisagreesWithIdNumber,
                    });
                }
                Some(sex)
            }
        },
    };
    let birth_date = match form.birth_date {
        None => id_number.as_ref().map(IdNumber::birth_date),
        Some(date) => {
            if id_number.as_ref().is_some_and(|id| id.birth_date() != date) {
                problems.push(FieldProblem {
                    field: "birth_date",
                    problem: Problem::DisagreesWithIdNumber,
                });
            }
            Some(date)
        }
    };
    let phone = match form
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        None => None,
        Some(p) => Phone::parse(p)
            .map_err(|_| {
                problems.push(FieldProblem {
                    field: "phone",
                    problem: Problem::Phone,
                })
            })
            .ok(),
    };
    let address = optional_text(
        &mut problems,
        "address",
        form.address.as_deref(),
        ADDRESS_MAX_CHARS,
    );
    let household = optional_text(
        &mut problems,
        "household",
        form.household.as_deref(),
        HOUSEHOLD_MAX_CHARS,
    );

    match (problems.is_empty(), id_number, sex, birth_date) {
        (true, Some(id_number), Some(sex), Some(birth_date)) => Ok(ValidResident {
            name,
            sex,
            birth_date,
            id_number,
            phone,
            address,
            household,
        }),
        _ => Err(problems),
    }
}

/// Age in completed years on `on`.
/// A name as de-identified lists show it: the family name, then one `*` per
/// remaining character (张** for 张秀英).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// A ten-year age band for de-identified lists: `35-44` … `75+` (under 35: `<35`).
pub fn age_band(age_years: i32) -> &'static str {
    match age_years {
        ..35 => "<35",
        35..=44 => "35-44",
        45..=54 => "45-54",
        55..=64 => "55-64",
        65..=74 => "65-74",
        _ => "75+",
    }
}

pub fn age_years(birth_date: Date, on: Date) -> i32 {
    let mut age = on.year() - birth_date.year();
    if (on.month() as u8, on.day()) < (birth_date.month() as u8, birth_date.day()) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn de_identified_names_and_age_bands() {
        assert_eq!(mask_name("张秀英"), "张**");
        assert_eq!(mask_name("李"), "李");
        assert_eq!(mask_name(""), "");
        for (age, band) in [
            (34, "<35"),
            (35, "35-44"),
            (44, "35-44"),
            (64, "55-64"),
            (65, "65-74"),
            (75, "75+"),
        ] {
            assert_eq!(age_band(age), band, "{age}");
        }
    }
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 22);

    fn form() -> ResidentForm {
        ResidentForm {
            name: "张秀英".into(),
            id_number: "11010519491231002X".into(),
            ..ResidentForm::default()
        }
    }

    fn codes(
        result: Result<ValidResident, Vec<FieldProblem>>,
    ) -> Vec<(&'static str, &'static str)> {
        result
            .unwrap_err()
            .iter()
            .map(|p| (p.field, p.problem.code()))
            .collect()
    }

    #[test]
    fn domain_1_sex_and_birth_date_are_derived_from_the_id_number() {
        let r = validate(&form(), TODAY).unwrap();
        assert_eq!(r.sex, Sex::Female);
        assert_eq!(r.birth_date, date!(1949 - 12 - 31));
    }

    #[test]
    fn domain_1_sex_and_birth_date_must_agree_with_the_id_number() {
        let f = ResidentForm {
            sex: Some("male".into()),
            birth_date: Some(date!(1949 - 12 - 30)),
            ..form()
        };
        assert_eq!(
            codes(validate(&f, TODAY)),
            [
                ("sex", "disagrees_with_id_number"),
                ("birth_date", "disagrees_with_id_number")
            ]
        );
        let agreeing = ResidentForm {
            sex: Some("女".into()),
            birth_date: Some(date!(1949 - 12 - 31)),
            ..form()
        };
        assert!(validate(&agreeing, TODAY).is_ok());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let f = ResidentForm {
            name: " ".into(),
            id_number: "110105194912310021".into(),
            phone: Some("12345".into()),
            sex: Some("x".into()),
            address: Some("路".repeat(ADDRESS_MAX_CHARS + 1)),
            ..ResidentForm::default()
        };
        assert_eq!(
            codes(validate(&f, TODAY)),
            [
                ("name", "required"),
                ("id_number", "id_number_check_character"),
                ("sex", "sex_unknown"),
                ("phone", "phone_invalid"),
                ("address", "too_long"),
            ]
        );
    }

    #[test]
    fn age_in_completed_years() {
        let cases = [
            (date!(1960 - 11 - 22), date!(2026 - 11 - 22), 66),
            (date!(1960 - 11 - 23), date!(2026 - 11 - 22), 65),
            (date!(2000 - 02 - 29), date!(2026 - 02 - 28), 25),
            (date!(2000 - 02 - 29), date!(2026 - 03 - 01), 26),
        ];
        for (birth, on, age) in cases {
            assert_eq!(age_years(birth, on), age, "{birth} on {on}");
        }
    }
}
