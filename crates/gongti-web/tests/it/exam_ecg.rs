//! A 12-lead ECG through the real Orthanc (DOMAIN.md §8: "ECGs are DICOM 12-lead
//! waveforms in the same store"), on both engines: a made-up ECG (75 beats a minute,
//! 10 s at 500 Hz, no personal data) is written as a 12-Lead ECG Waveform Storage file
//! by dcmtk's dump2dcm with the worklist's values and sent with storescu; Gongti follows
//! the PACS, matches it to the ECG order, and the ordering doctor sees its leads drawn
//! on ECG paper (SVG) where Orthanc has no preview; the ECG centre's reader reports
//! ventricular tachycardia as a critical finding, which reaches the doctor.

use std::fmt::Write;

use crate::exam_worklist::{mine, orthanc};
use crate::support::TestApp;
use gongti_core::exam::orders::Category;

/// The 12 leads and how much of the made-up heart's vector each sees.
const LEADS: [(&str, f64); 12] = [
    ("I", 0.6),
    ("II", 1.0),
    ("III", 0.4),
    ("aVR", -0.8),
    ("aVL", 0.1),
    ("aVF", 0.7),
    ("V1", -0.5),
    ("V2", 0.3),
    ("V3", 0.8),
    ("V4", 1.2),
    ("V5", 1.1),
    ("V6", 0.9),
];
const HZ: usize = 500;
const SAMPLES: usize = 10 * HZ;
/// Microvolts per stored unit.
const SENSITIVITY_UV: f64 = 2.5;

/// One beat's shape at `t` seconds after its R wave (microvolts): P, QRS and T as bumps.
fn beat_uv(t: f64) -> f64 {
    let bump =
        |centre: f64, width: f64, height: f64| height * (-((t - centre) / width).powi(2)).exp();
    bump(-0.16, 0.025, 150.0)
        + bump(-0.02, 0.008, -120.0)
        + bump(0.0, 0.012, 1_100.0)
        + bump(0.025, 0.01, -250.0)
        + bump(0.28, 0.045, 300.0)
}

/// The dcmdump text of the ECG for `order` (its study UID, accession and patient id as
/// the worklist gave them).
fn ecg_dump(order: &gongti_store::ExamOrderRecord, patient_id: &str) -> String {
    let mut d = String::new();
    let study = order.study_uid.as_deref().unwrap();
    for line in [
        "(0008,0016) UI =TwelveLeadECGWaveformStorage".to_owned(),
        format!("(0008,0018) UI [{study}.1.1]"),
        "(0008,0060) CS [ECG]".to_owned(),
        format!("(0008,0050) SH [{}]", order.accession_number),
        "(0008,1030) LO [12-lead ECG]".to_owned(),
        "(0010,0010) PN [Test^ECG]".to_owned(),
        format!("(0010,0020) LO [{patient_id}]"),
        format!("(0020,000d) UI [{study}]"),
        format!("(0020,000e) UI [{study}.1]"),
        "(5400,0100) SQ (Sequence with undefined length #=1)".to_owned(),
        "(fffe,e000) na (Item with undefined length #=8)".to_owned(),
        "(003a,0004) CS [ORIGINAL]".to_owned(),
        format!("(003a,0005) US {}", LEADS.len()),
        format!("(003a,0010) UL {SAMPLES}"),
        format!("(003a,001a) DS [{HZ}]"),
        "(003a,0200) SQ (Sequence with undefined length #=12)".to_owned(),
    ] {
        d.push_str(&line);
        d.push('\n');
    }
    for (i, (lead, _)) in LEADS.iter().enumerate() {
        let _ = write!(
            d,
            "(fffe,e000) na (Item with undefined length #=7)\n\
             (003a,0202) IS [{n}]\n\
             (003a,0208) SQ (Sequence with undefined length #=1)\n\
             (fffe,e000) na (Item with undefined length #=3)\n\
             (0008,0100) SH [5.6.3-9-{n}]\n\
             (0008,0102) SH [SCPECG]\n\
             (0008,0104) LO [Lead {lead}]\n\
             (fffe,e00d) na (ItemDelimitationItem)\n\
             (fffe,e0dd) na (SequenceDelimitationItem)\n\
             (003a,0210) DS [{SENSITIVITY_UV}]\n\
             (003a,0211) SQ (Sequence with undefined length #=1)\n\
             (fffe,e000) na (Item with undefined length #=3)\n\
             (0008,0100) SH [uV]\n\
             (0008,0102) SH [UCUM]\n\
             (0008,0104) LO [microvolt]\n\
             (fffe,e00d) na (ItemDelimitationItem)\n\
             (fffe,e0dd) na (SequenceDelimitationItem)\n\
             (003a,0212) DS [1]\n\
             (003a,0213) DS [0]\n\
             (003a,021a) US 16\n\
             (fffe,e00d) na (ItemDelimitationItem)\n",
            n = i + 1
        );
    }
    d.push_str("(fffe,e0dd) na (SequenceDelimitationItem)\n(5400,1004) US 16\n(5400,1006) CS [SS]\n(5400,1010) OW ");
    let beat_s = 60.0 / 75.0;
    for s in 0..SAMPLES {
        let t = s as f64 / HZ as f64;
        // the nearest R wave: beats at 0.4 s, 1.2 s, …
        let since_r = (t - 0.4).rem_euclid(beat_s);
        let since_r = if since_r > beat_s / 2.0 {
            since_r - beat_s
        } else {
            since_r
        };
        let uv = beat_uv(since_r);
        for (c, (_, gain)) in LEADS.iter().enumerate() {
            let units = (uv * gain / SENSITIVITY_UV).round() as i16;
            if s + c > 0 {
                d.push('\\');
            }
            let _ = write!(d, "{:04x}", units as u16);
        }
    }
    d.push_str(
        "\n(fffe,e00d) na (ItemDelimitationItem)\n(fffe,e0dd) na (SequenceDelimitationItem)\n",
    );
    d
}

