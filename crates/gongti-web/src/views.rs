//! JSON views of records. Domain types carry no `Serialize`: each view is built here by
//! hand, and the ID and phone numbers appear in full only where the access basis allows.

use gongti_app::DISPLAY_OFFSET;
use gongti_core::Sex;
use gongti_store::{InstitutionRecord, ResidentRecord, StaffRecord, TeamRecord};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub(crate) fn sex_code(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "male",
        Sex::Female => "female",
    }
}

/// An instant as RFC 3339 in UTC.
pub(crate) fn utc(at_us: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_us) * 1000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// An instant for people: Asia/Shanghai, minutes.
pub(crate) fn local(at_us: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at_us) * 1000)
        .ok()
        .and_then(|t| t.to_offset(DISPLAY_OFFSET).format(&fmt).ok())
        .unwrap_or_default()
}

pub(crate) fn resident(r: &ResidentRecord, identifiers: bool) -> Value {
    let id_number = if identifiers {
        r.id_number.as_str().to_owned()
    } else {
        r.id_number.masked()
    };
    let phone = r.phone.as_ref().map(|p| {
        if identifiers {
            p.as_str().to_owned()
        } else {
            p.masked()
        }
    });
    json!({
        "id": r.id,
        "name": r.name,
        "sex": sex_code(r.sex),
        "birth_date": r.birth_date.to_string(),
        "id_number": id_number,
        "id_number_masked": !identifiers,
        "phone": phone,
        "address": r.address,
        "household": r.household,
        "home_institution_id": r.home_institution_id,
        "home_district_code": r.home_district_code,
        "merged_into_id": r.merged_into_id,
        "created_at": utc(r.created_at_us),
        "updated_at": utc(r.updated_at_us),
    })
}

pub(crate) fn institution(i: &InstitutionRecord) -> Value {
    json!({
        "id": i.id,
        "code": i.code,
        "name": i.name,
        "kind": i.kind.code(),
        "kind_name": i.kind.name_zh(),
        "district_code": i.district_code,
        "upper_institution_id": i.upper_institution_id,
        "grassroots": i.kind.is_grassroots(),
    })
}

pub(crate) fn staff(s: &StaffRecord) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "role": s.role.code(),
        "role_name": s.role.name_zh(),
        "institution_id": s.institution_id,
        "district_code": s.district_code,
        "department_id": s.department_id,
        "licence_number": s.licence_number,
        "title": s.title,
        "practice_years": s.practice_years,
    })
}

pub(crate) fn department(d: &gongti_store::DepartmentRecord) -> Value {
    json!({"id": d.id, "code": d.code, "name": d.name})
}

pub(crate) fn team(t: &TeamRecord) -> Value {
    json!({
        "id": t.id,
        "institution_id": t.institution_id,
        "name": t.name,
        "doctor_staff_id": t.doctor_staff_id,
        "nurse_staff_id": t.nurse_staff_id,
        "public_health_staff_id": t.public_health_staff_id,
    })
}

/// A page of items with the cursor for the next one.
pub(crate) fn page(items: Vec<Value>, next_after: Option<i64>) -> Value {
    json!({"items": items, "next_cursor": next_after.map(crate::extract::encode_cursor)})
}

/// What a sign-in reports about failed attempts since the last one.
pub(crate) fn sign_in_notice(n: &gongti_app::SignInNotice) -> Value {
    json!({
        "failed_attempts": n.failed_attempts,
        "last_failed_at": utc(n.last_failed_at_us),
        "message": format!("自上次登录以来有 {} 次失败的登录尝试", n.failed_attempts),
        "message_en": format!("{} failed sign-in attempts since your last sign-in", n.failed_attempts),
    })
}

/// An ID number kept as text, as the views show one (as `IdNumber::masked`: the
/// first four and the last four characters).
pub(crate) fn masked_id_text(n: &str) -> String {
    let chars: Vec<char> = n.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    format!(
        "{}{}{}",
        chars[..4].iter().collect::<String>(),
        "*".repeat(chars.len() - 8),
        chars[chars.len() - 4..].iter().collect::<String>()
    )
}

pub(crate) use gongti_core::money::yuan;
