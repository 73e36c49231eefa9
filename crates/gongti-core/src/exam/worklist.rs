//! The DICOM Modality Worklist item of an imaging or ECG order (DOMAIN.md §8: the
//! clinic's modality fetches its orders by MWL C-FIND). Gongti writes each open order
//! as a DICOM Part 10 file (`{accession}.wl`) into the folder Orthanc's worklist plugin
//! answers from; this module makes the file's bytes — explicit VR little endian, UTF-8
//! (`ISO_IR 192`) — from the order (reference/exam.md §3.3 lists the tags).

use time::{Date, OffsetDateTime, UtcOffset};

/// Modality Worklist Information Model – FIND, the files' SOP class.
pub const MWL_SOP_CLASS: &str = "1.2.840.10008.5.1.4.31";
/// Explicit VR little endian.
const TRANSFER_SYNTAX: &str = "1.2.840.10008.1.2.1";
/// Gongti's implementation class UID (under the UUID-derived root 2.25).
const IMPLEMENTATION_CLASS: &str = "2.25.146418385327395434366473102958146287219";
/// Who the patient id is issued by (0010,0021).
pub const PATIENT_ID_ISSUER: &str = "GONGTI";

/// A data element's value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Text(String),
    Bytes(Vec<u8>),
    /// A sequence of items, each a list of elements.
    Items(Vec<Vec<Element>>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Element {
    tag: (u16, u16),
    vr: [u8; 2],
    value: Value,
}

fn text(group: u16, element: u16, vr: &str, value: &str) -> Element {
    let vr = vr.as_bytes();
    Element {
        tag: (group, element),
        vr: [vr[0], vr[1]],
        value: Value::Text(value.to_owned()),
    }
}

/// Whether a VR takes the long form (2 reserved bytes and a 4-byte length).
fn long_form(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"OB" | b"OW" | b"OF" | b"SQ" | b"UT" | b"UN" | b"UC" | b"UR"
    )
}

fn encode(elements: &[Element], out: &mut Vec<u8>) {
    let mut sorted: Vec<&Element> = elements.iter().collect();
    sorted.sort_by_key(|e| e.tag);
    for e in sorted {
        let bytes = match &e.value {
            Value::Text(t) => {
                let mut b = t.as_bytes().to_vec();
                if b.len() % 2 == 1 {
                    // UIDs are padded with NUL, text with a space (PS3.5 §6.2)
                    b.push(if &e.vr == b"UI" { 0 } else { b' ' });
                }
                b
            }
            Value::Bytes(b) => b.clone(),
            Value::Items(items) => {
                let mut b = Vec::new();
                for item in items {
                    let mut body = Vec::new();
                    encode(item, &mut body);
                    b.extend_from_slice(&0xFFFEu16.to_le_bytes());
                    b.extend_from_slice(&0xE000u16.to_le_bytes());
                    b.extend_from_slice(&(body.len() as u32).to_le_bytes());
                    b.extend_from_slice(&body);
                }
                b
            }
        };
        out.extend_from_slice(&e.tag.0.to_le_bytes());
        out.extend_from_slice(&e.tag.1.to_le_bytes());
        out.extend_from_slice(&e.vr);
        if long_form(e.vr) {
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        } else {
            out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        }
        out.extend_from_slice(&bytes);
    }
}

/// A Part 10 file: the preamble, `DICM`, the file meta group, then the data set.
fn part10(sop_class: &str, sop_instance: &str, dataset: &[Element]) -> Vec<u8> {
    let mut meta_body = Vec::new();
    encode(
        &[
            Element {
                tag: (0x0002, 0x0001),
                vr: *b"OB",
                value: Value::Bytes(vec![0, 1]),
            },
            text(0x0002, 0x0002, "UI", sop_class),
            text(0x0002, 0x0003, "UI", sop_instance),
            text(0x0002, 0x0010, "UI", TRANSFER_SYNTAX),
            text(0x0002, 0x0012, "UI", IMPLEMENTATION_CLASS),
        ],
        &mut meta_body,
    );
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    // (0002,0000) the group's length
    out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00]);
    out.extend_from_slice(b"UL");
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&(meta_body.len() as u32).to_le_bytes());
    out.extend_from_slice(&meta_body);
    encode(dataset, &mut out);
    out
}

