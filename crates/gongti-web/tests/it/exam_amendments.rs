//! A double-signed report and its amendment (DOMAIN.md §8: emergency CT needs two
//! readers), on both engines: the writer may not sign their own draft, the second
//! signer signs it as written; once signed, an amendment is not one person's
//! signature — one reader drafts it beside the signed report (which the ordering
//! doctor keeps reading, in the console and in FHIR), it waits on the reading worklist,
//! and another reader signs it as drafted, in the console; every version is kept (the
//! drafts for the centre only), each signature goes out as an ORU, and each step is
//! audited.

use axum::http::StatusCode as S;
use serde_json::json;

use crate::console::{page, sign_in};
use crate::console_scheduling::{csrf_of, post_form};
use crate::support::TestApp;
use gongti_app::AppError;
use gongti_core::exam::orders::Category;
use gongti_core::exam::reading::{ReportStatus, ReportStep};

const FINDINGS: &str = "双侧大脑半球对称，脑实质内未见异常密度影。";
const IMPRESSION: &str = "头颅CT平扫未见明显异常";
const AMENDED_FINDINGS: &str = "复阅：左侧基底节区见片状高密度影，约12mm×8mm。";
const AMENDED_IMPRESSION: &str = "左侧基底节区脑出血";

fn conflict(r: &Result<gongti_store::ReportRecord, AppError>) -> &'static str {
    match r {
        Err(AppError::Conflict(code)) => code,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn a_double_signed_report_is_amended_by_one_reader_and_signed_by_another() {
    for t in TestApp::all().await {
        let ordered = crate::exam_worklist::order_at_centre(
            &t,
            Category::Imaging,
            "RAD01",
            "CT-HEAD",
            "stat",
        )
        .await;
        crate::exam_worklist::study_arrives(&t, &ordered, "CT").await;
        let (ct, a) = (&ordered.order, &ordered.reader);
        let b = &crate::exam_worklist::reader_named(&t, "reader2", "复核医生").await;
        let doctor = ordered.doctor.clone();
        let write = |who: &gongti_app::Ctx, step, findings: &str, impression: &str| {
            let (t, who, findings, impression) =
                (&t, who.clone(), findings.to_owned(), impression.to_owned());
            async move {
                t.app
                    .write_report(&who, ct.id, step, &findings, &impression, None)
                    .await
            }
        };
        // the amendment's text, drafted or signed, naming `finding`
        let amend = |who: &gongti_app::Ctx, step, finding: Option<&'static str>| {
            let (t, who) = (&t, who.clone());
            async move {
                t.app
                    .write_report(
                        &who,
                        ct.id,
                        step,
                        AMENDED_FINDINGS,
                        AMENDED_IMPRESSION,
                        finding,
                    )
                    .await
            }
        };
        // the critical values open for the ordering doctor
        let open_critical = || {
            let (t, token) = (&t, ordered.doctor_token.clone());
            async move {
                let r = t.get("/api/v1/worklists/critical-values", &token).await;
                r.json()["items"].as_array().unwrap().clone()
            }
        };

        // the first report: the writer does not sign it; the second signer signs it
        // as written
        let draft = write(a, ReportStep::Draft, FINDINGS, IMPRESSION)
            .await
            .unwrap();
        assert_eq!(draft.status, ReportStatus::Preliminary);
        let own = write(a, ReportStep::Sign, FINDINGS, IMPRESSION).await;
        assert_eq!(conflict(&own), "second_signer_required");
        let rewritten = write(b, ReportStep::Sign, FINDINGS, "另写的诊断").await;
        assert_eq!(conflict(&rewritten), "sign_as_drafted");
        let signed = write(b, ReportStep::Sign, FINDINGS, IMPRESSION)
            .await
            .unwrap();
        assert_eq!(
            (
                signed.status,
                signed.author_staff_id,
                signed.signer_staff_id,
                signed.version
            ),
            (
                ReportStatus::Final,
                a.principal.staff_id,
                Some(b.principal.staff_id),
                2
            )
        );
        assert!(t.app.reading_worklist(b).await.unwrap().is_empty());

        // an amendment is not one reader's signature, even the signer's
        for who in [a, b] {
            let at_once = write(who, ReportStep::Sign, AMENDED_FINDINGS, AMENDED_IMPRESSION).await;
            assert_eq!(conflict(&at_once), "amendment_draft_required");
        }
        assert_eq!(
            t.store.exam_report(ct.id).await.unwrap().unwrap().version,
            2,
            "nothing written"
        );

        // one reader drafts it, naming a critical finding: the ordering institution is
        // told at once, but the signed report stands for the doctor
        let drafted = amend(a, ReportStep::Draft, Some("IMG-ICH")).await.unwrap();
        assert_eq!(
            (drafted.status, drafted.impression.as_str()),
            (ReportStatus::Final, IMPRESSION)
        );
        let pending = drafted.pending.as_ref().expect("the amendment waits");
        assert_eq!(
            (
                pending.impression.as_str(),
                pending.author_staff_id,
                pending.critical_code.as_deref()
            ),
            (AMENDED_IMPRESSION, a.principal.staff_id, Some("IMG-ICH"))
        );
        let critical = serde_json::Value::Array(open_critical().await);
        assert_eq!(
            critical[0]["value"], "颅内出血",
            "the doctor is told at once: {critical}"
        );
        let seen = t.app.exam_order_view(&doctor, ct.id).await.unwrap();
        let report = seen.report.expect("the signed report");
        assert_eq!(
            (report.impression.as_str(), report.pending.is_none()),
            (IMPRESSION, true)
        );
        assert_eq!(
            seen.report_versions
                .iter()
                .map(|v| v.status)
                .collect::<Vec<_>>(),
            [ReportStatus::Final],
            "the doctor reads signed versions only"
        );
        let doctor_session = sign_in(&t, "doctor").await;
        let doctors_page = page(
            &t,
            &doctor_session,
            &format!("/exam-orders/{}", ct.id),
            "zh",
        )
        .await;
        assert!(
            doctors_page.text.contains(IMPRESSION)
                && !doctors_page.text.contains(AMENDED_IMPRESSION)
                && doctors_page.text.contains("诊断医生正在修订本报告"),
            "the signed report, and that an amendment is coming: {}",
            doctors_page.text
        );
        let fhir = t
            .get(
                &format!("/fhir/DiagnosticReport/exam-{}", ct.id),
                &ordered.doctor_token,
            )
            .await
            .json();
        assert_eq!(
            (fhir["status"].as_str(), fhir["conclusion"].as_str()),
            (Some("final"), Some(IMPRESSION))
        );

        // a draft never renews or closes a critical value: another finding named in a
        // draft leaves the one told as it is (the signature settles it)
        for finding in [Some("IMG-INFARCT"), None, Some("IMG-ICH")] {
            amend(a, ReportStep::Draft, finding).await.unwrap();
            let open = serde_json::Value::Array(open_critical().await);
            assert_eq!(
                (open.as_array().unwrap().len(), &open[0]["value"]),
                (1, &json!("颅内出血")),
                "{finding:?}: {open}"
            );
        }
        // a draft withdrawn: the signed report stands, and the critical value the draft
        // opened (the signed report names none) is closed; drafted again, it is told again
        let withdrawn = t
            .app
            .write_report(a, ct.id, ReportStep::Withdraw, "", "", None)
            .await
            .unwrap();
        assert!(withdrawn.pending.is_none() && withdrawn.impression == IMPRESSION);
        let open = serde_json::Value::Array(open_critical().await);
        assert!(open.as_array().unwrap().is_empty(), "{open}");
        let again = t
            .app
            .write_report(a, ct.id, ReportStep::Withdraw, "", "", None)
            .await;
        assert_eq!(conflict(&again), "no_amendment_draft");
        amend(a, ReportStep::Draft, Some("IMG-ICH")).await.unwrap();
        let open = serde_json::Value::Array(open_critical().await);
        assert_eq!(open.as_array().unwrap().len(), 1, "{open}");

        // saving the draft unchanged is not writing it: its author stays the drafter
        let saved = amend(b, ReportStep::Draft, Some("IMG-ICH")).await.unwrap();
        assert_eq!(saved.pending.unwrap().author_staff_id, a.principal.staff_id);

        // it waits on the reading worklist; its writer may not sign it
        let waiting = t.app.reading_worklist(b).await.unwrap();
        assert_eq!(waiting.len(), 1);
        assert!(waiting[0].item.amendment_pending && waiting[0].item.order.id == ct.id);
        let signs_own = amend(a, ReportStep::Sign, Some("IMG-ICH")).await;
        assert_eq!(conflict(&signs_own), "second_signer_required");

        // in the console, the other reader finds it on the worklist, reads the draft
        // beside the signed report and signs it (a changed text is refused first)
        let session = sign_in(&t, "reader2").await;
        let list = page(&t, &session, "/reading", "zh").await;
        assert!(list.text.contains("修订待签发"), "{}", list.text);
        let order_page = page(&t, &session, &format!("/exam-orders/{}", ct.id), "zh").await;
        for shown in [
            "修订草稿（待签发）",
            AMENDED_IMPRESSION,
            IMPRESSION,
            "签发修订",
            "本检查须双人签发",
        ] {
            assert!(
                order_page.text.contains(shown),
                "{shown}: {}",
                order_page.text
            );
        }
        assert!(
            !order_page.text.contains("修订并签发") && order_page.text.contains("撤回修订草稿")
        );
        assert!(
            !order_page.text.contains("释放")
                && !order_page.text.contains("诊断医生正在修订本报告"),
            "no claim on a completed exam; the centre reads the draft itself"
        );
        let form = |impression: &str| {
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            format!(
                "csrf={}&findings={}&impression={}&critical=IMG-ICH&step=sign",
                csrf_of(&order_page.text),
                enc(AMENDED_FINDINGS),
                enc(impression)
            )
        };
        let path = format!("/exam-orders/{}/report", ct.id);
        // a page from before the amendment was drafted: refused, not written over
        let stale = form(AMENDED_IMPRESSION).replace("&step=sign", "&step=draft&version=2");
        let refused = post_form(&t, &session, &path, &stale).await;
        assert_eq!(refused.status, S::CONFLICT, "{}", refused.text);
        assert!(refused.text.contains("已被他人更新"), "{}", refused.text);
        let changed = post_form(&t, &session, &path, &form("另写的诊断")).await;
        assert_eq!(changed.status, S::CONFLICT, "{}", changed.text);
        assert!(
            changed.text.contains("第二签发人须按草稿原文签发"),
            "{}",
            changed.text
        );
        let done = post_form(&t, &session, &path, &form(AMENDED_IMPRESSION)).await;
        assert_eq!(done.status, S::SEE_OTHER, "{}", done.text);

        let amended = t.store.exam_report(ct.id).await.unwrap().unwrap();
        assert_eq!(
            (
                amended.status,
                amended.impression.as_str(),
                amended.author_staff_id,
                amended.signer_staff_id,
                amended.critical_code.as_deref(),
                amended.pending.is_none()
            ),
            (
                ReportStatus::Amended,
                AMENDED_IMPRESSION,
                a.principal.staff_id,
                Some(b.principal.staff_id),
                Some("IMG-ICH"),
                true
            )
        );
        assert!(t.app.reading_worklist(b).await.unwrap().is_empty());
        // every version kept: the centre reads the drafts too (six of the amendment; a
        // withdrawal keeps the drafts before it), the doctor the signed
        let statuses = |v: &[gongti_store::ReportVersionRecord]| {
            v.iter().map(|v| v.status).collect::<Vec<_>>()
        };
        let centre = t.app.exam_order_view(b, ct.id).await.unwrap();
        use ReportStatus::{Amended, Final, Preliminary};
        assert_eq!(
            statuses(&centre.report_versions),
            [
                Preliminary,
                Final,
                Preliminary,
                Preliminary,
                Preliminary,
                Preliminary,
                Preliminary,
                Preliminary,
                Amended
            ]
        );
        let doctors = t.app.exam_order_view(&doctor, ct.id).await.unwrap();
        assert_eq!(statuses(&doctors.report_versions), [Final, Amended]);
        assert_eq!(
            doctors.report.unwrap().impression,
            AMENDED_IMPRESSION,
            "the doctor reads the amendment once signed"
        );
        // each signature goes to the clinic's system as an ORU
        let out = t.store.hl7_out_of_order(ct.id).await.unwrap();
        assert_eq!(
            out.iter().map(|o| o.report_version).collect::<Vec<_>>(),
            [2, 10]
        );
        // still one critical value for the finding
        let critical = serde_json::Value::Array(open_critical().await);
        assert_eq!(critical.as_array().unwrap().len(), 1, "{critical}");

        // a draft left past the centre's access (30 days after completion) can no longer
        // be signed, but stays on the worklist until someone withdraws it
        t.app
            .write_report(
                a,
                ct.id,
                ReportStep::Draft,
                "再次复阅。",
                "再修订",
                Some("IMG-ICH"),
            )
            .await
            .unwrap();
        assert_eq!(t.app.reading_worklist(b).await.unwrap().len(), 1);
        t.shift_clock(31);
        let late = amend(b, ReportStep::Sign, Some("IMG-ICH")).await;
        assert!(late.is_err(), "past the centre's access: {late:?}");
        assert_eq!(
            t.app.reading_worklist(b).await.unwrap().len(),
            1,
            "still there to withdraw"
        );
        amend(b, ReportStep::Withdraw, None).await.unwrap();
        assert!(t.app.reading_worklist(b).await.unwrap().is_empty());
        t.shift_clock(0);

        let tail = t.audit_tail(60).await;
        let details = |action: &str| {
            tail.iter()
                .filter(|e| e.entry.action == action && e.entry.patient_id == Some(t.home_resident))
                .filter_map(|e| e.entry.detail.clone())
                .collect::<Vec<_>>()
        };
        assert!(
            details("exam.report.draft")
                .iter()
                .any(|d| d.contains("amendment-draft")),
            "{:?}",
            details("exam.report.draft")
        );
        assert!(
            details("exam.report.sign")
                .iter()
                .any(|d| d.contains("amended"))
        );
    }
}
