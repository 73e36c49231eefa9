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

struct Orthanc {
    dicom: String,
    aet: String,
    worklists: std::path::PathBuf,
}

fn orthanc() -> Option<Orthanc> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (
        var("GONGTI_TEST_ORTHANC_DICOM"),
        var("GONGTI_TEST_ORTHANC_AET"),
        var("GONGTI_TEST_WORKLIST_DIR"),
    ) {
        (Some(dicom), Some(aet), Some(dir)) => Some(Orthanc {
            dicom,
            aet,
            worklists: dir.into(),
        }),
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
        .args(["-W", "-v", "-aet", station, "-aec", &o.aet, host, port])
        .arg(&query)
        .output()
        .expect("dcmtk's findscu");
    assert!(out.status.success(), "{out:?}");
    // findscu logs the answers on stderr
    String::from_utf8_lossy(&out.stderr).into_owned()
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
        // the ID number never reaches the PACS
        assert!(!answer.contains(crate::support::HOME_RESIDENT_ID_NUMBER));
        let none = find_worklist(&o, "C1", &lab.accession_number, &scratch);
        assert!(
            !none.contains("Find Response: 1"),
            "a laboratory order is no worklist item: {none}"
        );

        // cancelled: the item leaves the worklist
        t.app
            .exam_order_step(
                &ctx,
                chest.id,
                OrderStep::Cancel {
                    reason: "患者已转院",
                },
            )
            .await
            .unwrap();
        let synced = gongti_web::worklist::sync(&t.app, &o.worklists)
            .await
            .unwrap();
        assert_eq!(synced.removed, [format!("{}.wl", chest.accession_number)]);
        let gone = find_worklist(&o, "C1", &chest.accession_number, &scratch);
        assert!(!gone.contains("Find Response: 1"), "{gone}");

        let tail = t.audit_tail(40).await;
        assert!(tail.iter().any(|e| e.entry.action == "exam.worklist.write"
            && e.entry.patient_id == Some(t.home_resident)));
        assert!(
            tail.iter()
                .any(|e| e.entry.action == "exam.worklist.remove")
        );
    }
}
