//! The laboratory intake's reading of HL7 v2 (DOMAIN.md §8) on any bytes: the MLLP
//! framer finds the same frames however the bytes are split; reading a message never
//! panics, nor does preparing its report's results; the acknowledgement holds no MLLP
//! control byte and answers with the code it was given in MSA-1.
#![no_main]

use gongti_app::exam::{AckCode, LabAnswer};
use gongti_core::exam::items::LabItems;
use gongti_core::exam::report::prepare;
use gongti_web::hl7::{acknowledgement, read_message};
use gongti_web::mllp::{Frame, Framer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(0, |b| usize::from(*b)) % (data.len() + 1);
    let mut whole = Framer::default();
    let all = whole.push(data);
    let mut split = Framer::default();
    let mut parts = split.push(&data[..cut]);
    parts.extend(split.push(&data[cut..]));
    if !all.contains(&Frame::TooLong) {
        assert_eq!(all, parts);
    }
    let local = time::macros::offset!(+8);
    let m = read_message(data, "fuzz", local);
    let now = time::macros::datetime!(2026-12-01 00:00 UTC);
    if let Ok(report) = &m.report {
        let _ = prepare(report, LabItems::builtin(), "LIS@LAB", 1_764_547_200_000_000, local);
    }
    for code in [AckCode::Accept, AckCode::Error, AckCode::Reject] {
        let answer = LabAnswer {
            code,
            text: String::from_utf8_lossy(data).into_owned(),
            message_id: 1,
        };
        let ack = acknowledgement(&m, &answer, now, local);
        assert!(!ack.contains(&0x0B) && !ack.contains(&0x1C));
        let text = String::from_utf8_lossy(&ack);
        let msa = text.split('\r').find(|s| s.starts_with("MSA|")).expect("an MSA segment");
        assert_eq!(msa.split('|').nth(1), Some(code.code()));
    }
});
