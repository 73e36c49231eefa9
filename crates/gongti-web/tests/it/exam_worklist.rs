//! The Modality Worklist with a real Orthanc and a real modality client (DOMAIN.md §8):
//! a doctor's chest X-ray order becomes a worklist file in the folder Orthanc's
//! worklist plugin answers from; dcmtk's `findscu -W`, as the clinic's DR would, gets
//! the order — accession number, the patient's name in Chinese, the pre-assigned study
//! UID, the modality and the clinic's AE title — and nothing of a laboratory order;
//! once the order is cancelled, its item leaves the worklist. Each file written is
//! audited. scripts/orthanc.sh starts the Orthanc (scripts/test.sh runs it; CI requires
//! it).

use gongti_core::exam::orders::{Category, OrderStep};

use crate::support::TestApp;

pub(crate) struct Orthanc {
    pub(crate) dicom: String,
    pub(crate) aet: String,
    pub(crate) worklists: std::path::PathBuf,
    pub(crate) url: String,
    pub(crate) user: String,
    pub(crate) password: String,
}

pub(crate) fn orthanc() -> Option<Orthanc> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("GONGTI_TEST_ORTHANC_DICOM"),
        var("GONGTI_TEST_ORTHANC_AET"),
        var("GONGTI_TEST_WORKLIST_DIR"),
        var("GONGTI_TEST_ORTHANC_URL"),
        var("GONGTI_TEST_ORTHANC_USER"),
        var("GONGTI_TEST_ORTHANC_PASSWORD"),
    ) {
        (Some(dicom), Some(aet), Some(dir), Some(url), Some(user), Some(password)) => {
            Some(Orthanc {
                dicom,
                aet,
                worklists: dir.into(),
                url,
                user,
                password,
            })
        }
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI requires an Orthanc (scripts/orthanc.sh)"
            );
            eprintln!(
                "SKIPPED the Orthanc test: GONGTI_TEST_ORTHANC_* is not set (scripts/orthanc.sh)"
            );
            None
        }
    }
}

/// Asks the worklist as the modality `station` would (C-FIND, UTF-8), for one
/// accession number; returns findscu's dump of the answers.
fn find_worklist(o: &Orthanc, station: &str, accession: &str, dir: &std::path::Path) -> String {
    find_worklist_as(o, station, station, accession, dir)
}