/// What the worklist item says of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorklistOrder<'a> {
    pub accession_number: &'a str,
    /// Pre-assigned, so that the images the modality sends carry the order's study.
    pub study_uid: &'a str,
    /// `GT` and the resident's id: the record's id, never the ID number.
    pub patient_id: &'a str,
    pub patient_name: &'a str,
    pub birth_date: Date,
    /// `M`, `F` or `O`.
    pub sex: &'a str,
    /// DICOM modality (`DX`, `CT`, `US`, `ECG`).
    pub modality: &'a str,
    pub procedure: &'a str,
    /// The modality's AE title: the ordering institution's code.
    pub station_ae: &'a str,
    pub requesting_physician: &'a str,
    /// DICOM's RequestedProcedurePriority: `ROUTINE`, `HIGH` or `STAT`.
    pub priority: &'a str,
    pub scheduled_at_us: i64,
}

/// The patient id a worklist gives a resident.
pub fn patient_id(resident_id: i64) -> String {
    format!("GT{resident_id:08}")
}

/// The resident a worklist's patient id names (`GT` and eight or more digits).
pub fn resident_of_patient_id(patient_id: &str) -> Option<i64> {
    let digits = patient_id.trim().strip_prefix("GT")?;
    if digits.len() < 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| *id > 0)
}

/// The DICOM priority of an order's priority code.
pub fn dicom_priority(priority: super::orders::Priority) -> &'static str {
    match priority {
        super::orders::Priority::Routine => "ROUTINE",
        super::orders::Priority::Urgent => "HIGH",
        super::orders::Priority::Stat => "STAT",
    }
}

/// Keeps a text within `max` characters (DICOM's value lengths: SH 16, LO 64, PN 64
/// per group, AE 16).
fn clip(t: &str, max: usize) -> String {
    t.chars().take(max).collect()
}

/// The worklist file of an order, in the region's `offset`.
pub fn worklist_file(o: &WorklistOrder<'_>, offset: UtcOffset) -> Vec<u8> {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(o.scheduled_at_us) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    let day = format!("{:04}{:02}{:02}", at.year(), u8::from(at.month()), at.day());
    let time = format!("{:02}{:02}{:02}", at.hour(), at.minute(), at.second());
    let birth = format!(
        "{:04}{:02}{:02}",
        o.birth_date.year(),
        u8::from(o.birth_date.month()),
        o.birth_date.day()
    );
    let accession = clip(o.accession_number, 16);
    let step = vec![
        text(0x0008, 0x0060, "CS", &clip(o.modality, 16)),
        text(0x0040, 0x0001, "AE", &clip(o.station_ae, 16)),
        text(0x0040, 0x0002, "DA", &day),
        text(0x0040, 0x0003, "TM", &time),
        text(0x0040, 0x0007, "LO", &clip(o.procedure, 64)),
        text(0x0040, 0x0009, "SH", &accession),
        text(0x0040, 0x0020, "CS", "SCHEDULED"),
    ];
    let dataset = vec![
        text(0x0008, 0x0005, "CS", "ISO_IR 192"),
        text(0x0008, 0x0050, "SH", &accession),
        text(0x0008, 0x0090, "PN", &clip(o.requesting_physician, 64)),
        text(0x0010, 0x0010, "PN", &clip(o.patient_name, 64)),
        text(0x0010, 0x0020, "LO", &clip(o.patient_id, 64)),
        text(0x0010, 0x0021, "LO", PATIENT_ID_ISSUER),
        text(0x0010, 0x0030, "DA", &birth),
        text(0x0010, 0x0040, "CS", o.sex),
        text(0x0020, 0x000D, "UI", o.study_uid),
        text(0x0032, 0x1032, "PN", &clip(o.requesting_physician, 64)),
        text(0x0032, 0x1060, "LO", &clip(o.procedure, 64)),
        Element {
            tag: (0x0040, 0x0100),
            vr: *b"SQ",
            value: Value::Items(vec![step]),
        },
        text(0x0040, 0x1001, "SH", &accession),
        text(0x0040, 0x1003, "SH", o.priority),
    ];
    let instance = format!("{}.1", o.study_uid);
    part10(MWL_SOP_CLASS, &instance, &dataset)
}