#[tokio::test]
async fn an_ecg_waveform_reaches_the_reader_and_is_drawn_for_the_doctor() {
    let Some(o) = orthanc() else { return };
    for t in TestApp::all().await {
        let ordered =
            crate::exam_worklist::order_at_centre(&t, Category::Ecg, "ECG01", "ECG-12", "urgent")
                .await;
        let (order, reader, token) = (
            &ordered.order,
            &ordered.reader,
            ordered.doctor_token.clone(),
        );
        // dcmtk writes the made-up ECG and sends it to the PACS
        let pacs = gongti_web::orthanc::OrthancClient::new(&o.url, &o.user, &o.password);
        gongti_web::orthanc::poll_once(&t.app, &pacs).await.unwrap();
        let scratch = gongti_testdb::temp_dir("gongti-ecg");
        let dump = scratch.join("ecg.dump");
        let file = scratch.join("ecg.dcm");
        let patient_id = gongti_core::exam::worklist::patient_id(t.home_resident);
        std::fs::write(&dump, ecg_dump(order, &patient_id)).unwrap();
        let written = std::process::Command::new("dump2dcm")
            .args(["+te", "+l", "1000000"])
            .arg(&dump)
            .arg(&file)
            .output()
            .expect("dcmtk's dump2dcm");
        assert!(written.status.success(), "{written:?}");
        let (host, port) = o.dicom.split_once(':').unwrap();
        let sent = std::process::Command::new("storescu")
            .args(["-aet", "C1", "-aec", &o.aet, host, port])
            .arg(&file)
            .output()
            .expect("dcmtk's storescu");
        assert!(sent.status.success(), "{sent:?}");
        let mut taken = Vec::new();
        for _ in 0..60 {
            taken.extend(
                gongti_web::orthanc::poll_once(&t.app, &pacs)
                    .await
                    .unwrap()
                    .taken,
            );
            // (another test's study on the shared PACS is taken as unmatched here)
            if taken.iter().any(|x| mine(x, order.id)) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        let Some(gongti_store::StudyTaken::Matched {
            study_id, order_id, ..
        }) = taken.iter().copied().find(|x| mine(x, order.id))
        else {
            panic!("the ECG was not matched to its order: {taken:?}");
        };
        assert_eq!(order_id, order.id);
        let study = t.store.exam_study(study_id).await.unwrap().unwrap();
        assert_eq!(study.modalities, "ECG");

        // the doctor sees the leads on ECG paper: twelve traces, each named
        let router = gongti_web::router(
            t.app.clone(),
            gongti_web::WebConfig {
                orthanc: Some(pacs.clone()),
                ..gongti_web::WebConfig::default()
            },
        );
        let session = crate::console::sign_in(&t, "doctor").await;
        let drawn = crate::support::reply_of(
            &router,
            axum::http::Request::get(format!("/exam-studies/{study_id}/instances/0"))
                .header(
                    axum::http::header::COOKIE,
                    format!("gongti_session={session}"),
                )
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(drawn.status, axum::http::StatusCode::OK, "{}", drawn.text);
        assert_eq!(
            drawn.headers[axum::http::header::CONTENT_TYPE],
            "image/svg+xml"
        );
        assert_eq!(drawn.text.matches("<path d=\"M ").count(), LEADS.len());
        for (lead, _) in LEADS {
            assert!(drawn.text.contains(&format!(">{lead}</text>")), "{lead}");
        }
        // the R waves reach about 1.1 mV in lead II: 33 px above its row's middle
        // (10 mm/mV at 3 px/mm), so the trace spans more than 30 px there
        let ii = drawn.text.split("<path d=\"").nth(2).unwrap();
        let ys: Vec<f64> = ii
            .split('"')
            .next()
            .unwrap()
            .split(['M', 'L'])
            .filter_map(|p| p.split_whitespace().nth(1)?.parse().ok())
            .collect();
        let span = ys.iter().cloned().fold(f64::MIN, f64::max)
            - ys.iter().cloned().fold(f64::MAX, f64::min);
        assert!(span > 30.0 && span < 60.0, "lead II spans {span} px");

        // the ECG centre's reader reports ventricular tachycardia, a critical finding
        // the doctor's institution sees at once
        let reading = t.app.reading_worklist(reader).await.unwrap();
        assert_eq!(reading.len(), 1);
        t.app
            .write_report(
                reader,
                order.id,
                gongti_core::exam::reading::ReportStep::Sign,
                "宽QRS心动过速，心室率约180次/分。",
                "室性心动过速",
                Some("ECG-VT"),
            )
            .await
            .unwrap();
        let open = t
            .get("/api/v1/worklists/critical-values", &token)
            .await
            .json();
        assert_eq!(open["items"][0]["value"], "室性心动过速", "{open}");
        assert_eq!(open["items"][0]["exam_order_id"], order.id);
    }
}
