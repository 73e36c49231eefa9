//! Every write use case, once, on both engines: each answers only after its audit
//! record is in the chain (nothing left in the outbox), each leaves the record it
//! should, and afterwards `audit verify` finds every record row named by the record
//! of the write that created it.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{PASSWORD, Reply, TestApp, id_number_born};

/// The write use cases, by the action of the record each leaves (a successful one).
const WRITE_ACTIONS: &[&str] = &[
    "auth.sign_in",
    "auth.sign_out",
    "resident.create",
    "resident.update",
    "resident.merge",
    "contract.sign",
    "contract.renew",
    "contract.switch",
    "contract.terminate",
    "chronic.enrol",
    "chronic.risk_factors",
    "followup.create",
    "chronic.end",
    "reading.upload",
    "alert.acknowledge",
    "screening.record",
    "screening.profile",
    "schedule.policy",
    "schedule.publish",
    "schedule.capacity",
    "schedule.cancel",
    "booking.create",
    "booking.reschedule",
    "booking.cancel",
    "booking.check_in",
    "booking.no_show",
    "referral.create",
    "referral.accept",
    "referral.reject",
    "referral.arrive",
    "referral.see",
    "referral.return",
    "referral.cancel",
    "consultation.create",
    "consultation.answer",
    "consultation.close",
    "consultation.cancel",
    "patient_account.open",
    "patient.sign_in",
    "patient.book",
    "patient.cancel",
    "patient.sign_out",
    "institution.create",
    "staff.create",
    "department.create",
    "team.create",
    "user.create",
    "user.set_password",
    "user.change_password",
    "indicators.rebuild",
];

/// Runs one write and checks that its record reached the chain before the answer.
async fn write(t: &TestApp, what: &str, reply: Reply, want: StatusCode) -> Value {
    assert_eq!(reply.status, want, "{what}: {}", reply.text);
    assert_eq!(
        t.store.audit_outbox_waiting().await.unwrap(),
        0,
        "{what}: answered before its audit record was in the chain"
    );
    if reply.text.is_empty() {
        Value::Null
    } else {
        reply.json()
    }
}

async fn post(t: &TestApp, path: impl AsRef<str>, token: &str, body: Value) -> Reply {
    t.post(path.as_ref(), token, body).await
}

async fn send(t: &TestApp, method: &str, path: impl AsRef<str>, token: &str, body: Value) -> Reply {
    t.send_json(method, path.as_ref(), token, body.to_string())
        .await
}

/// A POST and its write's check ([`write`]).
async fn posted(
    t: &TestApp,
    what: &str,
    path: impl AsRef<str>,
    token: &str,
    body: Value,
    want: StatusCode,
) -> Value {
    write(t, what, post(t, path, token, body).await, want).await
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id: {v}"))
}

async fn publish(t: &TestApp, admin: &str, days_ahead: i64, slots: u32) -> i64 {
    let day = (t.app.today() + time::Duration::days(days_ahead)).to_string();
    let r = t
        .post(
            "/api/v1/schedules",
            admin,
            json!({"department_id": t.cardio, "clinic_name": "高血压门诊", "day": day, "session": "pm", "slot_count": slots}),
        )
        .await;
    id(&write(t, "schedule.publish", r, StatusCode::CREATED).await)
}

async fn resident(t: &TestApp, doctor: &str, sequence: u32) -> i64 {
    let r = t
        .post(
            "/api/v1/residents",
            doctor,
            json!({"name": format!("审计{sequence}"), "id_number": id_number_born("19520202", sequence)}),
        )
        .await;
    id(&write(t, "resident.create", r, StatusCode::CREATED).await)
}