/// A study UID under the UUID root 2.25 (PS3.5 §B.2): 16 random bytes made a version
/// 4 UUID, written as one decimal integer.
pub fn study_uid(mut random: [u8; 16]) -> String {
    random[6] = (random[6] & 0x0F) | 0x40;
    random[8] = (random[8] & 0x3F) | 0x80;
    format!("2.25.{}", u128::from_be_bytes(random))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patient_id_names_its_resident_back() {
        let cases: &[(&str, Option<i64>)] = &[
            ("GT00000123", Some(123)),
            ("GT123456789", Some(123_456_789)),
            (" GT00000001 ", Some(1)),
            ("GT0000012", None),
            ("GT00000000", None),
            ("gt00000123", None),
            ("GT0000012X", None),
            ("00000123", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(resident_of_patient_id(text), *want, "{text:?}");
        }
        assert_eq!(resident_of_patient_id(&patient_id(42)), Some(42));
    }
    use time::macros::{date, offset};

    fn order() -> WorklistOrder<'static> {
        WorklistOrder {
            accession_number: "RAD0100000002",
            study_uid: "2.25.1234567",
            patient_id: "GT00000161",
            patient_name: "郭刚",
            birth_date: date!(1951 - 03 - 07),
            sex: "M",
            modality: "DX",
            procedure: "胸部正位DR",
            station_ae: "G120101000",
            requesting_physician: "王建国",
            priority: "ROUTINE",
            scheduled_at_us: 1_764_903_000_000_000,
        }
    }

    /// Finds an element's value in explicit VR little endian bytes (a short-form VR).
    fn find(bytes: &[u8], group: u16, element: u16) -> Option<Vec<u8>> {
        let mut tag = group.to_le_bytes().to_vec();
        tag.extend_from_slice(&element.to_le_bytes());
        let at = bytes.windows(4).position(|w| w == tag.as_slice())?;
        let len = u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]) as usize;
        Some(bytes[at + 8..at + 8 + len].to_vec())
    }

    #[test]
    fn a_part_10_file_with_its_meta_group() {
        let f = worklist_file(&order(), offset!(+8));
        assert_eq!(&f[128..132], b"DICM");
        // the group length covers the meta elements that follow it
        let len = u32::from_le_bytes([f[140], f[141], f[142], f[143]]) as usize;
        let data_start = 144 + len;
        assert_eq!(&f[data_start..data_start + 4], &[0x08, 0x00, 0x05, 0x00]);
        assert_eq!(find(&f, 0x0002, 0x0010).unwrap(), b"1.2.840.10008.1.2.1\0");
    }

    #[test]
    fn the_order_in_the_tags_a_modality_reads() {
        let f = worklist_file(&order(), offset!(+8));
        assert_eq!(find(&f, 0x0008, 0x0050).unwrap(), b"RAD0100000002 ");
        assert_eq!(
            String::from_utf8(find(&f, 0x0010, 0x0010).unwrap()).unwrap(),
            "郭刚"
        );
        assert_eq!(find(&f, 0x0010, 0x0030).unwrap(), b"19510307");
        assert_eq!(find(&f, 0x0040, 0x0001).unwrap(), b"G120101000");
        // 2025-12-05 02:50 UTC is 10:50 in Tianjin
        assert_eq!(find(&f, 0x0040, 0x0002).unwrap(), b"20251205");
        assert_eq!(find(&f, 0x0040, 0x0003).unwrap(), b"105000");
        assert_eq!(find(&f, 0x0020, 0x000D).unwrap(), b"2.25.1234567");
        // the ID number is nowhere
        assert!(find(&f, 0x0010, 0x1000).is_none());
    }

    #[test]
    fn the_sequence_holds_one_item_of_the_step() {
        let f = worklist_file(&order(), offset!(+8));
        let at = f
            .windows(6)
            .position(|w| w == [0x40, 0x00, 0x00, 0x01, b'S', b'Q'])
            .expect("(0040,0100) SQ");
        let seq_len = u32::from_le_bytes([f[at + 8], f[at + 9], f[at + 10], f[at + 11]]) as usize;
        let item = &f[at + 12..at + 12 + seq_len];
        assert_eq!(&item[..4], &[0xFE, 0xFF, 0x00, 0xE0]);
        let item_len = u32::from_le_bytes([item[4], item[5], item[6], item[7]]) as usize;
        assert_eq!(item_len + 8, seq_len);
        assert_eq!(find(item, 0x0008, 0x0060).unwrap(), b"DX");
    }

    #[test]
    fn study_uids_stay_within_64_characters() {
        let uid = study_uid([0xFF; 16]);
        assert!(uid.len() <= 64 && uid.starts_with("2.25."));
        // the UUID's version and variant bits are set
        let zero = study_uid([0; 16]);
        assert_eq!(
            zero,
            format!("2.25.{}", (0x40u128 << 72) | (0x80u128 << 56))
        );
    }
}
