//! The OpenAPI 3 document of `/api/v1`, written by hand beside the routes (a test checks
//! that every route is in it), and an offline docs page rendered from it.

use maud::{DOCTYPE, html};
use serde_json::{Value, json};

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn op(summary: &str, tag: &str, params: Value, body: Option<&str>, ok: (&str, &str)) -> Value {
    let mut o = json!({
        "summary": summary,
        "tags": [tag],
        "parameters": params,
        "responses": {
            ok.0: {"description": ok.1, "content": {"application/json": {"schema": {"type": "object"}}}},
        },
    });
    if ok.0 == "204" {
        o["responses"][ok.0] = json!({"description": ok.1});
    }
    if let Some(schema) = body {
        o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}});
    }
    o
}

/// An operation whose body may be left out.
fn optional_body(mut o: Value) -> Value {
    o["requestBody"]["required"] = json!(false);
    o
}

/// A year in a path (2000–2100).
fn year_path() -> Value {
    json!({"name": "year", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 2000, "maximum": 2100}})
}

/// `POST /residents/import`: the body is the list itself, CSV or XLSX.
fn roster_import() -> Value {
    list_import(
        "Bring residents in from the institution's own list (花名册): CSV (UTF-8 or GBK) or XLSX, one resident a row under a header of 姓名, 身份证号 (required), 性别, 出生日期, 联系电话, 住址, 户号 — or their English names. Every row or none; 422 lists every problem with its line and column. A resident already registered here is left as stored (so a repeat registers nobody twice); one registered elsewhere is a problem",
        "residents",
        json!([]),
        "{dry_run, rows, registered, would_register, already_registered, ignored_columns}",
    )
}

fn staff_import() -> Value {
    list_import(
        "Bring an institution's staff in from its own list (人员名单; its administrator or the city's, audited): CSV (UTF-8 or GBK) or XLSX, a person a row under a header of 姓名, 角色 (required), 科室 (a department's name or code), 执业证书编号, 职称, 独立执业年限 — or their English names. Every row or none; 422 lists every problem with its line and column. A row whose licence number a staff member of the institution has already is left as stored",
        "region",
        json!([path_id()]),
        "{dry_run, rows, added, would_add, already_on_staff, ignored_columns}",
    )
}

fn institutions_import() -> Value {
    list_import(
        "Bring a city's institutions in from its own list (机构名单; the city administrator, audited): CSV (UTF-8 or GBK) or XLSX, one a row under a header of 机构编码, 机构名称, 机构类别 (a kind's Chinese name or code), 所在区 (a district's name or code; all required), 上级医院编码 (a grassroots institution's upper hospital: one of the list or one registered already) — or their English names. Every row or none; 422 lists every problem with its line and column. A row whose code an institution has already is left as stored",
        "region",
        json!([]),
        "{dry_run, rows, added, would_add, already_registered, ignored_columns}",
    )
}

/// A job's key as `gongti_app::progress::valid_key` takes it.
fn job_key_schema() -> Value {
    json!({"type": "string", "minLength": 8, "maxLength": 64, "pattern": "^[A-Za-z0-9_-]+$"})
}

/// A list brought in as a file (CSV or XLSX as the body), checked with `dry_run`.
fn list_import(summary: &str, tag: &str, mut params: Value, answer: &str) -> Value {
    params
        .as_array_mut()
        .expect("parameters are a list")
        .extend([
            query(
                "dry_run",
                "true: check every row, save nothing",
                json!({"type": "boolean"}),
            ),
            query(
                "job",
                "A key of your choosing (8 to 64 letters, digits, - and _): the list's progress is then at GET /jobs/{job}",
                job_key_schema(),
            ),
        ]);
    let mut o = op(summary, tag, params, None, ("200", answer));
    let file = json!({"schema": {"type": "string", "format": "binary"}});
    o["requestBody"] = json!({"required": true, "content": {
        "text/csv": file.clone(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": file,
    }});
    o
}

/// An operation open without a token (sign-in).
fn public(mut o: Value) -> Value {
    o["security"] = json!([]);
    o
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    let required = description.contains("(required)");
    json!({"name": name, "in": "query", "required": required, "description": description, "schema": schema})
}

/// A record id as the handlers parse it (a 64-bit signed integer).
fn id() -> Value {
    json!({"type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX})
}

/// One of a closed list of codes.
fn one_of(codes: &[&str]) -> Value {
    json!({"type": "string", "enum": codes})
}

fn codes<'a>(codes: impl Iterator<Item = &'a str>) -> Value {
    json!({"type": "string", "enum": codes.collect::<Vec<_>>()})
}

fn date() -> Value {
    json!({"type": "string", "format": "date"})
}

fn date_time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

/// Free text (an empty parameter is refused: leave it out).
fn text(max_chars: u32) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max_chars})
}

/// A name prefix or a code to filter on: any length (a long one finds nothing).
fn free_text() -> Value {
    json!({"type": "string", "minLength": 1})
}

/// The `next_cursor` of a page: `c` and the last id in hex.
fn cursor() -> Value {
    json!({"type": "string", "pattern": "^c([0-7][0-9a-fA-F]{15}|[0-9a-fA-F]{1,15})$"})
}

/// A page size as sent: any unsigned 32-bit number, clamped by the handler (1–200,
/// or 1–1000 for readings).
fn page_size() -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": u32::MAX})
}

/// `city`, `district:<code>` or `institution:<id>`.
fn scope() -> Value {
    json!({"type": "string", "pattern": "^(city|district:.*\\S|institution:[+-]?[0-9]{1,18})$"})
}

/// The `{user}` of a staff member's sign-in.
fn user_param() -> Value {
    json!({"name": "user", "in": "path", "required": true, "schema": id()})
}

fn path_id() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": id()})
}

fn paging() -> Vec<Value> {
    vec![
        query("cursor", "The next_cursor of the previous page", cursor()),
        query("limit", "Page size, 1–200 (default 20)", page_size()),
    ]
}

fn with_paging(mut params: Vec<Value>) -> Value {
    params.extend(paging());
    params.into()
}

/// A time of day as the handlers read it (blank for the default).
const HH_MM: &str = r"^\s*(([01][0-9]|2[0-3]):[0-5][0-9])?\s*$";
/// Standard, padded base64 as the handlers decode it (unused bits zero).
const BASE64: &str =
    "^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";