#[tokio::test]
async fn every_write_commits_with_its_audit_record() {
    for t in TestApp::all().await {
        let doctor = t.token("doctor").await;
        let specialist = t.token("specialist").await;
        let admin = t.token("hospadmin").await;
        let city_admin = t.token("admin").await;
        // Residents.
        let a = resident(&t, &doctor, 1).await;
        let b = resident(&t, &doctor, 3).await;
        let dup = resident(&t, &doctor, 5).await;
        let r = send(
            &t,
            "PUT",
            format!("/api/v1/residents/{b}"),
            &doctor,
            json!({"name": "审计三改", "id_number": id_number_born("19520202", 3), "phone": "13900001111"}),
        )
        .await;
        write(&t, "resident.update", r, StatusCode::OK).await;
        posted(
            &t,
            "resident.merge",
            format!("/api/v1/residents/{b}/merge"),
            &t.token("instadmin").await,
            json!({"merged_id": dup, "reason": "同一人重复建档"}),
            StatusCode::NO_CONTENT,
        )
        .await;

        // Contracts: sign, switch to a second team, terminate, sign again.
        let second_team = t
            .store
            .insert_team(
                &gongti_store::NewTeam {
                    institution_id: t.home,
                    name: "第二团队".into(),
                    doctor_staff_id: t
                        .app
                        .store()
                        .user_by_username("doctor")
                        .await
                        .unwrap()
                        .unwrap()
                        .staff_id,
                    nurse_staff_id: t
                        .app
                        .store()
                        .user_by_username("nurse")
                        .await
                        .unwrap()
                        .unwrap()
                        .staff_id,
                    public_health_staff_id: t
                        .app
                        .store()
                        .user_by_username("doctor")
                        .await
                        .unwrap()
                        .unwrap()
                        .staff_id,
                },
                1,
                &[],
            )
            .await
            .unwrap()
            .id;
        // Contracts: signed for three residents; one terminated at once, the others
        // renewed and switched near the end of their term (below).
        let contracts = |resident: i64| format!("/api/v1/residents/{resident}/contracts");
        for resident in [a, b, t.home_resident] {
            posted(
                &t,
                "contract.sign",
                contracts(resident),
                &doctor,
                json!({"team_id": t.team, "resident_consent": true}),
                StatusCode::CREATED,
            )
            .await;
        }
        posted(
            &t,
            "contract.terminate",
            format!("{}/terminate", contracts(t.home_resident)),
            &doctor,
            json!({"reason": "迁出"}),
            StatusCode::NO_CONTENT,
        )
        .await;

        // Chronic care.
        posted(
            &t,
            "chronic.enrol",
            format!("/api/v1/residents/{a}/enrolments"),
            &doctor,
            json!({"icd10": "I10", "diagnosed_on": "2019-05-01"}),
            StatusCode::CREATED,
        )
        .await;
        let r = send(
            &t,
            "PUT",
            format!("/api/v1/residents/{a}/enrolments/hypertension/risk-factors"),
            &doctor,
            json!({"cvd": true}),
        )
        .await;
        write(&t, "chronic.risk_factors", r, StatusCode::OK).await;
        let today = t.app.today().to_string();
        let followup = id(&posted(
            &t,
            "followup.create",
            format!("/api/v1/residents/{a}/followups"),
            &doctor,
            json!({"disease": "hypertension", "method": "clinic", "visit_on": today,
                   "sbp_mmhg": 185, "dbp_mmhg": 100}),
            StatusCode::CREATED,
        )
        .await);
        posted(
            &t,
            "chronic.enrol",
            format!("/api/v1/residents/{b}/enrolments"),
            &doctor,
            json!({"icd10": "E11.9", "diagnosed_on": "2019-05-01"}),
            StatusCode::CREATED,
        )
        .await;
        posted(
            &t,
            "chronic.end",
            format!("/api/v1/residents/{b}/enrolments/diabetes/end"),
            &doctor,
            json!({"ended_on": today, "reason": "moved_away"}),
            StatusCode::OK,
        )
        .await;

        // Home readings (one urgent: an alert) and its acknowledgement.
        let taken = (t.app.now() - time::Duration::hours(1))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        posted(&t, "reading.upload", "/api/v1/readings/batch",
            &doctor,
            json!({"readings": [
                {"resident_id": a, "client_reading_id": "w-1", "kind": "bp", "taken_at": taken, "sbp_mmhg": 128, "dbp_mmhg": 80},
                {"resident_id": a, "client_reading_id": "w-2", "kind": "bp", "taken_at": taken, "sbp_mmhg": 192, "dbp_mmhg": 116}
            ]}), StatusCode::OK).await;
        let alerts = t.get("/api/v1/worklists/alerts", &doctor).await.json();
        let alert = alerts["items"][0]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{alerts}"));
        posted(
            &t,
            "alert.acknowledge",
            format!("/api/v1/alerts/{alert}/acknowledge"),
            &doctor,
            json!({}),
            StatusCode::NO_CONTENT,
        )
        .await;

        // Screening.
        posted(
            &t,
            "screening.record",
            format!("/api/v1/residents/{b}/screening/bp"),
            &doctor,
            json!({"measured_on": today, "sbp_mmhg": 136, "dbp_mmhg": 86}),
            StatusCode::CREATED,
        )
        .await;
        let r = send(
            &t,
            "PUT",
            format!("/api/v1/residents/{b}/screening/profile"),
            &doctor,
            json!({"waist_cm": 95, "family_history": true}),
        )
        .await;
        write(&t, "screening.profile", r, StatusCode::OK).await;

        // Schedules and bookings.
        let r = send(
            &t,
            "PUT",
            "/api/v1/reserve-policy",
            &admin,
            json!({"department_id": t.cardio, "reserved_percent": 20, "release_days": 2}),
        )
        .await;
        write(&t, "schedule.policy", r, StatusCode::NO_CONTENT).await;
        let near = publish(&t, &admin, 1, 10).await;
        let later = publish(&t, &admin, 4, 10).await;
        let doomed = publish(&t, &admin, 5, 10).await;
        let r = send(
            &t,
            "PUT",
            format!("/api/v1/schedules/{later}/capacity"),
            &admin,
            json!({"slot_count": 12}),
        )
        .await;
        write(&t, "schedule.capacity", r, StatusCode::OK).await;
        let book = |schedule: i64, resident: i64| {
            post(
                &t,
                "/api/v1/bookings",
                &admin,
                json!({"schedule_id": schedule, "resident_id": resident, "pool": "public"}),
            )
        };
        let booked = id(&write(
            &t,
            "booking.create",
            book(later, b).await,
            StatusCode::CREATED,
        )
        .await);
        let moved = id(&posted(
            &t,
            "booking.reschedule",
            format!("/api/v1/bookings/{booked}/reschedule"),
            &admin,
            json!({"schedule_id": near}),
            StatusCode::CREATED,
        )
        .await);
        posted(
            &t,
            "booking.cancel",
            format!("/api/v1/bookings/{moved}/cancel"),
            &admin,
            json!({}),
            StatusCode::OK,
        )
        .await;
        let to_check_in = id(&write(
            &t,
            "booking.create",
            book(near, b).await,
            StatusCode::CREATED,
        )
        .await);
        let no_show = id(&write(
            &t,
            "booking.create",
            book(near, t.home_resident).await,
            StatusCode::CREATED,
        )
        .await);
        write(
            &t,
            "booking.create",
            book(doomed, t.home_resident).await,
            StatusCode::CREATED,
        )
        .await;
        posted(
            &t,
            "schedule.cancel",
            format!("/api/v1/schedules/{doomed}/cancel"),
            &admin,
            json!({"reason": "专家外出"}),
            StatusCode::OK,
        )
        .await;

        // Referral up and back down; one rejected, one cancelled by the sender.
        let referral = id(&posted(
            &t,
            "referral.create",
            format!("/api/v1/residents/{a}/referrals"),
            &doctor,
            json!({"source": "followup", "followup_id": followup, "urgency": "routine"}),
            StatusCode::CREATED,
        )
        .await);
        for (step, body) in [
            ("accept", json!({})),
            ("arrive", json!({})),
            ("see", json!({})),
            ("return", json!({"plan": "继续氨氯地平，两周后社区随访"})),
        ] {
            posted(
                &t,
                step,
                format!("/api/v1/referrals/{referral}/{step}"),
                &specialist,
                body,
                StatusCode::OK,
            )
            .await;
        }
        for (step, token, body) in [
            (
                "reject",
                &specialist,
                json!({"reason": "建议先在社区调整用药"}),
            ),
            ("cancel", &doctor, json!({})),
        ] {
            let other = id(&posted(&t, "referral.create", format!("/api/v1/residents/{a}/referrals"),
                &doctor,
                json!({"source": "manual", "disease": "hypertension", "urgency": "emergency", "reason": "胸痛"}), StatusCode::CREATED).await);
            posted(
                &t,
                step,
                format!("/api/v1/referrals/{other}/{step}"),
                token,
                body,
                StatusCode::OK,
            )
            .await;
        }

        // Remote consultations: one answered and closed, one cancelled.
        let video = (t.app.now() + time::Duration::days(2))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let ask = || {
            post(
                &t,
                format!("/api/v1/residents/{a}/consultations"),
                &doctor,
                json!({"department_id": t.cardio, "question": "是否需调整降压方案？", "video_at": video}),
            )
        };
        let answered =
            id(&write(&t, "consultation.create", ask().await, StatusCode::CREATED).await);
        posted(
            &t,
            "consultation.answer",
            format!("/api/v1/consultations/{answered}/answer"),
            &specialist,
            json!({"opinion": "加用β受体阻滞剂"}),
            StatusCode::OK,
        )
        .await;
        posted(
            &t,
            "consultation.close",
            format!("/api/v1/consultations/{answered}/close"),
            &doctor,
            json!({}),
            StatusCode::OK,
        )
        .await;
        let cancelled =
            id(&write(&t, "consultation.create", ask().await, StatusCode::CREATED).await);
        posted(
            &t,
            "consultation.cancel",
            format!("/api/v1/consultations/{cancelled}/cancel"),
            &doctor,
            json!({}),
            StatusCode::OK,
        )
        .await;

        // The resident's own account.
        posted(
            &t,
            "patient_account.open",
            format!("/api/v1/residents/{}/patient-account", t.home_resident),
            &doctor,
            json!({"username": "audit.patient", "password": "her-own-pass-1"}),
            StatusCode::CREATED,
        )
        .await;
        let r = post(
            &t,
            "/api/v1/patient/token",
            "",
            json!({"username": "audit.patient", "password": "her-own-pass-1"}),
        )
        .await;
        let me = write(&t, "patient.sign_in", r, StatusCode::OK).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let mine = id(&posted(
            &t,
            "patient.book",
            "/api/v1/patient/bookings",
            &me,
            json!({"schedule_id": later}),
            StatusCode::CREATED,
        )
        .await);
        posted(
            &t,
            "patient.cancel",
            format!("/api/v1/patient/bookings/{mine}/cancel"),
            &me,
            json!({}),
            StatusCode::OK,
        )
        .await;
        // A home reading of her own (the staff upload is "reading.upload" too).
        posted(
            &t,
            "reading.upload",
            "/api/v1/patient/readings".to_owned(),
            &me,
            json!({"client_reading_id": "own-1", "kind": "bp", "sbp_mmhg": 128, "dbp_mmhg": 82,
                   "taken_at": (t.app.now() - time::Duration::minutes(2)).format(&time::format_description::well_known::Rfc3339).unwrap()}),
            StatusCode::CREATED,
        )
        .await;
        // (Residents sign out in the console; the use case directly.)
        let p = t.app.authenticate_patient(&me, None).await.unwrap();
        t.app.patient_sign_out(&p, &me).await.unwrap();
        assert_eq!(t.store.audit_outbox_waiting().await.unwrap(), 0);

        // Sign-in: a wrong password is a write too (the failure count).
        write(
            &t,
            "auth.sign_in",
            t.sign_in("nurse", "wrong-password-1").await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        let nurse = t.token("nurse").await;
        let r = send(&t, "DELETE", "/api/v1/auth/token", &nurse, json!({})).await;
        write(&t, "auth.sign_out", r, StatusCode::NO_CONTENT).await;

        // The registry and accounts, through the application.
        let session = t.app.authenticate(&city_admin).await.unwrap();
        let ctx = gongti_app::Ctx {
            principal: session.principal,
            request_id: None,
        };
        let institution = t
            .app
            .create_institution(
                &ctx,
                &gongti_store::NewInstitution {
                    code: "AUDIT1".into(),
                    name: "审计测试卫生院".into(),
                    kind: gongti_core::region::InstitutionKind::TownshipHealthCentre,
                    district_code: "120101".into(),
                    upper_institution_id: Some(t.hospital),
                },
            )
            .await
            .unwrap();
        assert_eq!(t.store.audit_outbox_waiting().await.unwrap(), 0);
        let staff = t
            .app
            .create_staff(
                &ctx,
                &gongti_store::NewStaff {
                    name: "审计医生".into(),
                    role: gongti_core::role::Role::FamilyDoctor,
                    institution_id: Some(institution.id),
                    district_code: None,
                    department_id: None,
                    licence_number: None,
                    title: None,
                    practice_years: 1,
                },
            )
            .await
            .unwrap();
        t.app
            .create_department(&ctx, institution.id, "gp", "全科")
            .await
            .unwrap();
        assert_eq!(t.store.audit_outbox_waiting().await.unwrap(), 0);
        let mut seats = Vec::new();
        for (name, role) in [
            ("审计护士", gongti_core::role::Role::Nurse),
            ("审计公卫", gongti_core::role::Role::PublicHealthDoctor),
        ] {
            let member = t
                .app
                .create_staff(
                    &ctx,
                    &gongti_store::NewStaff {
                        name: name.into(),
                        role,
                        institution_id: Some(institution.id),
                        district_code: None,
                        department_id: None,
                        licence_number: None,
                        title: None,
                        practice_years: 1,
                    },
                )
                .await
                .unwrap();
            seats.push(member.id);
        }
        t.app
            .create_team(
                &ctx,
                &gongti_store::NewTeam {
                    institution_id: institution.id,
                    name: "审计团队".into(),
                    doctor_staff_id: staff.id,
                    nurse_staff_id: seats[0],
                    public_health_staff_id: seats[1],
                },
            )
            .await
            .unwrap();
        assert_eq!(t.store.audit_outbox_waiting().await.unwrap(), 0);
        t.app
            .create_user("audit.doctor", PASSWORD, staff.id)
            .await
            .unwrap();
        t.app
            .set_password("audit.doctor", "another-pass-2")
            .await
            .unwrap();
        // (Staff change their own password in the console; the use case directly.)
        let own = t.sign_in("audit.doctor", "another-pass-2").await.json();
        let session = t
            .app
            .authenticate(own["access_token"].as_str().unwrap())
            .await
            .unwrap();
        let ctx = gongti_app::Ctx {
            principal: session.principal,
            request_id: None,
        };
        t.app
            .change_own_password(
                &ctx,
                &gongti_app::auth::PasswordChange {
                    current: "another-pass-2",
                    new: "third-pass-33",
                    again: "third-pass-33",
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(t.store.audit_outbox_waiting().await.unwrap(), 0);
        // The figures kept by all these writes (registering, merging, contracts,
        // enrolments and their ending, follow-ups, readings) are those the records
        // give, 签约率 included.
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert!(!fresh.coverage.is_empty());
        assert_eq!(fresh, stored, "{:?}", t.engine());
        t.app.recompute_indicators(true).await.unwrap();
        assert_eq!(t.store.audit_outbox_waiting().await.unwrap(), 0);

        // Check-in on the day, and a no-show once the slot has passed; a renewal near
        // the end of the term.
        t.shift_clock(1);
        let admin = t.token("hospadmin").await;
        posted(
            &t,
            "booking.check_in",
            format!("/api/v1/bookings/{to_check_in}/check-in"),
            &admin,
            json!({}),
            StatusCode::OK,
        )
        .await;
        t.shift_clock(2);
        let admin = t.token("hospadmin").await;
        posted(
            &t,
            "booking.no_show",
            format!("/api/v1/bookings/{no_show}/no-show"),
            &admin,
            json!({}),
            StatusCode::OK,
        )
        .await;
        t.shift_clock(360);
        let doctor = t.token("doctor").await;
        posted(
            &t,
            "contract.renew",
            format!("{}/renew", contracts(a)),
            &doctor,
            json!({}),
            StatusCode::CREATED,
        )
        .await;
        posted(
            &t,
            "contract.switch",
            format!("{}/switch", contracts(b)),
            &doctor,
            json!({"team_id": second_team, "resident_consent": true}),
            StatusCode::CREATED,
        )
        .await;
        let (fresh, stored) = t.app.recompute_indicators(false).await.unwrap();
        assert_eq!(
            fresh,
            stored,
            "{:?}: after a renewal and a switch",
            t.engine()
        );
        t.shift_clock(0);

        // Every write use case left its record...
        let trail = t.store.audit_records(0, 10_000).await.unwrap().records;
        let done: BTreeSet<&str> = trail
            .iter()
            .filter(|r| {
                r.entry.outcome == gongti_core::audit::Outcome::Ok
                    || r.entry.action == "auth.sign_in"
            })
            .map(|r| r.entry.action.as_str())
            .collect();
        let missing: Vec<&&str> = WRITE_ACTIONS
            .iter()
            .filter(|a| !done.contains(**a))
            .collect();
        assert!(
            missing.is_empty(),
            "{:?}: no record of {missing:?}",
            t.engine()
        );
        // ...and every record row is named by the record of the write that created it
        // (the test's own region set-up excepted: it writes the store directly).
        let report = gongti_app::audit::verify(&t.store, &Default::default(), |_| {})
            .await
            .unwrap();
        assert!(report.broken.is_none(), "{report:?}");
        let uncovered: Vec<(&str, u64)> =
            report.uncovered.iter().map(|u| (u.table, u.rows)).collect();
        assert_eq!(
            uncovered,
            vec![("staff", 11), ("institutions", 3)],
            "{:?}: {report:?}",
            t.engine()
        );
    }
}