/// Asks the worklist as the modality `calling` for the items of `station` (`""`: any).
fn find_worklist_as(
    o: &Orthanc,
    calling: &str,
    station: &str,
    accession: &str,
    dir: &std::path::Path,
) -> String {
    let dump = dir.join("query.dump");
    let query = dir.join("query.dcm");
    std::fs::write(
        &dump,
        format!(
            "(0008,0005) CS [ISO_IR 192]\n(0008,0050) SH [{accession}]\n(0010,0010) PN []\n\
             (0010,0020) LO []\n(0020,000d) UI []\n(0032,1060) LO []\n(0040,0100) SQ\n\
             (fffe,e000) -\n(0008,0060) CS []\n(0040,0001) AE [{station}]\n(0040,0002) DA []\n\
             (fffe,e00d)\n(fffe,e0dd)\n"
        ),
    )
    .unwrap();
    let made = std::process::Command::new("dump2dcm")
        .arg(&dump)
        .arg(&query)
        .output()
        .expect("dcmtk's dump2dcm");
    assert!(made.status.success(), "{made:?}");
    let (host, port) = o.dicom.split_once(':').unwrap();
    let out = std::process::Command::new("findscu")
        .args(["-W", "-v", "-aet", calling, "-aec", &o.aet, host, port])
        .arg(&query)
        .output()
        .expect("dcmtk's findscu");
    assert!(out.status.success(), "{out:?}");
    // findscu logs the answers on stderr
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A diagnosing doctor of the test region's hospital, signed in.
pub(crate) async fn reader_ctx(t: &TestApp) -> gongti_app::Ctx {
    reader_named(t, "reader", "读片医生").await
}

/// Another diagnosing doctor of the test hospital, signed in as `username`.
pub(crate) async fn reader_named(t: &TestApp, username: &str, name: &str) -> gongti_app::Ctx {
    let staff = t
        .store
        .insert_staff(
            &gongti_store::NewStaff {
                name: name.into(),
                role: gongti_core::role::Role::ExamReader,
                institution_id: Some(t.hospital),
                district_code: Some("120101".into()),
                department_id: None,
                licence_number: Some(format!("L-{username}")),
                title: Some("主治医师".into()),
                practice_years: 6,
            },
            1,
            &[],
        )
        .await
        .unwrap();
    t.app
        .create_user(username, crate::support::PASSWORD, staff.id)
        .await
        .unwrap();
    let token = t.token(username).await;
    gongti_app::Ctx {
        principal: t.app.authenticate(&token).await.unwrap().principal,
        request_id: None,
    }
}

/// DICOMweb through Gongti with a Gongti token (QIDO-RS and WADO-RS on the real
/// Orthanc): the doctor who placed the order finds the study by patient, accession
/// number or UID — the PACS's URLs rewritten to Gongti's — and fetches its metadata,
/// series, a rendered instance and the whole study; a search naming nothing is
/// refused, another institution's doctor is refused, and no token gets nothing.
async fn dicomweb_through_gongti(
    t: &TestApp,
    router: &axum::Router,
    chest: &gongti_store::ExamOrderRecord,
) {
    use axum::http::StatusCode as S;
    let uid = chest.study_uid.as_deref().unwrap();
    let call = |token: Option<String>, path: String, accept: &'static str| async move {
        let mut request = axum::http::Request::get(path).header(axum::http::header::ACCEPT, accept);
        if let Some(token) = token {
            request = request.header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        crate::support::reply_of(router, request.body(axum::body::Body::empty()).unwrap()).await
    };
    let doctor = Some(t.token("doctor").await);
    let json = "application/dicom+json";
    let patient = format!("GT{:08}", t.home_resident);
    for query in [
        format!("PatientID={patient}&includefield=00081030"),
        format!(
            "AccessionNumber={}&includefield=00081030",
            chest.accession_number
        ),
        format!("StudyInstanceUID={uid}&includefield=00081030"),
        format!("00100020={patient}&ModalitiesInStudy=DX&includefield=00081030"),
    ] {
        let r = call(doctor.clone(), format!("/dicom-web/studies?{query}"), json).await;
        assert_eq!(r.status, S::OK, "{query}: {}", r.text);
        let found: serde_json::Value = serde_json::from_str(&r.text).unwrap();
        let found = found.as_array().unwrap();
        assert_eq!(found.len(), 1, "{query}: {}", r.text);
        assert_eq!(found[0]["0020000D"]["Value"][0], uid, "{query}");
        assert_eq!(
            found[0]["00080050"]["Value"][0],
            chest.accession_number.as_str()
        );
        let retrieve = found[0]["00081190"]["Value"][0].as_str().unwrap_or("");
        assert_eq!(
            retrieve,
            format!("http://localhost/dicom-web/studies/{uid}"),
            "{query}"
        );
    }
    let none = call(
        doctor.clone(),
        format!("/dicom-web/studies?PatientID={patient}&ModalitiesInStudy=CT"),
        json,
    )
    .await;
    assert_eq!(none.text.trim(), "[]", "another modality matches nothing");
    // a key that could name another study to the PACS is not passed on
    let sneaky = call(
        doctor.clone(),
        format!("/dicom-web/studies?PatientID={patient}&0020,000D=1.2.3"),
        json,
    )
    .await;
    assert_eq!(sneaky.status, S::BAD_REQUEST, "{}", sneaky.text);
    let everything = call(doctor.clone(), "/dicom-web/studies".into(), json).await;
    assert_eq!(everything.status, S::BAD_REQUEST, "{}", everything.text);
    let malformed = call(
        doctor.clone(),
        "/dicom-web/studies?PatientID=12345".into(),
        json,
    )
    .await;
    assert_eq!(malformed.status, S::BAD_REQUEST, "{}", malformed.text);

    let metadata = call(
        doctor.clone(),
        format!("/dicom-web/studies/{uid}/metadata"),
        json,
    )
    .await;
    assert_eq!(metadata.status, S::OK, "{}", metadata.text);
    assert!(metadata.text.contains(uid) && !metadata.text.contains("127.0.0.1"));
    let series = call(
        doctor.clone(),
        format!("/dicom-web/studies/{uid}/series"),
        json,
    )
    .await;
    assert_eq!(series.status, S::OK, "{}", series.text);
    let series: serde_json::Value = serde_json::from_str(&series.text).unwrap();
    let series_uid = series[0]["0020000E"]["Value"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let instances = call(
        doctor.clone(),
        format!("/dicom-web/studies/{uid}/series/{series_uid}/instances"),
        json,
    )
    .await;
    let instances: serde_json::Value = serde_json::from_str(&instances.text).unwrap();
    let instance_uid = instances[0]["00080018"]["Value"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let rendered = call(
        doctor.clone(),
        format!("/dicom-web/studies/{uid}/series/{series_uid}/instances/{instance_uid}/rendered"),
        "image/png",
    )
    .await;
    assert_eq!(rendered.status, S::OK, "{}", rendered.text);
    assert!(rendered.bytes.starts_with(b"\x89PNG"));
    let whole = call(
        doctor.clone(),
        format!("/dicom-web/studies/{uid}"),
        "multipart/related; type=\"application/dicom\"",
    )
    .await;
    assert_eq!(whole.status, S::OK);
    assert!(
        whole.bytes.windows(4).any(|w| w == b"DICM"),
        "a Part 10 file in the multipart answer"
    );
    let outside = call(
        doctor.clone(),
        format!("/dicom-web/studies/{uid}/../../../tools/find"),
        json,
    )
    .await;
    assert_eq!(outside.status, S::NOT_FOUND);

    let other = Some(t.token("other_doctor").await);
    for path in [
        format!("/dicom-web/studies?PatientID={patient}"),
        format!("/dicom-web/studies?StudyInstanceUID={uid}"),
        format!("/dicom-web/studies/{uid}/metadata"),
    ] {
        let r = call(other.clone(), path.clone(), json).await;
        assert_eq!(r.status, S::FORBIDDEN, "{path}: {}", r.text);
    }
    let anonymous = call(None, format!("/dicom-web/studies/{uid}/metadata"), json).await;
    assert_eq!(anonymous.status, S::UNAUTHORIZED);
}

/// Whether taking a study matched it to the order `order_id` (the PACS is shared by
/// the tests running beside this one).
pub(crate) fn mine(taken: &gongti_store::StudyTaken, order_id: i64) -> bool {
    matches!(taken, gongti_store::StudyTaken::Matched { order_id: o, .. } if *o == order_id)
}

/// A doctor's order at a centre of the test hospital, with the centre's reader.
pub(crate) struct Ordered {
    pub order: gongti_store::ExamOrderRecord,
    pub reader: gongti_app::Ctx,
    pub doctor: gongti_app::Ctx,
    pub doctor_token: String,
}

/// Makes the centre `code` of `kind` at the test hospital and its reader, and places
/// the family doctor's order of `item` there for the home resident.
pub(crate) async fn order_at_centre(
    t: &TestApp,
    kind: Category,
    code: &'static str,
    item: &'static str,
    priority: &'static str,
) -> Ordered {
    let now_us = gongti_app::unix_us(t.app.now());
    let centre = gongti_store::NewCentre {
        institution_id: t.hospital,
        kind,
        code,
        name: code,
        hr_scope: "",
        qc_valid_until: None,
    };
    let centre_id = t
        .store
        .insert_exam_centre(&centre, now_us, &[])
        .await
        .unwrap();
    let reader = reader_ctx(t).await;
    let doctor_token = t.token("doctor").await;
    let doctor = gongti_app::Ctx {
        principal: t.app.authenticate(&doctor_token).await.unwrap().principal,
        request_id: None,
    };
    let form = gongti_app::exam::orders::OrderForm {
        item,
        centre_id: Some(centre_id),
        priority,
        indication: "检查",
        reorder_reason: None,
        reorder_text: "",
    };
    let order = match t
        .app
        .place_exam_order(&doctor, t.home_resident, &form)
        .await
        .unwrap()
    {
        gongti_app::exam::orders::Placed::Order(o) => *o,
        other => panic!("{other:?}"),
    };
    Ordered {
        order,
        reader,
        doctor,
        doctor_token,
    }
}

/// The reader accepts and starts the order and its one-image study of `modality`
/// arrives as the PACS would announce it (no PACS needed).
pub(crate) async fn study_arrives(t: &TestApp, o: &Ordered, modality: &str) {
    for step in [OrderStep::Accept, OrderStep::Start] {
        t.app
            .exam_order_step(&o.reader, o.order.id, step)
            .await
            .unwrap();
    }
    let patient_id = gongti_core::exam::worklist::patient_id(t.home_resident);
    let taken = t
        .app
        .receive_stable_study(&gongti_store::StableStudy {
            study_uid: o.order.study_uid.as_deref().unwrap(),
            orthanc_id: "orthanc-study-1",
            accession_number: &o.order.accession_number,
            patient_id: &patient_id,
            modalities: modality,
            description: "检查",
            instances: 1,
            received_at_us: gongti_app::unix_us(t.app.now()),
            feed_seq: 1,
        })
        .await
        .unwrap();
    assert!(mine(&taken, o.order.id), "{taken:?}");
}

/// A one-image study as the DR makes it from its worklist item (dcmtk's img2dcm from
/// a small synthetic picture): the order's accession number, study UID and patient id.
fn dicom_study(dir: &std::path::Path, order: &gongti_store::ExamOrderRecord) -> std::path::PathBuf {
    // a 16×16 grey ramp as a 24-bit BMP
    let (w, h) = (16u32, 16u32);
    let row = (w * 3).div_ceil(4) * 4;
    let size = 54 + row * h;
    let mut bmp = Vec::new();
    bmp.extend_from_slice(b"BM");
    bmp.extend_from_slice(&size.to_le_bytes());
    bmp.extend_from_slice(&[0, 0, 0, 0]);
    bmp.extend_from_slice(&54u32.to_le_bytes());
    bmp.extend_from_slice(&40u32.to_le_bytes());
    bmp.extend_from_slice(&w.to_le_bytes());
    bmp.extend_from_slice(&h.to_le_bytes());
    bmp.extend_from_slice(&1u16.to_le_bytes());
    bmp.extend_from_slice(&24u16.to_le_bytes());
    bmp.extend_from_slice(&[0; 4]);
    bmp.extend_from_slice(&(row * h).to_le_bytes());
    bmp.extend_from_slice(&[0; 16]);
    for y in 0..h {
        for x in 0..w {
            let v = ((x + y) * 8) as u8;
            bmp.extend_from_slice(&[v, v, v]);
        }
        bmp.resize(bmp.len() + (row - w * 3) as usize, 0);
    }
    let picture = dir.join("chest.bmp");
    std::fs::write(&picture, bmp).unwrap();
    let study = dir.join("chest.dcm");
    let made = std::process::Command::new("img2dcm")
        .args(["-i", "BMP"])
        .arg(&picture)
        .arg(&study)
        .args(["-k", "SpecificCharacterSet=ISO_IR 192"])
        .args(["-k", "PatientName=张秀英"])
        .args([
            "-k",
            &format!(
                "PatientID={}",
                gongti_core::exam::worklist::patient_id(order.resident_id)
            ),
        ])
        .args(["-k", &format!("AccessionNumber={}", order.accession_number)])
        .args([
            "-k",
            &format!("StudyInstanceUID={}", order.study_uid.as_deref().unwrap()),
        ])
        .args(["-k", "Modality=DX", "-k", "StudyDescription=胸部正位DR"])
        .output()
        .expect("dcmtk's img2dcm");
    assert!(made.status.success(), "{made:?}");
    study
}

#[tokio::test]
async fn a_modality_fetches_its_orders_from_orthancs_worklist() {
    let Some(o) = orthanc() else { return };
    for t in TestApp::all().await {
        let now_us = gongti_app::unix_us(t.app.now());
        let mut ids = Vec::new();
        for (kind, code) in [(Category::Imaging, "RAD01"), (Category::Lab, "LAB01")] {
            let centre = gongti_store::NewCentre {
                institution_id: t.hospital,
                kind,
                code,
                name: code,
                hr_scope: "",
                qc_valid_until: None,
            };
            ids.push(
                t.store
                    .insert_exam_centre(&centre, now_us, &[])
                    .await
                    .unwrap(),
            );
        }
        let doctor = t.token("doctor").await;
        let ctx = gongti_app::Ctx {
            principal: t.app.authenticate(&doctor).await.unwrap().principal,
            request_id: None,
        };
        let place = |item: &'static str, centre: i64| {
            let (t, ctx) = (&t, &ctx);
            async move {
                let form = gongti_app::exam::orders::OrderForm {
                    item,
                    centre_id: Some(centre),
                    priority: "urgent",
                    indication: "咳嗽两周",
                    reorder_reason: None,
                    reorder_text: "",
                };
                match t
                    .app
                    .place_exam_order(ctx, t.home_resident, &form)
                    .await
                    .unwrap()
                {
                    gongti_app::exam::orders::Placed::Order(o) => *o,
                    other => panic!("{other:?}"),
                }
            }
        };
        let chest = place("XR-CHEST", ids[0]).await;
        let lab = place("HBA1C", ids[1]).await;
        assert!(chest.study_uid.is_some() && lab.study_uid.is_none());

        let synced = gongti_web::worklist::sync(&t.app, &o.worklists)
            .await
            .unwrap();
        assert_eq!(synced.written, [format!("{}.wl", chest.accession_number)]);
        // nothing to do the second time
        let again = gongti_web::worklist::sync(&t.app, &o.worklists)
            .await
            .unwrap();
        assert!(again.written.is_empty() && again.removed.is_empty());

        let scratch = gongti_testdb::temp_dir("gongti-mwl");
        let answer = find_worklist(&o, "C1", &chest.accession_number, &scratch);
        assert!(answer.contains("Find Response: 1"), "{answer}");
        for expected in [
            chest.accession_number.as_str(),
            "张秀英",
            chest.study_uid.as_deref().unwrap(),
            "[DX]",
            "胸部正位DR",
            "[C1]",
        ] {
            assert!(answer.contains(expected), "{expected}: {answer}");
        }
        // another clinic's modality asking for any station sees none of C1's orders
        // (Orthanc's FilterIssuerAet)
        let elsewhere = find_worklist_as(&o, "G120101000", "", &chest.accession_number, &scratch);
        assert!(!elsewhere.contains("Find Response: 1"), "{elsewhere}");
        // the ID number never reaches the PACS
        assert!(!answer.contains(crate::support::HOME_RESIDENT_ID_NUMBER));
        let none = find_worklist(&o, "C1", &lab.accession_number, &scratch);
        assert!(
            !none.contains("Find Response: 1"),
            "a laboratory order is no worklist item: {none}"
        );

        // the DR sends the study with the worklist's values (dcmtk's img2dcm and
        // storescu); Gongti follows Orthanc's changes, matches it to the order, which
        // moves to in progress, and shows its images through its own pages only
        let pacs = gongti_web::orthanc::OrthancClient::new(&o.url, &o.user, &o.password);
        // the first read starts from the feed's newest change
        gongti_web::orthanc::poll_once(&t.app, &pacs).await.unwrap();
        let study = dicom_study(&scratch, &chest);
        let (host, port) = o.dicom.split_once(':').unwrap();
        let sent = std::process::Command::new("storescu")
            .args(["-aet", "C1", "-aec", &o.aet, host, port])
            .arg(&study)
            .output()
            .expect("dcmtk's storescu");
        assert!(sent.status.success(), "{sent:?}");
        let mut taken = Vec::new();
        for _ in 0..60 {
            let polled = gongti_web::orthanc::poll_once(&t.app, &pacs).await.unwrap();
            taken.extend(polled.taken);
            // (another test's study on the shared PACS is taken as unmatched here)
            if taken.iter().any(|x| mine(x, chest.id)) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let Some(gongti_store::StudyTaken::Matched {
            study_id,
            order_id,
            started: true,
            ..
        }) = taken.iter().copied().find(|x| mine(x, chest.id))
        else {
            panic!("the stable study was not matched to the order: {taken:?}");
        };
        assert_eq!(order_id, chest.id);
        let order = t.store.exam_order(chest.id).await.unwrap().unwrap();
        assert_eq!(order.status.code(), "in-progress");
        let router = gongti_web::router(
            t.app.clone(),
            gongti_web::WebConfig {
                orthanc: Some(pacs.clone()),
                ..gongti_web::WebConfig::default()
            },
        );
        let get = |session: String, path: String| {
            let router = &router;
            async move {
                crate::support::reply_of(
                    router,
                    axum::http::Request::get(path)
                        .header(
                            axum::http::header::COOKIE,
                            format!("gongti_session={session}"),
                        )
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
            }
        };
        let doctor_session = crate::console::sign_in(&t, "doctor").await;
        let order_page = get(doctor_session.clone(), format!("/exam-orders/{}", chest.id)).await;
        assert!(
            order_page
                .text
                .contains(&format!("/exam-studies/{study_id}")),
            "{}",
            order_page.text
        );
        let viewer = get(doctor_session.clone(), format!("/exam-studies/{study_id}")).await;
        assert_eq!(viewer.status, axum::http::StatusCode::OK, "{}", viewer.text);
        let image = get(
            doctor_session.clone(),
            format!("/exam-studies/{study_id}/instances/0"),
        )
        .await;
        assert_eq!(image.status, axum::http::StatusCode::OK, "{}", image.text);
        assert!(image.bytes.starts_with(b"\x89PNG"), "a PNG");
        let other = crate::console::sign_in(&t, "other_doctor").await;
        let refused = get(other, format!("/exam-studies/{study_id}/instances/0")).await;
        assert_eq!(refused.status, axum::http::StatusCode::FORBIDDEN);
        dicomweb_through_gongti(&t, &router, &chest).await;

        // an exam under way is not cancelled; once the centre completes it, the item
        // leaves the worklist
        t.app
            .exam_order_step(
                &ctx,
                chest.id,
                OrderStep::Cancel {
                    reason: "患者已转院",
                },
            )
            .await
            .expect_err("an exam under way is not cancelled");
        // the centre's reader finds it on the reading worklist against its target,
        // claims it, writes the preliminary report and signs it off (a DR needs one
        // signer): the order completes and the doctor reads the report on its page
        let reader = reader_ctx(&t).await;
        let to_read = t.app.reading_worklist(&reader).await.unwrap();
        assert_eq!(to_read.len(), 1);
        assert_eq!(to_read[0].item.order.id, chest.id);
        let target = to_read[0].turnaround.expect("a DR target");
        assert!(!target.overdue && target.due_at_us > to_read[0].item.arrived_at_us);
        t.app.claim_reading(&reader, chest.id, true).await.unwrap();
        use gongti_core::exam::reading::{ReportStatus, ReportStep};
        let doctor_writes = t
            .app
            .write_report(&ctx, chest.id, ReportStep::Draft, "所见", "印象", None)
            .await;
        assert!(matches!(
            doctor_writes,
            Err(gongti_app::AppError::Forbidden)
        ));
        let empty = t
            .app
            .write_report(&reader, chest.id, ReportStep::Draft, " ", "印象", None)
            .await;
        assert!(matches!(empty, Err(gongti_app::AppError::Invalid(_))));
        let draft = t
            .app
            .write_report(
                &reader,
                chest.id,
                ReportStep::Draft,
                "双肺纹理清晰，未见实变影。",
                "胸部未见明显异常",
                None,
            )
            .await
            .unwrap();
        assert_eq!(draft.status, ReportStatus::Preliminary);
        // a second draft: neither draft is the doctor's to read before the signature
        t.app
            .write_report(
                &reader,
                chest.id,
                ReportStep::Draft,
                "双肺纹理清晰。",
                "胸部未见明显异常（草稿）",
                None,
            )
            .await
            .unwrap();
        let report_page = get(doctor_session.clone(), format!("/exam-orders/{}", chest.id)).await;
        assert_eq!(report_page.status, axum::http::StatusCode::OK);
        assert!(
            report_page.text.contains("胸部正位DR")
                && !report_page.text.contains("胸部未见明显异常"),
            "a preliminary report is not the doctor's yet: {}",
            report_page.text
        );
        let signed = t
            .app
            .write_report(
                &reader,
                chest.id,
                ReportStep::Sign,
                "双肺纹理清晰，未见实变影。",
                "胸部未见明显异常",
                None,
            )
            .await
            .unwrap();
        assert_eq!((signed.status, signed.version), (ReportStatus::Final, 3));
        let done = t.store.exam_order(chest.id).await.unwrap().unwrap();
        assert_eq!(done.status.code(), "completed");
        let report_page = get(doctor_session.clone(), format!("/exam-orders/{}", chest.id)).await;
        assert!(
            report_page.text.contains("胸部未见明显异常"),
            "{}",
            report_page.text
        );
        assert!(t.app.reading_worklist(&reader).await.unwrap().is_empty());

        // the resident reads the signed report on the phone and sees the images
        crate::patients::her_token(&t, "zxy.exams").await;
        let phone = crate::patients::phone_cookie(&t, "zxy.exams").await;
        let on_phone = |path: String| {
            let (router, phone) = (&router, phone.clone());
            async move {
                crate::support::reply_of(
                    router,
                    axum::http::Request::get(path)
                        .header(axum::http::header::COOKIE, phone)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
            }
        };
        let health = on_phone("/patient/health".into()).await;
        for shown in [
            "检查报告",
            "胸部正位DR",
            "胸部未见明显异常",
            &format!("/patient/exam-studies/{study_id}"),
        ] {
            assert!(health.text.contains(shown), "{shown}: {}", health.text);
        }
        let own = on_phone(format!("/patient/exam-studies/{study_id}/instances/0")).await;
        assert_eq!(own.status, axum::http::StatusCode::OK);
        assert!(own.bytes.starts_with(b"\x89PNG"));
        let missing = on_phone(format!("/patient/exam-studies/{}", study_id + 1000)).await;
        assert_eq!(missing.status, axum::http::StatusCode::NOT_FOUND);

        // FHIR: the signed report a DiagnosticReport, the study an ImagingStudy, both
        // validated, found by the patient's searches and read by their ids
        let token = t.token("doctor").await;
        let home = t.home_resident;
        let reports = t
            .get(&format!("/fhir/DiagnosticReport?patient={home}"), &token)
            .await;
        assert_eq!(
            reports.status,
            axum::http::StatusCode::OK,
            "{}",
            reports.text
        );
        let reports = reports.json();
        assert_eq!(reports["total"], 1, "{reports}");
        let report = &reports["entry"][0]["resource"];
        assert_eq!(
            (report["status"].as_str(), report["conclusion"].as_str()),
            (Some("final"), Some("胸部未见明显异常"))
        );
        let studies = t
            .get(&format!("/fhir/ImagingStudy?patient={home}"), &token)
            .await
            .json();
        let imaging = &studies["entry"][0]["resource"];
        assert_eq!(
            imaging["identifier"][0]["value"],
            format!("urn:oid:{}", chest.study_uid.as_deref().unwrap()).as_str()
        );
        let read = t
            .get(&format!("/fhir/DiagnosticReport/exam-{}", chest.id), &token)
            .await;
        assert_eq!(read.status, axum::http::StatusCode::OK, "{}", read.text);
        crate::fhir::assert_resolvable(&t, &token, &[report, imaging]).await;
        let dir = gongti_testdb::temp_dir("gongti-exam-reports");
        std::fs::write(dir.join("reports.json"), reports.to_string()).unwrap();
        std::fs::write(dir.join("studies.json"), studies.to_string()).unwrap();
        std::fs::write(dir.join("report.json"), &read.text).unwrap();
        crate::fhir::validate(&dir, 3);
        let other = t.token("other_doctor").await;
        let refused = t
            .get(&format!("/fhir/DiagnosticReport/exam-{}", chest.id), &other)
            .await;
        assert_eq!(refused.status, axum::http::StatusCode::FORBIDDEN);
        let synced = gongti_web::worklist::sync(&t.app, &o.worklists)
            .await
            .unwrap();
        assert_eq!(synced.removed, [format!("{}.wl", chest.accession_number)]);
        let gone = find_worklist(&o, "C1", &chest.accession_number, &scratch);
        assert!(!gone.contains("Find Response: 1"), "{gone}");

        let tail = t.audit_tail(300).await;
        assert!(tail.iter().any(|e| e.entry.action == "exam.worklist.write"
            && e.entry.patient_id == Some(t.home_resident)));
        assert!(
            tail.iter()
                .any(|e| e.entry.action == "exam.worklist.remove")
        );
    }
}