fn schemas() -> Value {
    json!({
        "Error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "message_en": {"type": "string"},
            "problems": {"type": "array", "items": {"type": "object", "properties": {
                "field": {"type": "string"}, "code": {"type": "string"}, "message": {"type": "string"}, "message_en": {"type": "string"}}}}}},
        "ReservePolicy": {"type": "object", "required": ["reserved_percent", "release_days"], "properties": {
            "department_id": {"type": "integer", "description": "Omit for the whole hospital"},
            "reserved_percent": {"type": "number", "minimum": 0, "maximum": 100}, "release_days": {"type": "integer", "minimum": 0, "maximum": 60}}},
        "Schedule": {"type": "object", "required": ["department_id", "day", "session", "slot_count"], "properties": {
            "department_id": {"type": "integer"}, "doctor_staff_id": {"type": "integer"}, "clinic_name": {"type": "string", "maxLength": 50, "description": "Required without a doctor"},
            "day": {"type": "string", "format": "date"}, "session": {"type": "string", "enum": ["am", "pm"]},
            "starts_at": {"type": "string", "pattern": HH_MM, "description": "HH:MM Beijing time (default 08:00 / 13:30)"}, "ends_at": {"type": "string", "pattern": HH_MM, "description": "HH:MM (default 12:00 / 17:30)"},
            "slot_count": {"type": "integer", "minimum": 1, "maximum": 200}}},
        "ScheduleCancel": {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string", "maxLength": 200}}},
        "Capacity": {"type": "object", "required": ["slot_count"], "properties": {"slot_count": {"type": "integer", "minimum": 1, "maximum": 200}}},
        "Booking": {"type": "object", "required": ["schedule_id", "resident_id", "pool"], "properties": {
            "schedule_id": {"type": "integer"}, "slot_id": {"type": "integer", "description": "A particular slot (default: the earliest free one)"},
            "resident_id": {"type": "integer"}, "pool": {"type": "string", "enum": ["reserved", "public"]}, "note": {"type": "string", "maxLength": 500}}},
        "Referral": {"type": "object", "properties": {
            "source": {"type": "string", "enum": ["alert", "followup", "manual"], "description": "Default manual"},
            "alert_id": {"type": "integer"}, "followup_id": {"type": "integer"},
            "disease": {"type": "string", "enum": ["hypertension", "diabetes"], "description": "Required for a manual referral"},
            "urgency": {"type": "string", "enum": ["routine", "emergency"], "description": "Default: emergency for an alert or a follow-up that called for urgent referral, else routine (books a slot); emergency goes without a slot"},
            "via": {"type": "string", "enum": ["reserved", "public"], "description": "The pool a routine referral books from. Default reserved: the family doctor's own contracted patients only (409 not_contracted, contracted_elsewhere for another team's patient, reserved_for_family_doctor for the team's nurse or public-health doctor); public: the hospital's public slots"},
            "reason": {"type": "string", "maxLength": 2000, "description": "Required for a manual referral"}}},
        "ReferralReject": {"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string", "maxLength": 2000}}},
        "ReferralReturn": {"type": "object", "required": ["plan"], "properties": {"plan": {"type": "string", "maxLength": 2000}}},
        "Consultation": {"type": "object", "required": ["department_id", "question"], "properties": {
            "department_id": {"type": "integer"}, "specialist_staff_id": {"type": "integer"},
            "question": {"type": "string", "maxLength": 4000}, "video_at": {"type": "string", "format": "date-time"},
            "files": {"type": "array", "maxItems": 5, "items": {"type": "object", "required": ["filename", "content_type", "data_base64"], "properties": {
                "filename": {"type": "string", "maxLength": 120}, "content_type": {"type": "string", "enum": ["image/jpeg", "image/png", "application/pdf", "text/plain", "application/dicom"]},
                "data_base64": {"type": "string", "pattern": BASE64, "description": "Standard base64 with padding"}}}}}},
        "ConsultationAnswer": {"type": "object", "required": ["opinion"], "properties": {"opinion": {"type": "string", "maxLength": 4000}}},
        "PatientBooking": {"type": "object", "required": ["schedule_id"], "properties": {"schedule_id": {"type": "integer"}, "slot_id": {"type": "integer"}}},
        "Reschedule": {"type": "object", "required": ["schedule_id"], "properties": {"schedule_id": {"type": "integer"}, "slot_id": {"type": "integer"}}},
        "TokenRequest": {"type": "object", "required": ["username", "password"], "properties": {
            "username": {"type": "string", "maxLength": 64}, "password": {"type": "string", "maxLength": 128}}},
        "Resident": {"type": "object", "required": ["name", "id_number"], "properties": {
            "name": {"type": "string", "maxLength": 50},
            "id_number": {"type": "string", "description": "GB 11643-1999, 18 characters (15-digit legacy numbers are converted)"},
            "sex": {"type": "string", "enum": ["male", "female"]},
            "birth_date": {"type": "string", "format": "date"},
            "phone": {"type": "string"}, "address": {"type": "string", "maxLength": 200},
            "household": {"type": "string", "maxLength": 40},
            "home_institution_id": {"type": "integer", "format": "int64"}}},
        "Followup": {"type": "object", "required": ["disease", "age_years", "method"], "description": "Face-to-face follow-ups must give sbp_mmhg and dbp_mmhg (and fpg_mmol for diabetes); a phone follow-up may give none. Symptom codes: docs/followup.md.", "properties": {
            "disease": {"type": "string", "enum": ["hypertension", "diabetes"]},
            "age_years": {"type": "integer", "minimum": 0, "maximum": 130},
            "method": {"type": "string", "enum": ["clinic", "home", "phone"]},
            "sbp_mmhg": {"type": "integer", "minimum": 50, "maximum": 300},
            "dbp_mmhg": {"type": "integer", "minimum": 20, "maximum": 200, "description": "Below sbp_mmhg"},
            "fpg_mmol": {"type": "number", "minimum": 0.5, "maximum": 60.0},
            "heart_rate_bpm": {"type": "integer", "minimum": 20, "maximum": 250},
            "temperature_c": {"type": "number", "minimum": 30.0, "maximum": 45.0},
            "symptoms": {"type": "array", "maxItems": 32, "items": {"type": "string", "enum": gongti_core::chronic::followup::Symptom::ALL.iter().map(|s| s.code()).collect::<Vec<_>>()}},
            "pregnant_or_breastfeeding": {"type": "boolean"},
            "adverse_reaction": {"type": "boolean"},
            "adverse_reaction_uncontrolled": {"type": "boolean", "description": "Requires adverse_reaction"},
            "complication": {"type": "string", "enum": ["none", "new", "worse"]},
            "previous_classification": {"type": "integer", "minimum": 1, "maximum": 4}}},
        "ContractTeam": {"type": "object", "required": ["team_id", "resident_consent"], "properties": {
            "team_id": {"type": "integer", "format": "int64"},
            "resident_consent": {"type": "boolean", "description": "The resident agreed to sign (must be true); recorded on the audit trail"},
            "packages": {"type": "array", "items": {"type": "string"}, "description": "Optional package codes; the basic package is always included"}}},
        "ContractPackages": {"type": "object", "properties": {
            "packages": {"type": "array", "items": {"type": "string"}}}},
        "ContractEnd": {"type": "object", "required": ["reason"], "properties": {
            "reason": {"type": "string", "maxLength": 200}}},
        "EnrolmentEnd": {"type": "object", "required": ["reason"], "properties": {
            "ended_on": {"type": "string", "format": "date", "description": "The last day under management; today when absent. Not before the enrolment or its latest follow-up, not in the future"},
            "reason": {"type": "string", "enum": ["died", "moved_away", "diagnosis_excluded", "declined"], "description": "死亡 / 迁出 / 排除诊断 / 拒绝管理"},
            "note": {"type": "string", "maxLength": 200}}},
        "RiskFactors": {"type": "object", "description": "Hypertension risk inputs (DOMAIN.md §2); age and sex come from the resident, diabetes from the diabetes enrolment, BMI and waist from follow-ups", "properties": {
            "smoking": {"type": "boolean"}, "dyslipidaemia": {"type": "boolean"}, "impaired_glucose": {"type": "boolean"},
            "family_history_early_cvd": {"type": "boolean"}, "target_organ_damage": {"type": "boolean"},
            "ckd_stage": {"type": "integer", "minimum": 0, "maximum": 5}, "cvd": {"type": "boolean"},
            "diabetes_complications": {"type": "boolean", "description": "On the diabetes enrolment"}}},
        "Enrolment": {"type": "object", "required": ["icd10", "diagnosed_on"], "properties": {
            "icd10": {"type": "string", "description": "I10–I15 (hypertension) or E11 (type 2 diabetes)"},
            "diagnosed_on": {"type": "string", "format": "date"},
            "diagnosing_institution_id": {"type": "integer", "format": "int64"},
            "diagnosed_offline": {"type": "boolean", "default": true},
            "enrolled_on": {"type": "string", "format": "date", "description": "When management began, for a patient already managed elsewhere (default today; not in the future, not before diagnosed_on)"},
            "risk_factors": {"$ref": "#/components/schemas/RiskFactors"}}},
        "FollowupRecord": {"allOf": [{"$ref": "#/components/schemas/Followup"}, {"type": "object", "required": ["visit_on"], "description": "age_years and previous_classification are set by the server", "properties": {
            "visit_on": {"type": "string", "format": "date"},
            "weight_kg": {"type": "number"}, "height_cm": {"type": "integer"}, "waist_cm": {"type": "integer"},
            "hba1c_percent": {"type": "number"}, "dorsalis_pedis": {"type": "string", "enum": ["palpable", "weakened", "absent"]},
            "cigarettes_per_day": {"type": "integer"}, "alcohol_ml_per_day": {"type": "integer"},
            "exercise_sessions_per_week": {"type": "integer"}, "exercise_minutes_per_session": {"type": "integer"},
            "salt_intake": {"type": "string", "enum": ["light", "moderate", "heavy"]}, "staple_food_g_per_day": {"type": "integer"},
            "adherence": {"type": "string", "enum": ["regular", "intermittent", "none"]},
            "hypoglycaemia": {"type": "string", "enum": ["none", "occasional", "frequent"]},
            "drugs": {"type": "array", "maxItems": 20, "items": {"type": "object", "properties": {"name": {"type": "string"}, "dose": {"type": "string"}}}},
            "insulin": {"type": "string"}, "note": {"type": "string", "maxLength": 500}}}]},
        "Reading": {"type": "object", "required": ["client_reading_id", "kind", "taken_at"], "description": "Idempotent on (resident, client_reading_id); urgent values (BP ≥ 180/110, glucose ≥ 16.7 or ≤ 3.9) raise an alert", "properties": {
            "resident_id": {"type": "integer", "format": "int64", "description": "Batch only"},
            "client_reading_id": {"type": "string", "maxLength": 64},
            "kind": {"type": "string", "enum": ["bp", "glucose"]},
            "taken_at": {"type": "string", "format": "date-time", "description": "RFC 3339 with offset; not in the future, not older than 366 days"},
            "sbp_mmhg": {"type": "integer", "minimum": 50, "maximum": 300}, "dbp_mmhg": {"type": "integer", "minimum": 20, "maximum": 200},
            "pulse_bpm": {"type": "integer"}, "glucose_mmol": {"type": "number", "minimum": 0.5, "maximum": 60.0},
            "glucose_context": {"type": "string", "enum": ["fasting", "postprandial", "random"]},
            "device": {"type": "string", "maxLength": 64}}},
        "ReadingBatch": {"type": "object", "required": ["readings"], "properties": {
            "readings": {"type": "array", "minItems": 1, "maxItems": 1000, "items": {"allOf": [{"$ref": "#/components/schemas/Reading"}, {"type": "object", "required": ["resident_id"]}]}}}},
        "ScreeningBp": {"type": "object", "required": ["measured_on", "sbp_mmhg", "dbp_mmhg"], "properties": {
            "measured_on": {"type": "string", "format": "date"}, "sbp_mmhg": {"type": "integer", "minimum": 50, "maximum": 300}, "dbp_mmhg": {"type": "integer", "minimum": 20, "maximum": 200}}},
        "ScreeningProfile": {"type": "object", "properties": {
            "bmi": {"type": "number"}, "waist_cm": {"type": "integer", "minimum": 0, "maximum": 65535}, "family_history": {"type": "boolean"},
            "high_salt_diet": {"type": "boolean"}, "heavy_drinking": {"type": "boolean"}}},
        "InstitutionNew": {"type": "object", "required": ["code", "name", "kind", "district_code"], "properties": {
            "code": {"type": "string"}, "name": {"type": "string"},
            "kind": codes(gongti_core::region::InstitutionKind::ALL.iter().map(|k| k.code())),
            "district_code": {"type": "string", "description": "Six digits (GB/T 2260)"},
            "upper_institution_id": {"type": "integer", "format": "int64", "description": "The upper hospital of a grassroots institution's health community"}}},
        "StaffNew": {"type": "object", "required": ["institution_id", "name", "role"], "properties": {
            "institution_id": {"type": "integer", "format": "int64"}, "name": {"type": "string"},
            "role": codes(gongti_core::role::Role::ALL.iter().filter(|r| r.scope_level() == gongti_core::role::ScopeLevel::Institution).map(|r| r.code())),
            "department_id": {"type": "integer", "format": "int64"}, "licence_number": {"type": "string"}, "title": {"type": "string"},
            "practice_years": {"type": "integer", "minimum": 0, "maximum": 255, "description": "Years of independent practice (counted up to 70)"}}},
        "DepartmentNew": {"type": "object", "required": ["code", "name"], "properties": {
            "code": {"type": "string", "description": "Letters, digits, - and _, unique in the institution (up to 20)"}, "name": {"type": "string"}}},
        "TeamNew": {"type": "object", "required": ["name", "doctor_staff_id", "nurse_staff_id", "public_health_staff_id"], "properties": {
            "name": {"type": "string"}, "doctor_staff_id": {"type": "integer", "format": "int64"},
            "nurse_staff_id": {"type": "integer", "format": "int64"}, "public_health_staff_id": {"type": "integer", "format": "int64"}}},
        "AccountOpen": {"type": "object", "required": ["username", "password"], "properties": {
            "username": {"type": "string"}, "password": {"type": "string"}}},
        "PasswordReset": {"type": "object", "required": ["password"], "properties": {"password": {"type": "string"}}},
        "DrugRuleSet": {"type": "object", "required": ["state"], "properties": {
            "state": one_of(&["confirmed", "disabled"]),
            "reason": {"type": "string", "maxLength": 200, "description": "Required to disable"}}},
        "PrescriptionCheck": {"type": "object", "required": ["lines"], "properties": {
            "resident_id": {"type": "integer", "format": "int64", "description": "The record fills what the draft leaves out (age, sex, diagnoses, offline diagnoses, current drugs); the read is audited"},
            "patient": {"type": "object", "properties": {
                "age_years": {"type": "number", "minimum": 0, "maximum": 130}, "sex": one_of(&["male", "female"]),
                "weight_kg": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 400}, "pregnant": {"type": "boolean"}, "lactating": {"type": "boolean"},
                "egfr_ml_min": {"type": "number", "minimum": 0, "maximum": 250},
                "hepatic_impairment": one_of(&["none", "mild", "moderate", "severe"]),
                "allergies": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 100}, "description": "Ingredient or class names (阿莫西林, 青霉素类, 磺胺)"},
                "diagnoses": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 100}, "description": "ICD-10 codes"},
                "current_drugs": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 100}, "description": "Generic names"}}},
            "prescriber": {"type": "object", "description": "What is left out comes from your staff record (licence, years, title)", "properties": {
                "licensed": {"type": "boolean"}, "independent_practice_years": {"type": "integer", "minimum": 0, "maximum": 80},
                "title_level": one_of(&["junior", "intermediate", "senior"]), "assistant": {"type": "boolean"},
                "cosigned": {"type": "boolean"}, "township_solo": {"type": "boolean"}, "narcotic_privilege": {"type": "boolean"}}},
            "visit": {"type": "object", "properties": {
                "channel": one_of(&["online", "clinic"]),
                "offline_diagnoses": {"type": "array", "maxItems": 50, "items": {"type": "string", "maxLength": 100}, "description": "ICD-10 codes diagnosed at an institution"},
                "guardian_present": {"type": "boolean"}, "specialist_present": {"type": "boolean"}}},
            "kind": one_of(&["normal", "emergency", "paediatric"]),
            "validity_days": {"type": "integer", "minimum": 1, "maximum": 365},
            "long_prescription": {"type": "object", "properties": {
                "first": {"type": "boolean"}, "assessment_recorded": {"type": "boolean"}, "patient_confirmed": {"type": "boolean"}}},
            "supply_reason": {"type": "string", "maxLength": 200, "description": "The written reason for a supply beyond 7 days (chronic disease, old age)"},
            "lines": {"type": "array", "minItems": 1, "maxItems": 20, "items": {"type": "object", "properties": {
                "generic_name": {"type": "string", "minLength": 1, "maxLength": 100},
                "dose": {"type": "number", "minimum": 0, "exclusiveMinimum": true, "maximum": 1000000},
                "dose_unit": {"type": "string", "maxLength": 20, "description": "g, mg, μg or IU"},
                "times_per_day": {"type": "integer", "minimum": 1, "maximum": 24},
                "route": one_of(&["oral", "iv", "im", "sc", "inhaled", "topical"]),
                "days": {"type": "integer", "minimum": 1, "maximum": 365}}}}}},
        "PrescriptionIssue": {"allOf": [{"$ref": "#/components/schemas/PrescriptionCheck"}, {"type": "object", "required": ["resident_id", "password"], "properties": {
            "password": {"type": "string", "maxLength": 256, "description": "Your sign-in password, re-entered to sign (a wrong one counts toward the lock)"},
            "online_visit_id": {"type": "integer", "format": "int64", "description": "The online repeat visit (互联网复诊) it is written in: one you hold open, your online clinic open; issuing ends the visit as prescribed and makes the prescription an online one"}}}]},
        "PrescriptionStep": {"type": "object", "required": ["step"], "properties": {
            "step": one_of(&["pass", "return", "refuse", "confirm", "revise", "cancel"]),
            "reason": {"type": "string", "maxLength": 200, "description": "Required to return, refuse, confirm (the prescriber's second signature) and cancel"},
            "password": {"type": "string", "maxLength": 256, "description": "Re-entered to sign: pass, confirm, revise"},
            "version": {"type": "integer", "format": "int64", "description": "The version the decision was taken on (409 prescription_changed if it is no longer current)"},
            "revision": {"$ref": "#/components/schemas/PrescriptionCheck"}}},
        "PrescriptionRoute": {"type": "object", "required": ["pharmacy_id", "fulfilment"], "properties": {
            "pharmacy_id": {"type": "integer", "format": "int64", "description": "The institution whose pharmacy fills it"},
            "fulfilment": one_of(&["pickup", "delivery"]),
            "delivery_address": {"type": "string", "maxLength": 200, "description": "Required for a delivery"}}},
        "PrescriptionDispense": {"type": "object", "required": ["fulfilment"], "properties": {
            "fulfilment": one_of(&["pickup", "delivery"]),
            "collector_name": {"type": "string", "maxLength": 50, "description": "Pickup: who collects it"},
            "collector_id_number": {"type": "string", "maxLength": 18, "description": "Pickup: the collector's ID number (sealed at rest, masked in views)"},
            "by_agent": {"type": "boolean", "description": "Pickup: the collector is not the patient"}}},
        "DeliveryStep": {"type": "object", "required": ["step"], "properties": {
            "step": one_of(&["dispatch", "in_transit", "deliver", "fail", "return"]),
            "recipient_code": {"type": "string", "maxLength": 6, "description": "deliver: the six digits the patient was given"},
            "note": {"type": "string", "maxLength": 200, "description": "Required when a delivery fails"}}},
        "StockCount": {"type": "object", "required": ["on_hand_packs"], "properties": {
            "on_hand_packs": {"type": "integer", "minimum": 0, "maximum": 1000000}}},
        "SettlementPreview": {"type": "object", "properties": {
            "use_account": {"type": "boolean", "description": "Pay from the personal account (个人账户) first"}}},
        "SettlementConfirm": {"type": "object", "required": ["expected_cash_fen"], "properties": {
            "use_account": {"type": "boolean"},
            "expected_cash_fen": {"type": "integer", "format": "int64", "description": "The cash share the pre-settlement showed the patient"}}},
        "CapitationSimulation": {"type": "object", "required": ["rate_fen", "days_in_year", "members", "prepay_share", "quality_score", "quality_bands", "actual_cost_fen", "overspend_share"], "properties": {
            "rate_fen": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 100000000, "description": "The scheme's per-head rate for the year"},
            "days_in_year": {"type": "integer", "minimum": 1, "maximum": 366},
            "members": {"type": "array", "maxItems": 1000000, "description": "Persons, or groups of persons alike", "items": {"type": "object", "required": ["weight", "days"], "properties": {
                "weight": {"type": "number", "minimum": 0, "maximum": 100, "description": "Risk weight (age band × disease), up to 6 decimal places"},
                "days": {"type": "integer", "minimum": 0, "maximum": 366, "description": "Days enrolled in the year (at most days_in_year)"},
                "count": {"type": "integer", "minimum": 0, "maximum": 10000000, "description": "Persons alike (a group; 1 when left out)"}}}},
            "prepay_share": {"type": "number", "minimum": 0, "maximum": 1, "description": "α, the share of the budget prepaid monthly"},
            "quality_score": {"type": "number", "minimum": 0, "maximum": 100},
            "quality_bands": {"type": "array", "maxItems": 50, "items": {"type": "object", "required": ["min_score", "multiplier"], "properties": {
                "min_score": {"type": "number", "minimum": 0, "maximum": 100}, "multiplier": {"type": "number", "minimum": 0, "maximum": 10}}},
                "description": "m(Q): the band with the highest min_score the score reaches; none: 1"},
            "actual_cost_fen": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 1000000000000000_i64, "description": "C, the fund-paid cost of the members' care at every level"},
            "surplus_cap_share": {"type": "number", "nullable": true, "minimum": 0, "maximum": 1, "description": "The most kept of a surplus, as a share of the adjusted budget (null: no cap)"},
            "overspend_share": {"type": "number", "minimum": 0, "maximum": 1, "description": "The share of an overspend the fund covers (Tianjin 超支不补: 0)"}}},
        "IncentiveSimulation": {"type": "object", "required": ["pool_fen", "people"], "properties": {
            "pool_fen": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 10000000000000_i64},
            "people": {"type": "array", "maxItems": 100000, "items": {"type": "object", "required": ["id", "units", "post", "quality"], "properties": {
                "id": {"type": "string", "minLength": 1, "maxLength": 64, "description": "Unique in the list"},
                "units": {"type": "number", "minimum": 0, "maximum": 10000000, "description": "Standard workload units, up to 4 decimal places"},
                "post": {"type": "number", "minimum": 0, "maximum": 100, "description": "Post coefficient"},
                "quality": {"type": "number", "minimum": 0, "maximum": 10, "description": "Quality factor"}}}}}},
        "IncentiveLock": {"type": "object", "additionalProperties": false, "description": "The body may be left out", "properties": {
            "sources": {"type": "array", "items": {"type": "object", "additionalProperties": false, "required": ["source", "amount_fen"], "properties": {
                "source": {"type": "string", "enum": ["retained_surplus", "public_health_performance"]},
                "amount_fen": {"type": "integer", "minimum": 0, "maximum": 10000000000000i64}}}}}},
        "SchemeApproval": {"type": "object", "additionalProperties": false, "description": "The body may be left out", "properties": {
            "note": {"type": "string", "maxLength": 500}}},
        "SchemeRejection": {"type": "object", "additionalProperties": false, "required": ["note"], "properties": {
            "note": {"type": "string", "minLength": 1, "maxLength": 500}}},
        "IncentiveNote": {"type": "object", "additionalProperties": false, "description": "The body may be left out", "properties": {
            "note": {"type": "string", "maxLength": 500}}},
        "IncentiveAppeal": {"type": "object", "additionalProperties": false, "required": ["reason"], "properties": {
            "reason": {"type": "string", "minLength": 1, "maxLength": 500}}},
        "IncentiveAnswer": {"type": "object", "additionalProperties": false, "required": ["upheld", "answer"], "properties": {
            "upheld": {"type": "boolean"}, "answer": {"type": "string", "minLength": 1, "maxLength": 500}}},
        "ClearingNote": {"type": "object", "additionalProperties": false, "description": "The body may be left out", "properties": {
            "reason": {"type": "string", "maxLength": 500, "description": "A dispute's reason (required to dispute)"},
            "reply": {"type": "string", "maxLength": 500, "description": "The officer's reply (required to approve a disputed clearing)"},
            "frozen_at_us": {"type": "integer", "description": "The freeze the caller saw (frozen_at_us of the institution's clearing): refused with 409 clearing_changed_meanwhile when the officer has frozen again since"}}},
        "PaymentSchemeVersion": {"type": "object", "required": ["effective_from", "note", "params"], "properties": {
            "effective_from": {"type": "string", "format": "date"},
            "note": {"type": "string", "maxLength": 500, "description": "What changed"},
            "based_on": {"type": "integer", "format": "int64", "nullable": true, "description": "The version it was edited from"},
            "params": {"type": "object", "description": "Every parameter by its dotted name (see GET /payment/schemes); money in fen, decimals as numbers or strings, null for surplus_cap_share's none", "additionalProperties": {"oneOf": [{"type": "number"}, {"type": "string", "maxLength": 32}, {"type": "null"}]}}}},
        "Merge": {"type": "object", "required": ["merged_id", "reason"], "properties": {
            "merged_id": {"type": "integer", "format": "int64"}, "reason": {"type": "string"}}},
    })
}

/// The cloud pharmacy's paths (apart: one `json!` of every path outgrows the macro's
/// recursion limit).
fn pharmacy_paths() -> Value {
    json!({
        "/institutions/{id}/drug-rules": {"get": op("Every rule of the prescription knowledge base with the institution's decision on it (confirmed, disabled with its reason, or unset), for the institution's staff; the whole list (a few hundred rules)", "pharmacy", json!([path_id(), query("kind", "One kind of rule", one_of(&["dose", "caution", "interaction", "duplicate", "indication", "cross_allergy"]))]), None, ("200", "{ruleset_version, items: [{id, kind, about, grade, text, basis, state, reason, decided_by, decided_at}]}"))},
        "/institutions/{id}/drug-rules/{rule}": {"put": op("Confirm or disable a rule for the institution (its pharmacists or administrator, audited; a disabled rule raises no finding there, and needs a reason)", "pharmacy", json!([path_id(), {"name": "rule", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 64}}]), Some("DrugRuleSet"), ("200", "The rule with its decision"))},
        "/prescriptions": {
            "post": op("Issue a prescription (开具电子处方): screened by the check (422 prescription_blocked with the findings when a legal or format rule is broken), signed with your key after your password (422 wrong_password), kept as version 1 and queued for the pharmacists' review (audited)", "pharmacy", json!([]), Some("PrescriptionIssue"), ("201", "The prescription with its content, versions (findings, signature_valid) and steps")),
            "get": op("Your own prescriptions as their prescriber, newest first (status=returned: those waiting for you)", "pharmacy", with_paging(vec![query("status", "pending_review | returned | passed | refused | cancelled", one_of(&["pending_review", "returned", "passed", "refused", "cancelled"]))]), None, ("200", "{items, next_cursor}")),
        },
        "/prescriptions/review-queue": {"get": op("The pharmacists' queue (待审处方): most severe finding first, then longest waiting; a reviewer (药师 or above, 3 years) of the institution, or of an internet hospital for the whole region (audited)", "pharmacy", json!([query("cursor", "The next_cursor of the previous page", json!({"type": "string", "pattern": "^q[0-9a-fA-F]{1,15}-([0-7][0-9a-fA-F]{15}|[0-9a-fA-F]{1,15})-([0-7][0-9a-fA-F]{15}|[0-9a-fA-F]{1,15})$"})), query("limit", "Page size, 1–200 (default 20)", page_size())]), None, ("200", "{waiting, items, next_cursor}"))},
        "/prescriptions/{id}": {"get": op("A prescription with its content, every version (findings, rule-set version, whether the signature checks out), every step and the steps you may take (its prescriber, a reviewer, or whoever may read the patient's record; audited)", "pharmacy", json!([path_id()]), None, ("200", "The prescription"))},
        "/prescriptions/{id}/steps": {"post": op("Take a step of the review: a pharmacist passes (signed; never a grade-1 finding, a grade-2 one only once confirmed), returns or refuses with a reason; the prescriber confirms with a second signature and a reason (never grade 1), revises (a new signed version, screened again) or cancels (409 prescription_not_open_for_step, prescription_changed, contraindication_cannot_pass, needs_prescriber_confirmation)", "pharmacy", json!([path_id()]), Some("PrescriptionStep"), ("200", "The prescription"))},
        "/prescriptions/{id}/route": {"post": op("Send a passed prescription to the pharmacy the patient chose, for pickup or delivery (its prescriber; again to move it while unfilled; audited; 409 prescription_not_open_for_step)", "pharmacy", json!([path_id()]), Some("PrescriptionRoute"), ("200", "The prescription with its route"))},
        "/prescriptions/{id}/dispense": {"post": op("Fill a passed prescription at your pharmacy (a pharmacist): still valid, signatures verified, the collector's identity recorded (or packed for its delivery), the packs taken from stock; filled once, whatever the concurrency (409 already_dispensed, routed_elsewhere, routed_for_delivery, prescription_expired, prescription_not_passed, signature_invalid, out_of_stock, no_product)", "pharmacy", json!([path_id()]), Some("PrescriptionDispense"), ("200", "The fill: products and packs, amount, collector (ID masked), events"))},
        "/prescriptions/{id}/delivery": {"post": op("Move a delivery on: dispatch, in transit, delivered (the patient's six-digit code), failed (a note), returned (your pharmacy's staff; 409 delivery_not_open_for_step)", "pharmacy", json!([path_id()]), Some("DeliveryStep"), ("200", "The fill"))},
        "/pharmacy/board": {"get": op("Your pharmacy's board: prescriptions sent to it and waiting, deliveries under way (audited)", "pharmacy", with_paging(vec![]), None, ("200", "{items, next_cursor}"))},
        "/pharmacy/stock": {"get": op("Your pharmacy's stock by product (packs)", "pharmacy", json!([]), None, ("200", "{items: [{product_code, name, pack, on_hand_packs, updated_at}]}"))},
        "/pharmacy/stock/{product}": {"put": op("Count a product's stock at your pharmacy (audited)", "pharmacy", json!([{"name": "product", "in": "path", "required": true, "schema": {"type": "string", "minLength": 1, "maxLength": 64}}]), Some("StockCount"), ("204", "Counted"))},
        "/prescriptions/{id}/settlement/preview": {"post": op("门特 pre-settlement (2204, 2206 through the bureau; Gongti's simulator of the bureau answers): the fund's and the patient's shares for a passed prescription of a certified chronic disease, nothing kept (its prescriber, or the pharmacy it was sent to; audited; 409 not_insured, no_chronic_certification, no_policy, prescription_not_passed, already_dispensed)", "insurance", json!([path_id()]), Some("SettlementPreview"), ("200", "{disease, policy_version, total_fen, deductible_fen, fund_fen, patient_fen, account_fen, cash_fen, lines: [{product_code, name, packs, insurance_class, amount_fen, fully_self_fen, over_cap_fen, pre_self_fen, in_scope_fen}]}"))},
        "/prescriptions/{id}/settlement": {"post": op("门特 settlement (2207) for the cash share the patient was shown (409 settlement_changed when it moved, already_settled); the year's deductible and cap accumulate (audited)", "insurance", json!([path_id()]), Some("SettlementConfirm"), ("201", "The settlement with setl_id"))},
        "/prescriptions/{id}/settlement/reverse": {"post": op("Reverse the settlement in force (2208) before the prescription is filled: the year's deductible, cap and account given back (its prescriber; cancelling the prescription does it too; 409 not_settled, already_dispensed)", "insurance", json!([path_id()]), None, ("200", "{items: the prescription's settlements}"))},
        "/prescriptions/{id}/settlements": {"get": op("A prescription's settlements, the newest first (its readers; audited)", "insurance", json!([path_id()]), None, ("200", "{items}"))},
        "/insurance/settlements": {"get": op("Every settlement, the newest first: figures without names (the insurance officer and the city officer; audited)", "insurance", with_paging(vec![]), None, ("200", "{items, next_cursor}"))},
        "/capitation/simulate": {"post": op("What-if: a year of capitation under a total budget (DOMAIN.md §6), nothing saved (the insurance officer, the health commissions, an institution's administrator): B = Σ rate × weight × days ÷ days in year; prepayments round(α × B) over 12 months; A = B × m(Q); S = A − C; retained min(S, cap × A); an overspend's fund share; each money figure rounded half up once", "payment", json!([]), Some("CapitationSimulation"), ("200", "{budget_fen, prepaid_fen, monthly_prepayments_fen: [12], multiplier, adjusted_budget_fen, surplus_fen (negative for an overspend), surplus_rate (null when A is 0), retained_fen, fund_covers_fen, community_bears_fen}"))},
        "/incentives/simulate": {"post": op("What-if: a month's incentive pool shared by units × post × quality (DOMAIN.md §6), the fen by largest remainder so that the payouts sum to the pool, nothing saved (the same roles)", "payment", json!([]), Some("IncentiveSimulation"), ("200", "{payouts: [{id, pay_fen}]}"))},
        "/payment/schemes": {
            "get": op("The payment scheme's versions, newest first, the one in force today marked (the insurance officer, the health commissions, an institution's administrator): every parameter by its dotted name — rate_fen.{contracted|mt_hypertension|mt_diabetes}, weight.{first age}.{none|hypertension|diabetes|both}, prepay_share, quality_band.{least score}, quality_weight.{term}, surplus_cap_share (null: no cap), overspend_share, contract_fee_fen.{insurance|public_health|resident}, team_share, contracts_per_doctor_max, work_units.{kind}, post_coefficient.{role}", "payment", json!([]), None, ("200", "{items: [{id, effective_from, in_force, note, based_on, created_by, created_at, state (proposed, approved, rejected), decided_by, decided_at, decision_note, params}]}")),
            "post": op("Save the next version of the payment scheme (the insurance officer; audited): every parameter checked at once (422 naming each: unknown or repeated names, values out of range, a parameter missing, term weights not summing to 1, no quality band or age band from 0, a team share under 0.7), in force from effective_from (this year's first day or later, within five years), with a note of what changed; saved proposed, in force only once the committee approves it (POST /payment/schemes/{id}/approve); versions are never changed", "payment", json!([]), Some("PaymentSchemeVersion"), ("201", "The version, as GET /payment/schemes/{id}")),
        },
        "/capitation/years/{year}": {"get": op("A year of capitation under a total budget (the insurance officer, the health commissions, an institution's administrator): each institution's members counted from the contracts and chronic enrolments (persons and person-days per scheme), its budget B under the scheme version in force on the year's first day and its twelve prepayments of round(α × B); state preview (counted today, 409 no_payment_scheme when no version is in force) until approved, then as saved with each month paid or scheduled", "payment", json!([year_path()]), None, ("200", "{year, state, scheme_version, days_in_year, counted_on, approved_by, approved_at, budget_fen, prepaid_fen, paid_fen, institutions: [{institution_id, name, district_code, community, persons, person_days, budget_fen, prepaid_fen, prepayments: [{month, amount_fen, state}]}]}"))},
        "/capitation/years/{year}/approve": {"post": op("Approve the year's budgets (the insurance officer; audited): counted today and projected to the year's end (a contract in force taken as renewed, an open enrolment as running on), saved with the version used and twelve scheduled prepayments that sum exactly; approving again changes nothing; 409 scheme_changed_meanwhile when the committee approved another version for the year's first day while it was counted", "payment", json!([year_path()]), None, ("200", "The year, as GET /capitation/years/{year}"))},
        "/capitation/years/{year}/prepayments/{month}/pay": {"post": op("Pay a month's prepayments to every institution (the insurance officer; audited): 409 budget_not_approved, month_not_due (before the month's first day), earlier_month_unpaid, year_frozen (frozen for the clearing); paying again changes nothing", "payment", json!([year_path(), {"name": "month", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": 12}}]), None, ("200", "The year, as GET /capitation/years/{year}"))},
        "/capitation/years/{year}/costs": {"get": op("A year's costs to date (the overseeing roles): the fund-paid cost of every person while they counted under capitation, at the institution where they counted that day — cloud-pharmacy 门特 settlements, cloud-centre exams (price × the scheme's exam_fund_share), the bureau's settlements — by source and by level (grassroots, internet, secondary, tertiary, outside), with the share above the grassroots (409 no_payment_scheme)", "payment", json!([year_path()]), None, ("200", "{year, through, scheme_version, total, institutions: [{institution_id, fund_fen, by_source_fen, by_level_fen, upper_fen, upper_share, lines}]}"))},
        "/capitation/years/{year}/quality": {"get": op("A year's quality assessment to date (the overseeing roles; aggregates): for each budgeted institution the scheme's terms — standardised_management, bp_control, glucose_control, hba1c_target (the year's chronic-care indicators to date), contract_coverage (today), followup_timely (the share of due follow-ups not missed), referral_return (returned of those that reached a hospital) — each numerator, denominator and rate, and Q = 100 × Σ w·r ÷ Σ w over the measurable terms with its multiplier m(Q) (409 no_payment_scheme)", "payment", json!([year_path()]), None, ("200", "{year, from, through, scheme_version, institutions: [{institution_id, name, terms: [{term, numerator, denominator, rate}], score, multiplier}]}"))},
        "/capitation/years/{year}/institutions/{id}/members": {"get": op("The persons behind an institution's budget of the year (the overseeing roles, for the institutions they may see; audited): masked name, the weight's age and condition, the days under each scheme there and the part of B in fen (unrounded: B rounds once), counted as the budget was — today for a year not approved, else on its day — a page at a time", "payment", with_paging(vec![year_path(), path_id()]), None, ("200", "{items: [{resident_id, name, age, condition, days, share_fen}], next_cursor}"))},
        "/capitation/years/{year}/clearing": {"get": op("A year's clearing (年度清算; the overseeing roles, for the institutions they may see): each institution's frozen inputs — persons and person-days by the days actually enrolled, B, the prepayments paid, the year's quality terms, the fund-paid cost by source and level — the figures recomputed from them (score, multiplier, A = B × m(Q), cost, surplus and its rate, retained, fund covers, community bears, balance = min(C, A) + retained + fund covers − prepaid: positive to pay, negative to recover), whether they agree with those saved (reproduced), and its state computed, confirmed, disputed, approved, paid or recovered with who took each step; 409 clearing_not_computed before the data are frozen", "payment", json!([year_path()]), None, ("200", "{year, state, scheme_version, frozen_at, closed_at, budget_fen, adjusted_budget_fen, cost_fen, retained_fen, community_bears_fen, balance_fen, institutions: [{institution_id, name, district_code, community, state, inputs, score, multiplier, adjusted_budget_fen, cost_fen, surplus_fen, surplus_rate, retained_fen, fund_covers_fen, community_bears_fen, balance_fen, reproduced, reason, reply, answered, approved, settled}]}"))},
        "/capitation/years/{year}/figures": {"get": op("What the city dashboard shows of a cleared year (the overseeing roles, for the institutions they may see; aggregates): from the frozen clearing, for the city, each district and each institution (of district when one is given) the persons counted, A, C, S and the part of C above the grassroots (secondary, tertiary, outside), with the surplus rate S ÷ A and the upper share in basis points and the cost per person in fen, each rounded half up once, a sum's rate that of its sums (null with nothing to divide by); 409 clearing_not_computed before the data are frozen", "payment", json!([year_path(), {"name": "district", "in": "query", "required": false, "schema": {"type": "string", "maxLength": 12}}]), None, ("200", "{year, scheme_version, closed, total, districts: [{code, name, figures}], institutions: [{institution_id, name, district_code, community, state, figures: {institutions, persons, adjusted_budget_fen, cost_fen, surplus_fen, upper_fen, surplus_rate_bp, cost_per_person_fen, upper_share_bp}}]}"))},
        "/capitation/years/{year}/clearing/freeze": {"post": op("Freeze the year's data and compute its clearing (the insurance officer; audited naming the persons counted): the year over (409 year_not_over), its budget approved (409 budget_not_approved) and its twelve prepayments paid (409 prepayments_unpaid; none can be paid after, 409 year_frozen); freezing again recounts until an institution's clearing is approved (409 clearing_already_approved). The freeze runs in a task of its own: answered with the clearing once done, or 202 {year, state: freezing} when it goes on past 20 s (a city's year takes a minute) — read the clearing later; 409 clearing_in_progress while one runs", "payment", json!([year_path()]), None, ("200", "The clearing, as GET /capitation/years/{year}/clearing"))},
        "/capitation/years/{year}/clearing/close": {"post": op("Close the year once every institution's clearing is paid or recovered (the insurance officer; audited; 409 clearing_not_computed, clearing_not_settled); closing again changes nothing", "payment", json!([year_path()]), None, ("200", "The clearing, as GET /capitation/years/{year}/clearing"))},
        "/capitation/years/{year}/clearing/institutions/{id}/confirm": {"post": optional_body(op("Confirm the institution's clearing (its administrator; audited; 409 clearing_already_approved, clearing_changed_meanwhile); again changes nothing", "payment", json!([year_path(), path_id()]), Some("ClearingNote"), ("200", "The institution's clearing, as in GET /capitation/years/{year}/clearing")))},
        "/capitation/years/{year}/clearing/institutions/{id}/dispute": {"post": optional_body(op("Dispute the institution's clearing with a reason (its administrator; audited; 422 reason required, at most 500 characters; 409 clearing_already_approved, clearing_changed_meanwhile)", "payment", json!([year_path(), path_id()]), Some("ClearingNote"), ("200", "The institution's clearing, as in GET /capitation/years/{year}/clearing")))},
        "/capitation/years/{year}/clearing/institutions/{id}/approve": {"post": optional_body(op("Approve the institution's clearing once it has confirmed or disputed it (the insurance officer; audited; a disputed one with a reply, 422 otherwise; 409 clearing_not_answered, clearing_changed_meanwhile, clearing_not_reproduced); again changes nothing", "payment", json!([year_path(), path_id()]), Some("ClearingNote"), ("200", "The institution's clearing, as in GET /capitation/years/{year}/clearing")))},
        "/capitation/years/{year}/clearing/institutions/{id}/settle": {"post": optional_body(op("Pay the approved balance to the institution, or recover it when negative (the insurance officer; audited; 409 clearing_not_approved, clearing_changed_meanwhile, clearing_not_reproduced); again changes nothing", "payment", json!([year_path(), path_id()]), Some("ClearingNote"), ("200", "The institution's clearing, as in GET /capitation/years/{year}/clearing")))},
        "/capitation/years/{year}/clearing/institutions/{id}/members": {"get": op("The persons of an institution's clearing as frozen (the overseeing roles, for the institutions they may see; audited): masked name, age and condition, the days under each scheme there, the part of B in fen (unrounded) and the fund-paid cost counted there, a page at a time", "payment", with_paging(vec![year_path(), path_id()]), None, ("200", "{items: [{resident_id, name, age, condition, days, share_fen, cost_fen}], next_cursor}"))},
        "/incentives/institutions/{id}/months/{year}/{month}": {"get": op("An institution's incentive pool of a month, counted from the records (its administrator, the health commissions' officers who may see it): the contracts signed there that month and their fees with the team's share into the pool (team_share × fees, rounded once), and each person of a post — work counts by kind (follow-ups, contracts, referrals, online repeat visits, prescription reviews, exam reports), standard units by the scheme version in force on the month's first day, post coefficient, quality factor (their team's contracted chronic patients not overdue, through the scheme's bands; 1 outside a team) — with the pay: each team's share of its own contracts' fees among that team's members, the rest of the pool among everyone, each part by units × post × quality exact to the fen; undistributed_fen what no one could be given (a team without work) (409 no_payment_scheme; audited naming the staff)", "payment", json!([path_id(), year_path(), {"name": "month", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": 12}}]), None, ("200", "{institution_id, institution_name, year, month, from, through, scheme_version, state, contracts, contract_fees_fen, team_share, sources: [{source, amount_fen}], pool_fen, undistributed_fen, people: [{staff_id, name, role, team, work, units, post, quality, quality_rate, pay_fen}]}"))},
        "/incentives/institutions/{id}/months/{year}/{month}/lock": {"post": optional_body(op("Lock a month once it is over (its administrator; audited; 409 month_not_over): the sources entered — retained_surplus, public_health_performance, in fen (422 not_allowed for a revenue code: drug, consumable, test or exam revenue never funds the pool; the contract fee's team share is counted, not entered) — beside the team share counted; every payout and work item frozen as counted; locking again changes nothing; 409 scheme_changed_meanwhile when the committee approved another version for the month's first day while it was counted", "payment", json!([path_id(), year_path(), {"name": "month", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": 12}}]), Some("IncentiveLock"), ("200", "The month, as GET /incentives/institutions/{id}/months/{year}/{month}")))},
        "/incentives/institutions/{id}/months/{year}/{month}/approve": {"post": optional_body(op("The committee's approval of a locked month (绩效考核管理委员会: a district officer of its district or a city officer; audited; 409 month_not_locked, appeals_open), with a note; again changes nothing", "payment", json!([path_id(), year_path(), {"name": "month", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": 12}}]), Some("IncentiveNote"), ("200", "The month, as GET /incentives/institutions/{id}/months/{year}/{month}")))},
        "/incentives/institutions/{id}/months/{year}/{month}/pay": {"post": op("Record an approved month paid (its administrator; audited; 409 month_not_approved); again changes nothing", "payment", json!([path_id(), year_path(), {"name": "month", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": 12}}]), None, ("200", "The month, as GET /incentives/institutions/{id}/months/{year}/{month}"))},
        "/incentives/me/months/{year}/{month}/appeals": {"post": op("Appeal one's own payout of a locked month with a reason (audited; 422 reason required, at most 500 characters; 409 month_not_locked; 404 without a payout there)", "payment", json!([year_path(), {"name": "month", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": 12}}]), Some("IncentiveAppeal"), ("201", "{id, state}"))},
        "/incentives/appeals/{id}/answer": {"post": op("Answer an open appeal (the institution's administrator; audited): upheld reopens the month for a new count (409 month_not_locked once approved), dismissed keeps it; 409 appeal_answered", "payment", json!([path_id()]), Some("IncentiveAnswer"), ("200", "{id, state}"))},
        "/incentives/me/months/{year}/{month}": {"get": op("One's own incentive month (anyone of a post at an institution; audited; 409 no_payment_scheme): the person's work counts, units, post, quality and expected pay, and every work item behind them (its kind, record and day), naming records, never patients", "payment", json!([year_path(), {"name": "month", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": 12}}]), None, ("200", "{institution_id, year, month, scheme_version, pool_fen, state, appeals: [{id, reason, state, answer, created_at}], person, items: [{kind, record_id, on, at}]}"))},
        "/incentives/staff/{id}/months/{year}/{month}": {"get": op("A member of staff's incentive month with the work items behind it (for their institution's administrator and the health commissions' officers who may see it; audited; 409 no_payment_scheme)", "payment", json!([path_id(), year_path(), {"name": "month", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1, "maximum": 12}}]), None, ("200", "As GET /incentives/me/months/{year}/{month}"))},
        "/capitation/settlements/import": {"post": list_import("Bring the bureau's settlement file in (the insurance officer; audited): CSV or XLSX of the national 2207 fields — 结算ID setl_id, 人员编号 psn_no, 结算时间 setl_time, 医疗费总额 medfee_sumamt, 基金支付总额 fund_pay_sumamt (yuan), 定点医药机构编号 fixmedins_code, 定点医药机构名称 fixmedins_name — every row or none; every problem with its line and column (a person unknown by psn_no, a setl_id brought in already or twice)", "payment", json!([]), "{dry_run, rows, imported, would_import, already_imported, ignored_columns}")},
        "/payment/schemes/{id}": {"get": op("One version of the payment scheme (the same roles)", "payment", json!([path_id()]), None, ("200", "{id, effective_from, in_force, note, based_on, created_by, created_at, state, decided_by, decided_at, decision_note, params}"))},
        "/payment/schemes/{id}/approve": {"post": optional_body(op("The committee's approval of a proposed version (绩效考核管理委员会, at the city health commission: the city officer; audited), with a note; it comes into force on its day. 409 scheme_decided when it was rejected, scheme_period_settled while a year's budget or an incentive month starting on or after its day was counted under an earlier version; approving again changes nothing", "payment", json!([path_id()]), Some("SchemeApproval"), ("200", "The version, as GET /payment/schemes/{id}")))},
        "/payment/schemes/{id}/reject": {"post": op("The committee's rejection of a proposed version with its reason (the city officer; audited; 422 note required, at most 500 characters; 409 scheme_decided): it never comes into force", "payment", json!([path_id()]), Some("SchemeRejection"), ("200", "The version, as GET /payment/schemes/{id}"))},
        "/prescriptions/check": {"post": op("Judge a draft prescription by DOMAIN.md §4 (a prescriber's token; nothing saved; audited only when a resident_id is given): every finding at once, legal ones blocking", "pharmacy", json!([]), Some("PrescriptionCheck"), ("200", "{verdict: blocked|flagged|clear, ruleset_version, findings: [{code, grade?, severity, lines, message, message_en, basis, rule?}]}"))},
    })
}

fn paths(glass: Value) -> Value {
    let mut all = json!({
        "/auth/token": {
            "post": {"security": [], "summary": "Sign in for a bearer token", "tags": ["auth"], "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TokenRequest"}}}},
                "responses": {"200": {"description": "{access_token, token_type, expires_in}"}, "401": error_response("Wrong username or password"), "429": error_response("Locked after repeated failures")}},
            "delete": {"summary": "Revoke the token in use", "tags": ["auth"], "responses": {"204": {"description": "Revoked"}, "401": error_response("Not signed in")}},
        },
        "/auth/client-token": {
            "post": {"security": [], "summary": "A client system's token (OAuth 2.0 client credentials; the client by HTTP Basic or client_id and client_secret in the form)", "tags": ["auth"],
                "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["grant_type"], "properties": {
                    "grant_type": {"type": "string", "enum": ["client_credentials"]},
                    "scope": {"type": "string", "description": "SMART system scopes, space-separated (all the client holds when absent)"},
                    "client_id": {"type": "string"}, "client_secret": {"type": "string"}}}}}},
                "responses": {"200": {"description": "{access_token, token_type, expires_in, scope}"}, "400": error_response("invalid_request, unsupported_grant_type or invalid_scope (RFC 6749 error beside code)"),
                    "401": error_response("invalid_client")}},
        },
        "/me": {"get": op("Who the token belongs to", "auth", json!([]), None, ("200", "The signed-in staff member"))},
        "/districts": {"get": op("Districts of the city", "region", json!([]), None, ("200", "{items}"))},
        "/institutions": {"get": op("Institutions", "region", with_paging(vec![
            query("district", "District code", free_text()), query("kind", "Institution kind code", codes(gongti_core::region::InstitutionKind::ALL.iter().map(|k| k.code()))),
            query("upper", "Upper hospital id (health-community ties)", id()), query("name", "Name prefix", free_text())]), None, ("200", "{items, next_cursor}")),
            "post": op("Add an institution, tied to its upper hospital when grassroots (city administrator; audited; 409 institution_code_taken)", "region", json!([]), Some("InstitutionNew"), ("201", "The institution"))},
        "/institutions/{id}": {"get": op("One institution with its departments", "region", json!([path_id()]), None, ("200", "The institution"))},
        "/institutions/{id}/teams": {
            "get": op("Family-doctor teams of an institution", "region", json!([path_id()]), None, ("200", "{items}")),
            "post": op("Add a family-doctor team to a grassroots institution: a family doctor, a nurse and a public-health doctor who work there (its administrator or the city's; audited)", "region", json!([path_id()]), Some("TeamNew"), ("201", "The team")),
        },
        "/institutions/{id}/departments": {"post": op("Add a department (its administrator or the city's; audited; 409 department_code_taken)", "region", json!([path_id()]), Some("DepartmentNew"), ("201", "{id, code, name}"))},
        "/staff": {"get": op("Staff", "region", with_paging(vec![
            query("institution", "Institution id", id()), query("role", "Role code", codes(gongti_core::role::Role::ALL.iter().map(|r| r.code()))), query("name", "Name prefix", free_text())]), None, ("200", "{items, next_cursor}")),
            "post": op("Add a staff member at an institution with a role that works there (its administrator or the city's; audited)", "region", json!([]), Some("StaffNew"), ("201", "The staff member"))},
        "/staff/{id}": {"get": op("One staff member", "region", json!([path_id()]), None, ("200", "The staff member"))},
        "/staff/{id}/accounts": {
            "get": op("A staff member's sign-ins (their institution's administrator or the city's)", "region", json!([path_id()]), None, ("200", "{items: [{user_id, username, disabled, client}]}")),
            "post": op("Open a sign-in for the staff member with a first password (audited; 409 username_taken)", "region", json!([path_id()]), Some("AccountOpen"), ("201", "{user_id, username}")),
        },
        "/staff/{id}/accounts/{user}/password": {"post": op("Reset a sign-in's password: lifts a lock, ends every session (audited)", "region", json!([path_id(), user_param()]), Some("PasswordReset"), ("204", "Reset"))},
        "/staff/{id}/accounts/{user}/disable": {"post": op("Disable a sign-in for good: ends every session (audited)", "region", json!([path_id(), user_param()]), None, ("204", "Disabled"))},
        "/residents": {
            "get": op("Search residents within your reach (identifiers masked)", "residents", with_paging(vec![
                query("name", "Name prefix", free_text()), query("id_number", "Exact ID number", text(18)),
                query("birth_date", "YYYY-MM-DD", date()), query("sex", "male | female", one_of(&["male", "female"])),
                query("institution", "Holding institution id", id()), glass.clone()]), None, ("200", "{items, next_cursor}")),
            "post": op("Register a resident (master patient index)", "residents", json!([]), Some("Resident"), ("201", "The resident")),
        },
        "/residents/{id}": {
            "get": op("Read a resident", "residents", json!([path_id(), glass]), None, ("200", "The resident, with access_basis")),
            "put": op("Correct a resident's demographics", "residents", json!([path_id()]), Some("Resident"), ("200", "The resident")),
        },
        "/residents/{id}/merge": {"post": op("Merge another record of the same person into this one", "residents", json!([path_id()]), Some("Merge"), ("204", "Merged"))},
        "/residents/import": {"post": roster_import()},
        "/institutions/{id}/staff/import": {"post": staff_import()},
        "/institutions/import": {"post": institutions_import()},
        "/jobs/{job}": {"get": op("How far your own list has come while it is read, checked and saved: stage (reading, checking, saving, done) and rows done of all (404 when the key is not known, another user's or long finished)", "region", json!([{"name": "job", "in": "path", "required": true, "schema": job_key_schema()}]), None, ("200", "{stage, done, total, started_at, updated_at}"))},
        "/service-packages": {"get": op("Family-doctor service packages with their fee split (fen)", "contracts", json!([]), None, ("200", "{items}"))},
        "/residents/{id}/contracts": {
            "get": op("A resident's contracts, newest first (audited)", "contracts", json!([path_id()]), None, ("200", "{items}")),
            "post": op("Sign a one-year contract with a team (one team at a time; 409 already_contracted)", "contracts", json!([path_id()]), Some("ContractTeam"), ("201", "The contract")),
        },
        "/residents/{id}/contracts/renew": {"post": op("Renew with the same team (opens 30 days before the term ends)", "contracts", json!([path_id()]), Some("ContractPackages"), ("201", "The new term"))},
        "/residents/{id}/contracts/switch": {"post": op("Switch to another team at expiry", "contracts", json!([path_id()]), Some("ContractTeam"), ("201", "The new contract"))},
        "/residents/{id}/contracts/terminate": {"post": op("Terminate the resident's contract today, with a reason", "contracts", json!([path_id()]), Some("ContractEnd"), ("204", "Terminated"))},
        "/worklists/expiring-contracts": {"get": op("Contracts of your institution ending within 30 days, soonest first", "worklists", with_paging(vec![query("team", "Team id", id())]), None, ("200", "{items, next_cursor}"))},
        "/residents/{id}/enrolments": {
            "get": op("A resident's chronic-disease enrolments with risk and maintained figures (audited)", "chronic", json!([path_id()]), None, ("200", "{items}")),
            "post": op("Enrol in the hypertension or diabetes programme (409 already_enrolled)", "chronic", json!([path_id()]), Some("Enrolment"), ("201", "The enrolment")),
        },
        "/residents/{id}/enrolments/{disease}/end": {"post": op("End the active enrolment in a programme (结案): open tasks close, the indicators count it as managed up to its last day (409 not_enrolled, enrolment_changed)", "chronic", json!([path_id(), {"name": "disease", "in": "path", "required": true, "schema": {"type": "string", "enum": ["hypertension", "diabetes"]}}]), Some("EnrolmentEnd"), ("200", "The ended enrolment"))},
        "/residents/{id}/enrolments/{disease}/risk-factors": {"put": op("Replace risk inputs and recompute the hypertension risk", "chronic", json!([path_id(), {"name": "disease", "in": "path", "required": true, "schema": {"type": "string", "enum": ["hypertension", "diabetes"]}}]), Some("RiskFactors"), ("200", "The enrolment"))},
        "/residents/{id}/followups": {
            "get": op("A resident's follow-ups, newest visit first (audited)", "chronic", with_paging(vec![path_id(), query("disease", "hypertension | diabetes", one_of(&["hypertension", "diabetes"]))]), None, ("200", "{items, next_cursor}")),
            "post": op("Record a follow-up: judged by the rules, stored with the verdict; urgent referral opens a 14-day task (409 not_enrolled)", "chronic", json!([path_id()]), Some("FollowupRecord"), ("201", "{id, classification, urgent_referral, refer, next_followup_within_days, reasons, enrolment}")),
        },
        "/residents/{id}/readings": {
            "get": op("A resident's home readings in a window, newest first (audited)", "readings", json!([path_id(), query("from", "RFC 3339 (default: 90 days before to)", date_time()), query("to", "RFC 3339 (default: now)", date_time()), query("limit", "At most 1000", page_size())]), None, ("200", "{items}")),
            "post": op("Upload one home reading (201 new, 200 already uploaded)", "readings", json!([path_id()]), Some("Reading"), ("201", "{status, id, alert_id}")),
        },
        "/readings/batch": {"post": op("Upload up to 1,000 readings; all or nothing, problems listed with their index", "readings", json!([]), Some("ReadingBatch"), ("200", "{created, duplicates, alerts, results}"))},
        "/worklists/alerts": {"get": op("Open alerts of your institution, newest first", "worklists", with_paging(vec![query("team", "Team id", id())]), None, ("200", "{items, next_cursor}"))},
        "/alerts/{id}/acknowledge": {"post": op("Mark an alert as seen", "worklists", json!([path_id()]), None, ("204", "Acknowledged"))},
        "/worklists/critical-values": {"get": op("Open critical values (危急值) of your institution, oldest first: notified (to read back and confirm), confirmed (to record the action), escalated when not confirmed in time (audited)", "worklists", json!([]), None, ("200", "{items}"))},
        "/worklists/followups": {"get": op("A follow-up worklist of your institution: due this week, overdue, missed visit (no face-to-face in 90 days) or lost to follow-up (no contact in 12 months)", "worklists", with_paging(vec![
            query("list", "due_this_week (default) | overdue | missed_visit | lost_to_follow_up", one_of(&["due_this_week", "overdue", "missed_visit", "lost_to_follow_up"])),
            query("disease", "hypertension | diabetes", one_of(&["hypertension", "diabetes"])), query("team", "Team id (contracted residents)", id()),
            query("sort", "due (default) | risk (very high first)", one_of(&["due", "risk"]))]), None, ("200", "{items, next_cursor}"))},
        "/indicators": {"get": op("Chronic-disease indicators per programme with numerator, denominator and rate; calendar years, quarters and months are read from counters kept as records are written, other periods recomputed from the records", "indicators", json!([
            query("scope", "city | district:<code> | institution:<id> (default: your own)", scope()),
            query("from", "YYYY-MM-DD (default: 1 January this year)", date()), query("to", "YYYY-MM-DD (default: 31 December this year)", date()),
            query("disease", "hypertension | diabetes (default: both)", one_of(&["hypertension", "diabetes"])), query("compare", "previous: add the period compared with (the same days of the one before while this one is in progress; comparable=false when records began after it)", one_of(&["previous"]))]), None, ("200", "{scope, from, to, programmes: [{disease, managed, indicators: [{code, numerator, denominator, rate}]}]}"))},
        "/indicators/patients": {"get": op("The patients behind an indicator's numerator or denominator (de-identified for officers unless break-the-glass)", "indicators", with_paging(vec![
            query("scope", "As for /indicators", scope()), query("from", "YYYY-MM-DD", date()), query("to", "YYYY-MM-DD", date()),
            query("disease", "hypertension | diabetes (required)", one_of(&["hypertension", "diabetes"])), query("indicator", "standardised_management | bp_control | glucose_control | hba1c_target | missed_visit | lost_to_follow_up", one_of(&["standardised_management", "bp_control", "glucose_control", "hba1c_target", "missed_visit", "lost_to_follow_up"])),
            query("part", "numerator (default) | denominator", one_of(&["numerator", "denominator"])), query("break_glass_reason", "Officers: show names (audited per patient)", text(200))]), None, ("200", "{items, next_cursor, identified}"))},
        "/residents/{id}/screening": {"get": op("Where a resident stands in hypertension screening (DOMAIN.md §2): state, next BP due, high-risk factors", "screening", json!([path_id()]), None, ("200", "{state, next_bp_due, followup_by, high_risk_factors, readings}"))},
        "/residents/{id}/screening/bp": {"post": op("Record an office BP taken to screen: raised on 3 different days in a row makes hypertension suspected (refer for diagnosis)", "screening", json!([path_id()]), Some("ScreeningBp"), ("201", "The new screening status"))},
        "/residents/{id}/screening/profile": {"put": op("Replace the high-risk profile (BMI, waist, family history, high-salt diet, heavy drinking)", "screening", json!([path_id()]), Some("ScreeningProfile"), ("200", "The new screening status"))},
        "/worklists/screening": {"get": op("Residents of your institution in a screening state: suspected (refer), recheck_due, or normal with BP due by today", "worklists", with_paging(vec![query("state", "suspected (default) | recheck_due | normal", one_of(&["suspected", "recheck_due", "normal"]))]), None, ("200", "{items, next_cursor}"))},
        "/worklists/tasks": {"get": op("Open follow-up tasks of your institution, soonest due first", "worklists", with_paging(vec![]), None, ("200", "{items, next_cursor}"))},
        "/followups/evaluate": {"post": op("Classify a follow-up by DOMAIN.md §2 without saving it (live feedback)", "chronic", json!([]), Some("Followup"), ("200", "{classification, urgent_referral, refer, next_followup_within_days, counts_as_face_to_face, reasons, ruleset_version}"))},
        "/reserve-policy": {
            "get": op("The reserved share and release window in force for a department (DOMAIN.md §3: 10 %, released 2 days before the visit, by default)", "scheduling", json!([query("institution_id", "Hospital id (required)", id()), query("department_id", "Department id (required)", id())]), None, ("200", "{reserved_percent, release_days}")),
            "put": op("Set the reserved share of your hospital, or of one department (institution administrator)", "scheduling", json!([]), Some("ReservePolicy"), ("204", "Set")),
        },
        "/schedules": {
            "get": op("Published schedules by day, with free slots per pool", "scheduling", with_paging(vec![query("institution", "Hospital id", id()), query("department", "Department id", id()), query("from", "YYYY-MM-DD (default today)", date()), query("to", "YYYY-MM-DD (default from + 14 days; at most 92 days)", date())]), None, ("200", "{items, next_cursor}")),
            "post": op("Publish a schedule at your hospital: slots laid out over the session, the reserved share held back (institution administrator)", "scheduling", json!([]), Some("Schedule"), ("201", "The schedule")),
        },
        "/schedules/{id}": {"get": op("A schedule with its slots (pool, status, open to the public today)", "scheduling", json!([path_id()]), None, ("200", "The schedule with slots"))},
        "/schedules/{id}/capacity": {"put": op("Change the number of slots; never below the patients booked (409 capacity_below_bookings)", "scheduling", json!([path_id()]), Some("Capacity"), ("200", "The schedule"))},
        "/schedules/{id}/cancel": {"post": op("停诊: cancel a clinic with a reason; every booking still holding a place is cancelled with it and listed (patients to contact); referrals that booked a slot are told on their timeline", "scheduling", json!([path_id()]), Some("ScheduleCancel"), ("200", "The schedule with cancelled_bookings"))},
        "/schedules/{id}/bookings": {"get": op("The schedule's bookings with patients' names, for the hospital's staff (audited)", "scheduling", json!([path_id()]), None, ("200", "{items}"))},
        "/bookings": {"post": op("Book a slot: pool reserved (a family doctor, for a patient contracted to their team) or public; 409 no_reserved_slot_left, no_slot_left, slot_taken, already_booked_that_day", "scheduling", json!([]), Some("Booking"), ("201", "The booking"))},
        "/bookings/{id}/cancel": {"post": op("Cancel before the slot starts; frees the slot", "scheduling", json!([path_id()]), None, ("200", "The booking"))},
        "/bookings/{id}/check-in": {"post": op("Check the patient in on the visit day (hospital staff)", "scheduling", json!([path_id()]), None, ("200", "The booking"))},
        "/bookings/{id}/no-show": {"post": op("Mark a no-show after the slot ended (hospital staff)", "scheduling", json!([path_id()]), None, ("200", "The booking"))},
        "/bookings/{id}/reschedule": {"post": op("Move a booking to another slot through the same pool, in one transaction", "scheduling", json!([path_id()]), Some("Reschedule"), ("201", "The new booking"))},
        "/residents/{id}/bookings": {"get": op("A resident's bookings, newest first (audited)", "scheduling", with_paging(vec![path_id()]), None, ("200", "{items, next_cursor}"))},
        "/residents/{id}/referrals": {
            "get": op("A resident's referrals, newest first (audited)", "referrals", with_paging(vec![path_id()]), None, ("200", "{items, next_cursor}")),
            "post": op("One-click referral (DOMAIN.md §3): from an alert, a follow-up that called for referral, or by hand; picks the receiving department (programme, health-community tie, earliest reserved slot), books the slot (routine), sends the clinical summary. 409 not_contracted, contracted_elsewhere, reserved_for_family_doctor, no_reserved_slot_left, no_slot_left, referral_open", "referrals", json!([path_id()]), Some("Referral"), ("201", "The referral with its timeline")),
        },
        "/referrals": {"get": op("Your institution's referrals: inbox (received, under way), sent, or returning (referred back down)", "referrals", with_paging(vec![query("box", "inbox (default) | sent | returning", one_of(&["inbox", "sent", "returning"]))]), None, ("200", "{items, next_cursor}"))},
        "/referrals/{id}": {"get": op("A referral with its timeline (receiving hospital, or the sending side's carers; audited)", "referrals", json!([path_id()]), None, ("200", "The referral"))},
        "/referrals/{id}/accept": {"post": op("Receiving side: accept", "referrals", json!([path_id()]), None, ("200", "The referral"))},
        "/referrals/{id}/reject": {"post": op("Receiving side: reject with a reason; frees the slot and ends access", "referrals", json!([path_id()]), Some("ReferralReject"), ("200", "The referral"))},
        "/referrals/{id}/arrive": {"post": op("Receiving side: the patient arrived (checks the booking in)", "referrals", json!([path_id()]), None, ("200", "The referral"))},
        "/referrals/{id}/see": {"post": op("Receiving side: the specialist saw the patient", "referrals", json!([path_id()]), None, ("200", "The referral"))},
        "/referrals/{id}/return": {"post": op("Receiving side: refer back down with the specialist's plan; opens the family doctor's 14-day follow-up task", "referrals", json!([path_id()]), Some("ReferralReturn"), ("200", "The referral"))},
        "/referrals/{id}/cancel": {"post": op("Sending side: cancel before the patient arrives; frees the slot", "referrals", json!([path_id()]), None, ("200", "The referral"))},
        "/indicators/referrals": {"get": op("Cloud-management figures (DOMAIN.md §3): referrals up and down by month and sending institution, share returned to grassroots, hours from referral to visit, reserved-slot use", "indicators", json!([
            query("scope", "city | district:<code> | institution:<id> (either end of the referral; default: your own)", scope()),
            query("from", "YYYY-MM-DD (default: 1 January this year)", date()), query("to", "YYYY-MM-DD (default: 31 December this year)", date())]), None, ("200", "{referrals_up, referrals_down, by_month, by_institution, returned_to_grassroots, time_to_visit, reserved_slots}"))},
        "/indicators/referrals/patients": {"get": op("The patients behind a referral figure, one line per referral (de-identified for officers unless break-the-glass)", "indicators", with_paging(vec![
            query("scope", "As for /indicators/referrals", scope()), query("from", "YYYY-MM-DD", date()), query("to", "YYYY-MM-DD", date()),
            query("measure", "up (default) | down | reached | returned", one_of(&["up", "down", "reached", "returned"])), query("break_glass_reason", "Officers: show names (audited per patient)", text(200))]), None, ("200", "{items, next_cursor, identified}"))},
        "/residents/{id}/consultations": {
            "get": op("A resident's remote consultations with their opinions and files (audited)", "consultations", with_paging(vec![path_id()]), None, ("200", "{items, next_cursor}")),
            "post": op("Ask an upper hospital's department (optionally a specialist) for an opinion: question, files (base64, ≤ 512 KiB each, ≤ 5, body ≤ 1 MiB), video time; opens the hospital's access while the consultation is open", "consultations", json!([path_id()]), Some("Consultation"), ("201", "The consultation")),
        },
        "/consultations": {"get": op("Your institution's consultations: inbox (asked of it, open) or sent", "consultations", with_paging(vec![query("box", "inbox (default) | sent", one_of(&["inbox", "sent"]))]), None, ("200", "{items, next_cursor}"))},
        "/consultations/{id}": {"get": op("A consultation (consulted hospital, or the requesting side's carers; audited)", "consultations", json!([path_id()]), None, ("200", "The consultation"))},
        "/consultations/{id}/answer": {"post": op("The consulted hospital's clinician gives (or revises) the opinion", "consultations", json!([path_id()]), Some("ConsultationAnswer"), ("200", "The consultation"))},
        "/consultations/{id}/close": {"post": op("Close an answered consultation; the hospital's access ends", "consultations", json!([path_id()]), None, ("200", "The consultation"))},
        "/consultations/{id}/cancel": {"post": op("The requesting side withdraws an unanswered consultation", "consultations", json!([path_id()]), None, ("200", "The consultation"))},
        "/consultations/{id}/files/{file}": {"get": op("One attached file (audited)", "consultations", json!([path_id(), {"name": "file", "in": "path", "required": true, "schema": id()}]), None, ("200", "The file's bytes"))},
        "/residents/{id}/patient-account": {"post": op("Open the resident's own sign-in (by someone who may write the record); 409 account_exists, username_taken", "patients", json!([path_id()]), Some("TokenRequest"), ("201", "{id, resident_id, username}"))},
        "/patient/token": {"post": public(op("A resident signs in with their own account (slowed, then locked after 5 failures); the token works on /patient/* only", "patients", json!([]), Some("TokenRequest"), ("200", "{access_token, token_type, expires_in}")))},
        "/patient/me": {"get": op("The signed-in resident", "patients", json!([]), None, ("200", "{resident_id, username}"))},
        "/patient/schedules": {"get": op("Clinics with places open to the public (public slots and released reserved ones)", "patients", with_paging(vec![query("institution", "Hospital id", id()), query("department", "Department id", id()), query("from", "YYYY-MM-DD (default today)", date()), query("to", "YYYY-MM-DD (default from + 14 days)", date())]), None, ("200", "{items, next_cursor}"))},
        "/patient/bookings": {
            "get": op("The resident's own bookings, newest first (audited)", "patients", with_paging(vec![]), None, ("200", "{items, next_cursor}")),
            "post": op("Book a public place for oneself; 409 no_slot_left, already_booked_that_day", "patients", json!([]), Some("PatientBooking"), ("201", "The booking")),
        },
        "/patient/bookings/{id}/cancel": {"post": op("Cancel one's own booking before the slot starts", "patients", json!([path_id()]), None, ("200", "The booking"))},
        "/patient/readings": {"post": op("Upload a home reading one took of oneself (201 new, 200 already uploaded); an urgent value alerts the care team", "patients", json!([]), Some("Reading"), ("201", "{status, id, alert_id}"))},
        "/residents/{id}/access-log": {"get": op("Who touched this record (audit trail, newest first)", "residents", with_paging(vec![path_id()]), None, ("200", "{items, next_cursor}"))},
    });
    if let (Some(all), Value::Object(more)) = (all.as_object_mut(), pharmacy_paths()) {
        all.extend(more);
    }
    all
}

/// The refusals an operation can meet, by what it is: every one can meet the edge's
/// (a malformed path, a missing token, access, an unknown record, the time-out, an
/// internal error); what takes a query can be invalid; a `POST` or `PUT` can
/// conflict, be too large or invalid, and a `POST` carries an `Idempotency-Key`
/// (a repeat still being answered is 409, the key reused for another request 422);
/// a body must be JSON (415); sign-in can be locked (429).
fn complete(paths: &mut Value) {
    let idempotency_key = json!({"name": "Idempotency-Key", "in": "header", "required": false,
        "description": "Makes the POST run once: a repeat with the same key and request gets the first answer (Idempotent-Replayed: true) for 24 h; visible ASCII, at most 255 characters",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}});
    for (path, ops) in paths.as_object_mut().into_iter().flatten() {
        // a year or a month in the path is checked by the app (422 out of range)
        let dated = path.contains("{year}") || path.contains("{month}");
        for (method, o) in ops.as_object_mut().into_iter().flatten() {
            // a read that names a conflict in its summary can meet it
            let conflicts = o["summary"].as_str().is_some_and(|t| t.contains("409"));
            let public = o.get("security").is_some_and(|s| s == &json!([]));
            let body = o.get("requestBody").is_some();
            let queried = o["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            let writes = method == "post" || method == "put" || method == "delete";
            let mut refusals = vec![
                ("400", "Malformed path, query, body or Idempotency-Key"),
                ("408", "Not answered within the request time-out"),
                ("500", "Internal error: an incident id to quote"),
            ];
            if public {
                refusals.push(("401", "Wrong username or password"));
                refusals.push(("429", "Locked after repeated failures; see Retry-After"));
            } else {
                refusals.extend([
                    ("401", "Not signed in, or the token is not valid"),
                    ("403", "Not allowed, break-the-glass required, or a write by cookie without X-CSRF-Token"),
                    ("404", "No such record"),
                ]);
            }
            if queried || writes || dated {
                refusals.push(("422", "Invalid input: every problem listed (or an Idempotency-Key reused for another request)"));
            }
            if writes || conflicts {
                refusals.push(("409", "Conflicts with a record's state, or the same Idempotency-Key is still being answered"));
                refusals.push(("413", "Body over the size limit"));
            }
            if body {
                refusals.push((
                    "415",
                    "The body is not JSON (Content-Type: application/json)",
                ));
            }
            let responses = o["responses"].as_object_mut().expect("responses");
            for (status, description) in refusals {
                responses
                    .entry(status)
                    .or_insert_with(|| error_response(description));
            }
            if method == "post" && !public {
                let params = o["parameters"].as_array_mut();
                match params {
                    Some(params) => params.push(idempotency_key.clone()),
                    None => o["parameters"] = json!([idempotency_key.clone()]),
                }
            }
        }
    }
}

/// Integers the handlers read as 64-bit ids get the bounds of one, wherever a schema
/// left them open (a larger number is refused as malformed JSON).
fn bound_integers(schema: &mut Value) {
    match schema {
        Value::Object(o) => {
            if o.get("type").is_some_and(|t| t == "integer") {
                o.entry("minimum").or_insert(json!(i64::MIN));
                o.entry("maximum").or_insert(json!(i64::MAX));
            }
            o.values_mut().for_each(bound_integers);
        }
        Value::Array(items) => items.iter_mut().for_each(bound_integers),
        _ => {}
    }
}

/// The OpenAPI document. Paths are relative to the server URL `/api/v1`.
pub(crate) fn document() -> Value {
    let glass = query(
        "break_glass_reason",
        "Reason for break-the-glass access (audited)",
        text(200),
    );
    let mut paths = paths(glass);
    // A reading uploaded again is answered 200 with the first one's id.
    for path in ["/residents/{id}/readings", "/patient/readings"] {
        paths[path]["post"]["responses"]["200"] = json!({"description": "Already uploaded: {status, id}", "content": {"application/json": {"schema": {"type": "object"}}}});
    }
    complete(&mut paths);
    let mut schemas = schemas();
    bound_integers(&mut schemas);
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Gongti (共体) API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Regional digital health community. Send `Authorization: Bearer <token>` from POST /auth/token. Every refusal is {code, message, message_en, problems}: 400 for what this document forbids (a malformed path, query or body; an empty query parameter — leave it out instead), 422 for what is well-formed but invalid in meaning (every problem listed). A method a path does not take is 405 with Allow. Each POST takes an Idempotency-Key.",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "security": [{"bearer": []}],
        "paths": paths,
    })
}

/// One operation of the document: its path, method and description.
type Operation = (String, String, Value);

/// A tag's heading on the docs page: Chinese and English.
fn tag_label(tag: &str) -> (&'static str, &str) {
    let zh = match tag {
        "auth" => "登录与令牌",
        "residents" => "居民档案",
        "region" => "区域、机构与人员",
        "chronic" => "慢病管理",
        "screening" => "筛查",
        "readings" => "家庭自测",
        "worklists" => "工作清单",
        "indicators" => "绩效指标",
        "referrals" => "双向转诊",
        "scheduling" => "排班与号源",
        "patients" => "居民自助",
        "consultations" => "远程会诊",
        "contracts" => "家庭医生签约",
        "lab" => "检验结果",
        "export" => "批量导出",
        "import" => "批量导入",
        "pharmacy" => "云药房",
        "insurance" => "医保结算",
        _ => "",
    };
    (zh, tag)
}

/// A readable page of the API, rendered from the document on the server: operations
/// grouped by tag under a sidebar of the tags; no scripts, no CDN, works offline.
pub(crate) fn docs_page() -> String {
    let doc = document();
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    // Operations by tag, in the order tags first appear.
    let mut groups: Vec<(String, Vec<Operation>)> = Vec::new();
    for (path, ops) in &paths {
        for (method, o) in ops.as_object().into_iter().flatten() {
            let tag = o["tags"][0].as_str().unwrap_or("other").to_owned();
            let entry = (path.clone(), method.clone(), o.clone());
            match groups.iter_mut().find(|(t, _)| *t == tag) {
                Some((_, list)) => list.push(entry),
                None => groups.push((tag, vec![entry])),
            }
        }
    }
    // The tags in the order a reader meets the work; any other after them.
    const ORDER: [&str; 18] = [
        "auth",
        "residents",
        "region",
        "contracts",
        "chronic",
        "screening",
        "readings",
        "worklists",
        "indicators",
        "referrals",
        "scheduling",
        "consultations",
        "pharmacy",
        "insurance",
        "patients",
        "lab",
        "export",
        "import",
    ];
    groups.sort_by_key(|(tag, _)| ORDER.iter().position(|t| t == tag).unwrap_or(ORDER.len()));
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "共体 API 文档 · Gongti API" }
                style { (maud::PreEscaped(crate::console::CSS)) }
            }
            body.docs {
                nav.docs-side aria-label="API" {
                    p { strong { "共体 API" } " " small { (doc["info"]["version"].as_str().unwrap_or("")) } }
                    ul {
                        @for (tag, ops) in &groups {
                            @let (zh, en) = tag_label(tag);
                            li { a href=(format!("#tag-{tag}")) { @if !zh.is_empty() { (zh) " " } span.muted { (en) } } " " small.muted { "(" (ops.len()) ")" } }
                        }
                    }
                    p { a href="/api/v1/openapi.json" { "openapi.json" } }
                }
                main.docs {
                    h1 { "共体 API · Gongti API " small { (doc["info"]["version"].as_str().unwrap_or("")) } }
                    p { (doc["info"]["description"].as_str().unwrap_or("")) }
                    @for (tag, ops) in &groups {
                        @let (zh, en) = tag_label(tag);
                        section.tag id=(format!("tag-{tag}")) {
                            h2 { @if !zh.is_empty() { (zh) " · " } (en) }
                            @for (path, method, o) in ops {
                                section.op {
                                    h3 { code { (method.to_uppercase()) " /api/v1" (path) } }
                                    p { (o["summary"].as_str().unwrap_or("")) }
                                    @if let Some(params) = o["parameters"].as_array().filter(|p| !p.is_empty()) {
                                        table {
                                            tr { th { "参数 Parameter" } th { "位置 In" } th { "说明 Description" } }
                                            @for p in params {
                                                tr { td { code { (p["name"].as_str().unwrap_or("")) } } td { (p["in"].as_str().unwrap_or("")) } td { (p["description"].as_str().unwrap_or("")) } }
                                            }
                                        }
                                    }
                                    @if let Some(schema) = o["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() {
                                        p { "请求体 Body: " code { (schema.rsplit('/').next().unwrap_or("")) } }
                                    }
                                    p.responses {
                                        @for (status, r) in o["responses"].as_object().into_iter().flatten() {
                                            span { code { (status) } " " (r["description"].as_str().unwrap_or("")) } " · "
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    .into_string()
}
