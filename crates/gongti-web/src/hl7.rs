//! HL7 version 2 as laboratories send it (DOMAIN.md §8, reference/exam.md §2): a
//! message's bytes decoded by MSH-18 (empty: ASCII — a sender's undeclared GB 18030
//! bytes are read as such —, `UNICODE UTF-8`, `GB 18030-2000`), its delimiters read from
//! MSH-1 and MSH-2, segments ended by CR (LF and CR LF tolerated), values unescaped after
//! splitting (`\F\ \S\ \T\ \R\ \E\`, `\Xhh…\`, `\.br\`); an ORU^R01 read into the app's
//! report; and the original-mode acknowledgement (MSA-1 AA / AE / AR, MSA-2 the
//! message's MSH-10, sender and receiver swapped).

use gongti_app::exam::{AckCode, IncomingLabMessage, LabAnswer, MessageHeader};
use gongti_core::exam::report::{PatientIdentifier, ReceivedOrder, ReceivedReport, ReceivedResult};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// What Gongti names itself as in an acknowledgement's MSH-3.
pub const OUR_APPLICATION: &str = "GONGTI";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Delimiters {
    field: char,
    component: char,
    repetition: char,
    escape: char,
    subcomponent: char,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: '|',
            component: '^',
            repetition: '~',
            escape: '\\',
            subcomponent: '&',
        }
    }
}

/// A segment's fields as sent (still escaped); `field(n)` is the standard's n-th field,
/// MSH's numbering included (MSH-1 is the field separator itself).
#[derive(Debug, Clone)]
struct Segment<'a> {
    id: &'a str,
    fields: Vec<&'a str>,
    msh: bool,
}

impl<'a> Segment<'a> {
    fn field(&self, n: usize) -> &'a str {
        let index = if self.msh { n.wrapping_sub(1) } else { n };
        if self.msh && n == 1 {
            return "";
        }
        self.fields.get(index).copied().unwrap_or("")
    }
}

/// A message split into segments, with its delimiters.
#[derive(Debug)]
struct Parsed<'a> {
    d: Delimiters,
    segments: Vec<Segment<'a>>,
}

impl<'a> Parsed<'a> {
    fn components(&self, value: &'a str) -> Vec<&'a str> {
        value.split(self.d.component).collect()
    }

    fn component(&self, value: &'a str, n: usize) -> &'a str {
        value.split(self.d.component).nth(n - 1).unwrap_or("")
    }

    fn repetitions(&self, value: &'a str) -> impl Iterator<Item = &'a str> + use<'a> {
        let rep = self.d.repetition;
        value.split(rep).filter(|r| !r.is_empty())
    }

    /// A value unescaped (after splitting, never before).
    fn text(&self, value: &str) -> String {
        unescape(value, &self.d)
    }
}

/// Unescapes a value: the delimiter escapes, hexadecimal data (read as UTF-8 where it
/// is, else dropped), a line break for `\.br\`; highlighting (`\H\`, `\N\`) is dropped
/// and an unknown or unterminated escape is kept as written.
fn unescape(value: &str, d: &Delimiters) -> String {
    let e = d.escape;
    if !value.contains(e) {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find(e) {
        out.push_str(&rest[..start]);
        let after = &rest[start + e.len_utf8()..];
        let Some(end) = after.find(e) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let seq = &after[..end];
        match seq {
            "F" => out.push(d.field),
            "S" => out.push(d.component),
            "T" => out.push(d.subcomponent),
            "R" => out.push(d.repetition),
            "E" => out.push(e),
            ".br" => out.push('\n'),
            "H" | "N" => {}
            s if s.starts_with('X') && s.len() > 1 && s.len() % 2 == 1 => {
                let bytes: Option<Vec<u8>> = (1..s.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
                    .collect();
                if let Some(text) = bytes.and_then(|b| String::from_utf8(b).ok()) {
                    out.push_str(&text);
                }
            }
            other => {
                out.push(e);
                out.push_str(other);
                out.push(e);
            }
        }
        rest = &after[end + e.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// Escapes text for a field of a message Gongti writes (standard delimiters).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\E\\"),
            '|' => out.push_str("\\F\\"),
            '^' => out.push_str("\\S\\"),
            '&' => out.push_str("\\T\\"),
            '~' => out.push_str("\\R\\"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// MSH-18 of the raw bytes (ASCII in every charset the standard lists).
fn declared_charset(raw: &[u8]) -> String {
    let Some(sep) = raw.get(3).copied() else {
        return String::new();
    };
    let first = raw
        .split(|b| *b == b'\r' || *b == b'\n')
        .next()
        .unwrap_or_default();
    first
        .split(|b| *b == sep)
        .nth(17)
        .map(|f| String::from_utf8_lossy(f).trim().to_owned())
        .unwrap_or_default()
}

/// Decodes the bytes by their declared character set: the text and the set's name.
fn decode(raw: &[u8]) -> Result<(String, String), String> {
    let declared = declared_charset(raw);
    let gb = |raw: &[u8]| {
        encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(raw)
            .map(|t| t.into_owned())
    };
    match declared.to_ascii_uppercase().as_str() {
        "" | "ASCII" => match std::str::from_utf8(raw) {
            Ok(t) if t.is_ascii() => Ok((t.to_owned(), "ASCII".into())),
            // undeclared bytes: UTF-8 when they are, else what Chinese systems send
            Ok(t) => Ok((t.to_owned(), "UNICODE UTF-8".into())),
            Err(_) => gb(raw).map(|t| (t, "GB 18030-2000".into())).ok_or_else(|| {
                "the bytes are neither UTF-8 nor GB 18030 (MSH-18 empty)".to_owned()
            }),
        },
        "UNICODE UTF-8" | "UTF-8" | "UTF8" => std::str::from_utf8(raw)
            .map(|t| (t.to_owned(), "UNICODE UTF-8".into()))
            .map_err(|_| "MSH-18 says UTF-8 but the bytes are not".to_owned()),
        "GB 18030-2000" | "GB18030" | "GB 18030" => gb(raw)
            .map(|t| (t, "GB 18030-2000".into()))
            .ok_or_else(|| "MSH-18 says GB 18030 but the bytes are not".to_owned()),
        _ => Err(
            "MSH-18 names a character set not taken here (ASCII, UNICODE UTF-8, GB 18030-2000)"
                .into(),
        ),
    }
}

fn split(text: &str) -> Result<Parsed<'_>, String> {
    let t = text.trim_start_matches(['\r', '\n', ' ']);
    if !t.starts_with("MSH") || t.len() < 8 {
        return Err("the message does not begin with an MSH segment".into());
    }
    let mut chars = t[3..].chars();
    let field = chars.next().unwrap_or('|');
    let enc: Vec<char> = chars.take_while(|c| *c != field).collect();
    if enc.len() < 4 || field.is_alphanumeric() {
        return Err("MSH-2 does not hold the four encoding characters".into());
    }
    let d = Delimiters {
        field,
        component: enc[0],
        repetition: enc[1],
        escape: enc[2],
        subcomponent: enc[3],
    };
    let segments = t
        .split(['\r', '\n'])
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let fields: Vec<&str> = s.split(field).collect();
            let id = fields.first().copied().unwrap_or("");
            Segment {
                id,
                msh: id == "MSH",
                fields,
            }
        })
        .collect();
    Ok(Parsed { d, segments })
}

/// An HL7 DTM (`YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]`) as UTC microseconds, the
/// region's offset taken when it names none; `None` when it is not one.
pub fn timestamp_us(text: &str, local: UtcOffset) -> Option<i64> {
    let t = text.trim();
    let (body, zone) = match t.find(['+', '-']) {
        Some(i) => (&t[..i], Some(&t[i..])),
        None => (t, None),
    };
    let (digits, fraction) = match body.split_once('.') {
        Some((d, f)) => (d, f),
        None => (body, ""),
    };
    if !digits.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
        || ![4, 6, 8, 10, 12, 14].contains(&digits.len())
        || (!fraction.is_empty() && digits.len() != 14)
    {
        return None;
    }
    let num = |range: std::ops::Range<usize>, default: u32| -> Option<u32> {
        digits.get(range).map_or(Some(default), |s| s.parse().ok())
    };
    let year = i32::try_from(num(0..4, 0)?).ok()?;
    let month = Month::try_from(u8::try_from(num(4..6, 1)?).ok()?).ok()?;
    let day = Date::from_calendar_date(year, month, u8::try_from(num(6..8, 1)?).ok()?).ok()?;
    let micros: u32 = if fraction.is_empty() {
        0
    } else {
        format!("{fraction:0<6}").get(..6)?.parse().ok()?
    };
    let time = Time::from_hms_micro(
        u8::try_from(num(8..10, 0)?).ok()?,
        u8::try_from(num(10..12, 0)?).ok()?,
        u8::try_from(num(12..14, 0)?).ok()?,
        micros,
    )
    .ok()?;
    let offset = match zone {
        None => local,
        Some(z) if z.len() == 5 && z[1..].chars().all(|c| c.is_ascii_digit()) => {
            let sign: i8 = if z.starts_with('-') { -1 } else { 1 };
            let h: i8 = z[1..3].parse().ok()?;
            let m: i8 = z[3..5].parse().ok()?;
            UtcOffset::from_hms(sign * h, sign * m, 0).ok()?
        }
        Some(_) => return None,
    };
    let at = PrimitiveDateTime::new(day, time).assume_offset(offset);
    i64::try_from(at.unix_timestamp_nanos() / 1_000).ok()
}

/// Reads a message's bytes into what the app takes: its header as far as it could be
/// read, and the report or the reason it is rejected.
pub fn read_message<'a>(raw: &'a [u8], peer: &'a str, local: UtcOffset) -> IncomingLabMessage<'a> {
    let mut header = MessageHeader::default();
    let report = (|| {
        let (text, charset) = decode(raw)?;
        header.charset = charset;
        let p = split(&text)?;
        let msh = &p.segments[0];
        header.sending_application = p.text(p.component(msh.field(3), 1)).trim().to_owned();
        header.sending_facility = p.text(p.component(msh.field(4), 1)).trim().to_owned();
        header.receiving_application = p.text(p.component(msh.field(5), 1)).trim().to_owned();
        header.receiving_facility = p.text(p.component(msh.field(6), 1)).trim().to_owned();
        header.control_id = p.text(msh.field(10)).trim().to_owned();
        let kind = p.components(msh.field(9));
        header.message_type = format!(
            "{}^{}",
            kind.first().copied().unwrap_or(""),
            kind.get(1).copied().unwrap_or("")
        )
        .trim_matches('^')
        .to_owned();
        if header.control_id.is_empty() {
            return Err("MSH-10 (the message control id) is empty".to_owned());
        }
        if header.message_type != "ORU^R01" {
            return Err(format!(
                "MSH-9 {} is not taken here: only ORU^R01",
                ascii(&header.message_type)
            ));
        }
        let processing = p.component(msh.field(11), 1).trim();
        if processing != "P" {
            return Err(
                "MSH-11 is not P (production): test and debugging messages are refused".into(),
            );
        }
        if !p.component(msh.field(12), 1).trim().starts_with("2.") {
            return Err("MSH-12 is not an HL7 version 2 release".into());
        }
        let heads = |id: &str| p.segments.iter().filter(|s| s.id == id).count();
        if heads("PID") > 1 || heads("MSH") > 1 {
            return Err(
                "one patient and one message per frame: several PID or MSH segments are not taken"
                    .into(),
            );
        }
        Ok(report_of(&p, local))
    })();
    IncomingLabMessage {
        raw,
        peer,
        header,
        report,
    }
}

/// The printable ASCII of a text (for an answer that quotes what was sent).
fn ascii(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(40)
        .collect()
}

fn report_of(p: &Parsed<'_>, local: UtcOffset) -> ReceivedReport {
    let mut report = ReceivedReport::default();
    for seg in &p.segments {
        match seg.id {
            "PID" => {
                let name = p.repetitions(seg.field(5)).next().unwrap_or("");
                report.patient_name = p
                    .components(name)
                    .iter()
                    .take(2)
                    .map(|c| p.text(c))
                    .collect::<String>()
                    .trim()
                    .to_owned();
                for rep in p.repetitions(seg.field(3)) {
                    let c = p.components(rep);
                    let get = |i: usize| c.get(i).copied().unwrap_or("");
                    report.identifiers.push(PatientIdentifier {
                        value: p.text(get(0)).trim().to_owned(),
                        authority: get(3).split(p.d.subcomponent).map(|s| p.text(s)).collect(),
                        type_code: p.text(get(4)).trim().to_owned(),
                    });
                }
            }
            "OBR" => report.orders.push(ReceivedOrder {
                placer: p.text(p.component(seg.field(2), 1)).trim().to_owned(),
                filler: p.text(p.component(seg.field(3), 1)).trim().to_owned(),
                service: p.text(p.component(seg.field(4), 1)).trim().to_owned(),
                collected_at_us: timestamp_us(&p.text(p.component(seg.field(7), 1)), local),
                results: Vec::new(),
            }),
            "OBX" => {
                let c = p.components(seg.field(3));
                let get = |i: usize| p.text(c.get(i).copied().unwrap_or("")).trim().to_owned();
                let mut codes = vec![(get(0), get(1), get(2))];
                if !get(3).is_empty() {
                    codes.push((get(3), get(4), get(5)));
                }
                codes.retain(|(code, _, _)| !code.is_empty());
                let value_type = p.text(seg.field(2)).trim().to_owned();
                let raw_value = p.repetitions(seg.field(5)).next().unwrap_or("");
                let value = if value_type == "SN" {
                    // comparator ^ number: a plain number only when there is no comparator
                    let v = p.components(raw_value);
                    let comparator = p.text(v.first().copied().unwrap_or(""));
                    let number = p.text(v.get(1).copied().unwrap_or(""));
                    format!("{comparator}{number}")
                } else {
                    p.text(raw_value)
                };
                let unit = {
                    let u = p.components(seg.field(6));
                    let code = p.text(u.first().copied().unwrap_or(""));
                    if code.trim().is_empty() {
                        p.text(u.get(1).copied().unwrap_or(""))
                    } else {
                        code
                    }
                };
                let result = ReceivedResult {
                    set_id: p.text(seg.field(1)).trim().to_owned(),
                    sub_id: p.text(seg.field(4)).trim().to_owned(),
                    value_type,
                    codes,
                    value: value.trim().to_owned(),
                    unit: unit.trim().to_owned(),
                    reference_range: p.text(seg.field(7)).trim().to_owned(),
                    flags: p
                        .repetitions(seg.field(8))
                        .map(|f| p.text(f).trim().to_owned())
                        .filter(|f| !f.is_empty())
                        .collect(),
                    status: p.text(seg.field(11)).trim().to_owned(),
                    observed_at_us: timestamp_us(&p.text(p.component(seg.field(14), 1)), local),
                };
                if report.orders.is_empty() {
                    report.orders.push(ReceivedOrder::default());
                }
                if let Some(order) = report.orders.last_mut() {
                    order.results.push(result);
                }
            }
            _ => {}
        }
    }
    report
}

/// The acknowledgement of `m` (original mode): sender and receiver swapped, MSA-2 the
/// message's control id, an ERR for AE and AR; its own text in ASCII, the whole in the
/// sender's character set.
pub fn acknowledgement(
    m: &IncomingLabMessage<'_>,
    answer: &LabAnswer,
    now: OffsetDateTime,
    local: UtcOffset,
) -> Vec<u8> {
    let h = &m.header;
    let stamp = dtm_in(now, local);
    let charset = match h.charset.as_str() {
        "ASCII" => "",
        other => other,
    };
    // the sender and the receiver swapped: we answer as whom the message addressed
    let (us, ours) = match h.receiving_application.as_str() {
        "" => (OUR_APPLICATION, ""),
        app => (app, h.receiving_facility.as_str()),
    };
    let mut out = format!(
        "MSH|^~\\&|{}|{}|{}|{}|{stamp}||ACK^R01^ACK|ACK{}|P|2.5.1||||||{}\rMSA|{}|{}|{}\r",
        escape(us),
        escape(ours),
        escape(&h.sending_application),
        escape(&h.sending_facility),
        answer.message_id,
        escape(charset),
        answer.code.code(),
        escape(&h.control_id),
        escape(&ascii_text(&answer.text)),
    );
    let error = match answer.code {
        AckCode::Accept => None,
        // HL7 table 0357: 204 unknown key identifier (the patient)
        AckCode::Error => Some("204^Unknown key identifier^HL70357"),
        AckCode::Reject => Some("207^Application internal error^HL70357"),
    };
    if let Some(code) = error {
        out.push_str(&format!(
            "ERR|||{code}|E||||{}\r",
            escape(&ascii_text(&answer.text))
        ));
    }
    // in the sender's character set (what it echoes of the message may not be ASCII)
    if h.charset == "GB 18030-2000" {
        encoding_rs::GB18030.encode(&out).0.into_owned()
    } else {
        out.into_bytes()
    }
}

fn ascii_text(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii() && !c.is_ascii_control())
        .take(400)
        .collect()
}

/// An ORU^R01 as a laboratory sends it (the demo's and the tests' messages): `obx` are
/// the OBX segments' fields after `OBX|n|`, `collected` the specimen's time.
pub fn oru_message(
    control_id: &str,
    facility: &str,
    id_number: &str,
    name: &str,
    collected: OffsetDateTime,
    obx: &[&str],
) -> String {
    let placer = format!("PL-{control_id}");
    oru_message_for(
        control_id, &placer, facility, id_number, name, collected, obx,
    )
}

/// [`oru_message`] for an order with its placer number (OBR-2).
pub fn oru_message_for(
    control_id: &str,
    placer: &str,
    facility: &str,
    id_number: &str,
    name: &str,
    collected: OffsetDateTime,
    obx: &[&str],
) -> String {
    let at = collected.to_offset(gongti_app::DISPLAY_OFFSET);
    let stamp = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}+0800",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    let mut out = format!(
        "MSH|^~\\&|LIS|{facility}|{OUR_APPLICATION}||{stamp}||ORU^R01^ORU_R01|{control_id}|P|2.5.1||||||UNICODE UTF-8\r\
         PID|1||{id_number}^^^&2.16.156.10011.1.3&ISO^ID||{name}\r\
         OBR|1|{placer}|FL-{control_id}|24323-8^生化^LN|||{stamp}\r"
    );
    for (n, fields) in obx.iter().enumerate() {
        out.push_str(&format!("OBX|{}|{fields}\r", n + 1));
    }
    out
}

/// Who a message Gongti writes is from and to (MSH) and whom it is about (PID).
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    pub control_id: &'a str,
    /// The sender's institution code (MSH-4) and the receiver's (MSH-6).
    pub sending_facility: &'a str,
    pub receiving_facility: &'a str,
    pub now: OffsetDateTime,
    pub id_number: &'a str,
    pub name: &'a str,
    pub birth_date: time::Date,
    /// `M` or `F` (HL7 table 0001).
    pub sex: &'a str,
}

/// The MSH and PID of a message of `message_type` (v2.5.1, UTF-8): PID-3 the ID number
/// under its OID.
fn envelope(e: &Envelope<'_>, message_type: &str) -> String {
    format!(
        "MSH|^~\\&|{OUR_APPLICATION}|{}||{}|{}||{message_type}|{}|P|2.5.1||||||UNICODE UTF-8\r\
         PID|1||{}^^^&2.16.156.10011.1.3&ISO^ID||{}||{}|{}\r",
        escape(e.sending_facility),
        escape(e.receiving_facility),
        dtm(e.now),
        escape(e.control_id),
        escape(e.id_number),
        escape(e.name),
        e.birth_date.to_string().replace('-', ""),
        escape(e.sex),
    )
}

/// A signed report as the ordering clinic's system gets it (DOMAIN.md §8): from the
/// reading centre's institution to the clinic's.
#[derive(Debug, Clone)]
pub struct ReportOru<'a> {
    pub envelope: Envelope<'a>,
    pub placer_number: &'a str,
    pub accession_number: &'a str,
    pub item_code: &'a str,
    pub item_label: &'a str,
    /// `RAD` or `EC` (HL7 table 0074).
    pub section: &'a str,
    /// When the images arrived (OBR-7), when it was signed (OBR-22).
    pub observed_at: Option<OffsetDateTime>,
    pub signed_at: OffsetDateTime,
    /// An amendment of a signed report (OBR-25 and OBX-11 `C`), else `F`.
    pub amended: bool,
    pub findings: &'a str,
    pub impression: &'a str,
    pub signer: &'a str,
    /// A critical finding: its code and name.
    pub critical: Option<(&'a str, &'a str)>,
}

/// An HL7 DTM in the region's offset (`YYYYMMDDHHMMSS+0800`).
fn dtm(at: OffsetDateTime) -> String {
    dtm_in(at, gongti_app::DISPLAY_OFFSET)
}

/// An HL7 DTM at `offset`.
fn dtm_in(at: OffsetDateTime, offset: UtcOffset) -> String {
    let at = at.to_offset(offset);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}{:+03}{:02}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        offset.whole_hours(),
        offset.minutes_past_hour().unsigned_abs()
    )
}

/// Text for an FT field: escaped, each line break as the `\.br\` formatting command.
fn escape_ft(text: &str) -> String {
    text.lines().map(escape).collect::<Vec<_>>().join("\\.br\\")
}

/// A signed report as an ORU^R01 (v2.5.1, UTF-8): PID with the ID number under its
/// OID, ORC and OBR with the placer and accession numbers, the findings and the
/// impression as FT observations, a critical finding flagged `AA`.
pub fn report_oru(r: &ReportOru<'_>) -> String {
    let status = if r.amended { "C" } else { "F" };
    let mut out = envelope(&r.envelope, "ORU^R01^ORU_R01");
    out.push_str(&format!(
        "ORC|RE|{}|{}||CM\r",
        escape(r.placer_number),
        escape(r.accession_number)
    ));
    // OBR-7 observed, OBR-22 reported, OBR-24 section, OBR-25 status, OBR-32 interpreter
    let mut obr: Vec<String> = vec![String::new(); 33];
    obr[0] = "OBR".into();
    obr[1] = "1".into();
    obr[2] = escape(r.placer_number);
    obr[3] = escape(r.accession_number);
    obr[4] = format!("{}^{}^L", escape(r.item_code), escape(r.item_label));
    obr[7] = r.observed_at.map(dtm).unwrap_or_default();
    obr[22] = dtm(r.signed_at);
    obr[24] = r.section.into();
    obr[25] = status.into();
    obr[32] = escape(r.signer);
    out.push_str(&obr.join("|"));
    out.push('\r');
    out.push_str(&format!(
        "OBX|1|FT|18782-3^Study observation^LN||{}||||||{status}\r",
        escape_ft(r.findings)
    ));
    out.push_str(&format!(
        "OBX|2|FT|19005-8^Impression^LN||{}||||||{status}\r",
        escape_ft(r.impression)
    ));
    if let Some((code, label)) = r.critical {
        out.push_str(&format!(
            "OBX|3|CWE|CRITICAL^危急值 critical finding^L||{}^{}^L|||AA|||{status}\r",
            escape(code),
            escape(label)
        ));
    }
    out
}

/// A laboratory order as the laboratory's system gets it (DOMAIN.md §8: "the order as
/// ORM^O01/OML^O21 to a laboratory system that wants it"): from the ordering
/// institution to the laboratory's.
#[derive(Debug, Clone)]
pub struct OrderOml<'a> {
    pub envelope: Envelope<'a>,
    /// The doctor cancelled it (ORC-1 `CA`); else a new order (`NW`).
    pub cancel: bool,
    pub placer_number: &'a str,
    /// ORC-9: when the order was placed (or, for `CA`, cancelled).
    pub ordered_at: OffsetDateTime,
    /// The ordering doctor: Gongti's staff id and name (ORC-12, OBR-16).
    pub orderer_id: i64,
    pub orderer_name: &'a str,
    pub item_code: &'a str,
    pub item_label: &'a str,
    /// The LOINC code the item is ordered by, when it has one (OBR-4's first triplet;
    /// the local code is the alternate).
    pub loinc: Option<&'a str>,
    /// HL7 table 0485: `S` stat, `A` as soon as possible, `R` routine (TQ1-9).
    pub priority: &'a str,
    /// Why it is ordered (OBR-13).
    pub indication: &'a str,
    /// The specimen (HL7 table 0487) and its name (SPM-4).
    pub specimen: Option<(&'a str, &'a str)>,
}

/// A laboratory order as an OML^O21 (v2.5.1, UTF-8): PID with the ID number under its
/// OID — the identifier the laboratory's results are matched by —, ORC with the order
/// control and the placer number (which the laboratory's ORU names back), TQ1 with the
/// priority, OBR with the test and the indication, SPM with the specimen.
pub fn order_oml(o: &OrderOml<'_>) -> String {
    let mut out = envelope(&o.envelope, "OML^O21^OML_O21");
    let orderer = format!("{}^{}", o.orderer_id, escape(o.orderer_name));
    out.push_str(&format!(
        "ORC|{}|{}|||||||{}|||{orderer}\r",
        if o.cancel { "CA" } else { "NW" },
        escape(o.placer_number),
        dtm(o.ordered_at),
    ));
    out.push_str(&format!("TQ1|1||||||||{}\r", escape(o.priority)));
    let local = format!("{}^{}^L", escape(o.item_code), escape(o.item_label));
    let service = match o.loinc {
        Some(loinc) => format!("{}^{}^LN^{local}", escape(loinc), escape(o.item_label)),
        None => local,
    };
    // OBR-2 placer, OBR-4 the test, OBR-13 relevant clinical information, OBR-16 orderer
    let mut obr: Vec<String> = vec![String::new(); 17];
    obr[0] = "OBR".into();
    obr[1] = "1".into();
    obr[2] = escape(o.placer_number);
    obr[4] = service;
    obr[13] = escape(o.indication);
    obr[16] = orderer;
    out.push_str(&obr.join("|"));
    out.push('\r');
    if let Some((code, label)) = o.specimen {
        out.push_str(&format!(
            "SPM|1|||{}^{}^HL70487\r",
            escape(code),
            escape(label)
        ));
    }
    out
}

/// The MSA of a system's acknowledgement: its code (AA, AE, AR …), the control id it
/// acknowledges, its text; `None` when the bytes hold no MSA.
pub fn read_ack(raw: &[u8]) -> Option<(String, String, String)> {
    let text = String::from_utf8_lossy(raw);
    let msh = text.split(['\r', '\n']).find(|s| s.starts_with("MSH"))?;
    let field = msh.chars().nth(3)?;
    let msa = text
        .split(['\r', '\n'])
        .find(|s| s.starts_with("MSA"))?
        .split(field)
        .map(str::to_owned)
        .collect::<Vec<_>>();
    let get = |i: usize| msa.get(i).cloned().unwrap_or_default();
    Some((get(1), get(2), get(3)))
}

/// The demo region's laboratory day (DOMAIN.md §8): the cloud laboratory at
/// `facility` sends, for each of `patients` (ID number, name, the placer number of the
/// order it answers), a chemistry panel with an HbA1c and a fasting glucose — the first
/// with a critical potassium —, and one message for a person nobody registered, held
/// for matching. Returns the answers.
pub async fn seed_demo_lab_day(
    app: &gongti_app::App,
    facility: &str,
    patients: &[(String, String, String)],
) -> gongti_app::AppResult<Vec<LabAnswer>> {
    let collected = app.now() - time::Duration::hours(3);
    let mut messages = Vec::new();
    for (i, (id_number, name, placer)) in patients.iter().enumerate() {
        let potassium = if i == 0 { "6.8" } else { "4.3" };
        let flag = if i == 0 { "HH" } else { "N" };
        messages.push(oru_message_for(
            &format!("DEMO-LAB-{i}"),
            placer,
            facility,
            id_number,
            name,
            collected,
            &[
                &format!("NM|2823-3^钾^LN||{potassium}|mmol/L|3.5-5.3|{flag}|||F"),
                "NM|14771-0^空腹血糖^LN||7.6|mmol/L|3.9-6.1|H|||F",
                "NM|4548-4^糖化血红蛋白^LN||7.3|%|4.0-6.0|H|||F",
                "NM|14682-9^肌酐^LN||78|umol/L|41-97|N|||F",
            ],
        ));
    }
    messages.push(oru_message(
        "DEMO-LAB-HELD",
        facility,
        "110105198001010016",
        "王^小明",
        collected,
        &["NM|718-7^血红蛋白^LN||128|g/L|115-150|N|||F"],
    ));
    let mut answers = Vec::new();
    for m in &messages {
        let incoming = read_message(m.as_bytes(), "demo", gongti_app::DISPLAY_OFFSET);
        answers.push(app.receive_lab_message(incoming).await?);
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    const CN: UtcOffset = offset!(+8);

    fn oru(msh18: &str, extra: &str) -> String {
        format!(
            "MSH|^~\\&|LIS|CLOUDLAB|GONGTI|JICENG01|20261201083000+0800||ORU^R01^ORU_R01|MSG00001|P|2.5.1||||||{msh18}\r\
             PID|1||11010519491231002X^^^&2.16.156.10011.1.3&ISO^ID~MRN7^^^HOSP^MR||张^三||19491231|F\r\
             OBR|1|PL1|FL1|24323-8^Comprehensive metabolic panel^LN|||20261201073000+0800\r\
             OBX|1|NM|2823-3^Potassium^LN||7.1|mmol/L|3.5-5.3|HH~A|||F|||20261201080000+0800\r\
             OBX|2|ST|5804-0^Protein^LN||\\T\\阴性\\E\\|||N|||F\r{extra}"
        )
    }

    #[test]
    fn an_oru_read_with_its_delimiters_escapes_and_times() {
        let text = oru("UNICODE UTF-8", "");
        let m = read_message(text.as_bytes(), "127.0.0.1:1", CN);
        assert_eq!(m.header.sending_application, "LIS");
        assert_eq!(m.header.sending_facility, "CLOUDLAB");
        assert_eq!(m.header.control_id, "MSG00001");
        assert_eq!(m.header.message_type, "ORU^R01");
        assert_eq!(m.header.charset, "UNICODE UTF-8");
        let r = m.report.expect("read");
        assert_eq!(r.identifiers.len(), 2);
        assert_eq!(r.patient_name, "张三");
        assert_eq!(r.identifiers[0].value, "11010519491231002X");
        assert_eq!(
            r.identifiers[0].authority,
            ["", "2.16.156.10011.1.3", "ISO"]
        );
        let o = &r.orders[0];
        assert_eq!((o.placer.as_str(), o.filler.as_str()), ("PL1", "FL1"));
        let collected = datetime!(2026-11-30 23:30 UTC);
        assert_eq!(
            o.collected_at_us,
            Some((collected.unix_timestamp_nanos() / 1000) as i64)
        );
        let k = &o.results[0];
        assert_eq!(
            k.codes[0],
            ("2823-3".into(), "Potassium".into(), "LN".into())
        );
        assert_eq!((k.value.as_str(), k.unit.as_str()), ("7.1", "mmol/L"));
        assert_eq!(k.flags, ["HH", "A"]);
        assert_eq!(k.status, "F");
        assert_eq!(o.results[1].value, "&阴性\\");
    }

    #[test]
    fn character_sets_by_msh_18() {
        let utf8 = oru("UNICODE UTF-8", "");
        let gb_text = utf8.replace("UNICODE UTF-8", "GB 18030-2000");
        let (gb, _, _) = encoding_rs::GB18030.encode(&gb_text);
        let m = read_message(&gb, "p", CN);
        assert_eq!(m.header.charset, "GB 18030-2000");
        assert_eq!(m.report.unwrap().orders[0].results[1].value, "&阴性\\");
        // undeclared GB 18030 bytes (MSH-18 empty) are read as GB 18030
        let plain = utf8.replace("UNICODE UTF-8", "");
        let (undeclared, _, _) = encoding_rs::GB18030.encode(&plain);
        let m = read_message(&undeclared, "p", CN);
        assert_eq!(m.header.charset, "GB 18030-2000");
        assert!(m.report.is_ok());
        // declared UTF-8 that is not
        let lying = gb.to_vec().replace_msh18();
        let m = read_message(&lying, "p", CN);
        assert!(m.report.unwrap_err().contains("UTF-8"));
        let latin = oru("8859/1", "");
        let m = read_message(latin.as_bytes(), "p", CN);
        assert!(m.report.unwrap_err().contains("character set"));
    }

    trait ReplaceMsh18 {
        fn replace_msh18(self) -> Vec<u8>;
    }
    impl ReplaceMsh18 for Vec<u8> {
        fn replace_msh18(self) -> Vec<u8> {
            let from = b"GB 18030-2000";
            let to = b"UNICODE UTF-8";
            let i = self
                .windows(from.len())
                .position(|w| w == from)
                .expect("msh-18");
            let mut out = self;
            out[i..i + from.len()].copy_from_slice(to);
            out
        }
    }

    #[test]
    fn what_is_rejected_and_why() {
        let cases: &[(&str, &str)] = &[
            ("PID|1\r", "MSH segment"),
            ("MSH|^~|LIS|LAB\r", "encoding characters"),
            (
                "MSH|^~\\&|LIS|LAB|G|J|20261201||ADT^A01|C1|P|2.5.1\r",
                "only ORU^R01",
            ),
            (
                "MSH|^~\\&|LIS|LAB|G|J|20261201||ORU^R01|C1|T|2.5.1\r",
                "MSH-11",
            ),
            (
                "MSH|^~\\&|LIS|LAB|G|J|20261201||ORU^R01||P|2.5.1\r",
                "MSH-10",
            ),
            (
                "MSH|^~\\&|LIS|LAB|G|J|20261201||ORU^R01|C1|P|3.0\r",
                "MSH-12",
            ),
            (
                "MSH|^~\\&|LIS|LAB|G|J|20261201||ORU^R01|C1|P|2.5.1\rPID|1||A\rPID|2||B\r",
                "one patient",
            ),
        ];
        for (text, why) in cases {
            let m = read_message(text.as_bytes(), "p", CN);
            let err = m.report.unwrap_err();
            assert!(err.contains(why), "{text:?}: {err}");
        }
    }

    #[test]
    fn segments_ended_by_lf_and_other_delimiters() {
        let text = "MSH#:*!%#LIS#LAB#G#J#20261201##ORU:R01#C9#P#2.5.1\n\
                    PID#1##11010519491231002X:::%2.16.156.10011.1.3:ID\r\n\
                    OBR#1#P1#F1\n\
                    OBX#1#NM#4548-4:HbA1c:LN##7.2#%##!F!###F\n";
        let m = read_message(text.as_bytes(), "p", CN);
        let r = m.report.expect("read");
        assert_eq!(r.identifiers[0].authority, ["", "2.16.156.10011.1.3"]);
        let x = &r.orders[0].results[0];
        assert_eq!(
            (x.value.as_str(), x.unit.as_str(), x.status.as_str()),
            ("7.2", "%", "F")
        );
        assert_eq!(x.flags, ["#"]);
    }

    #[test]
    fn a_signed_report_as_the_clinic_reads_it() {
        let at = time::macros::datetime!(2026-12-05 06:30:00 UTC);
        let r = ReportOru {
            envelope: Envelope {
                control_id: "GTO1",
                sending_facility: "H1",
                receiving_facility: "C1",
                now: at,
                id_number: "11010519491231002X",
                name: "张秀英",
                birth_date: time::macros::date!(1949 - 12 - 31),
                sex: "F",
            },
            placer_number: "C1-00000001",
            accession_number: "RAD0100000001",
            item_code: "XR-CHEST",
            item_label: "胸部正位DR",
            section: "RAD",
            observed_at: Some(at - time::Duration::hours(1)),
            signed_at: at,
            amended: true,
            findings: "右侧气胸|压缩约40%\n纵隔左移",
            impression: "右侧张力性气胸",
            signer: "冯立新",
            critical: Some(("IMG-PNEUMO", "大量或张力性气胸")),
        };
        let text = report_oru(&r);
        let segments: Vec<&str> = text.trim_end_matches('\r').split('\r').collect();
        let names: Vec<&str> = segments.iter().map(|s| &s[..3]).collect();
        assert_eq!(names, ["MSH", "PID", "ORC", "OBR", "OBX", "OBX", "OBX"]);
        let field = |seg: usize, n: usize| segments[seg].split('|').nth(n).unwrap_or("").to_owned();
        let cases: &[(usize, usize, &str)] = &[
            (0, 3, "H1"),
            (0, 5, "C1"),
            (0, 6, "20261205143000+0800"),
            (0, 8, "ORU^R01^ORU_R01"),
            (0, 9, "GTO1"),
            (0, 17, "UNICODE UTF-8"),
            (1, 3, "11010519491231002X^^^&2.16.156.10011.1.3&ISO^ID"),
            (1, 5, "张秀英"),
            (1, 7, "19491231"),
            (3, 2, "C1-00000001"),
            (3, 3, "RAD0100000001"),
            (3, 7, "20261205133000+0800"),
            (3, 24, "RAD"),
            (3, 25, "C"),
            (3, 32, "冯立新"),
            (4, 5, "右侧气胸\\F\\压缩约40%\\.br\\纵隔左移"),
            (4, 11, "C"),
            (5, 5, "右侧张力性气胸"),
            (6, 5, "IMG-PNEUMO^大量或张力性气胸^L"),
            (6, 8, "AA"),
        ];
        for (seg, n, want) in cases {
            assert_eq!(field(*seg, *n), *want, "{}-{n}", names[*seg]);
        }
        // and our own reader takes it back
        let back = read_message(text.as_bytes(), "test", gongti_app::DISPLAY_OFFSET);
        assert_eq!(back.header.control_id, "GTO1");
    }

    #[test]
    fn a_laboratory_order_as_the_laboratory_reads_it() {
        let at = time::macros::datetime!(2026-12-05 06:30:00 UTC);
        let o = OrderOml {
            envelope: Envelope {
                control_id: "GTO7",
                sending_facility: "C1",
                receiving_facility: "H1",
                now: at,
                id_number: "11010519491231002X",
                name: "张秀英",
                birth_date: time::macros::date!(1949 - 12 - 31),
                sex: "F",
            },
            cancel: false,
            placer_number: "C1-00000007",
            ordered_at: at - time::Duration::minutes(5),
            orderer_id: 12,
            orderer_name: "王建国",
            item_code: "HBA1C",
            item_label: "糖化血红蛋白",
            loinc: Some("4548-4"),
            priority: "R",
            indication: "2型糖尿病 季度复查|空腹",
            specimen: Some(("BLD", "全血")),
        };
        let text = order_oml(&o);
        let segments: Vec<&str> = text.trim_end_matches('\r').split('\r').collect();
        let names: Vec<&str> = segments.iter().map(|s| &s[..3]).collect();
        assert_eq!(names, ["MSH", "PID", "ORC", "TQ1", "OBR", "SPM"]);
        let field = |seg: usize, n: usize| segments[seg].split('|').nth(n).unwrap_or("").to_owned();
        let cases: &[(usize, usize, &str)] = &[
            (0, 3, "C1"),
            (0, 5, "H1"),
            (0, 8, "OML^O21^OML_O21"),
            (0, 9, "GTO7"),
            (1, 3, "11010519491231002X^^^&2.16.156.10011.1.3&ISO^ID"),
            (2, 1, "NW"),
            (2, 2, "C1-00000007"),
            (2, 9, "20261205142500+0800"),
            (2, 12, "12^王建国"),
            (3, 9, "R"),
            (4, 2, "C1-00000007"),
            (4, 4, "4548-4^糖化血红蛋白^LN^HBA1C^糖化血红蛋白^L"),
            (4, 13, "2型糖尿病 季度复查\\F\\空腹"),
            (4, 16, "12^王建国"),
            (5, 4, "BLD^全血^HL70487"),
        ];
        for (seg, n, want) in cases {
            assert_eq!(field(*seg, *n), *want, "{}-{n}", names[*seg]);
        }
        let cancelled = order_oml(&OrderOml {
            cancel: true,
            loinc: None,
            specimen: None,
            ..o
        });
        assert!(cancelled.contains("\rORC|CA|C1-00000007|"), "{cancelled}");
        assert!(cancelled.contains("|HBA1C^糖化血红蛋白^L|"), "{cancelled}");
        assert!(!cancelled.contains("SPM"));
    }

    #[test]
    fn an_acknowledgement_is_read() {
        let ack = b"MSH|^~\\&|RIS|C1|GONGTI|H1|20261205||ACK^R01^ACK|A1|P|2.5.1\rMSA|AE|GTO1|unknown patient\r";
        assert_eq!(
            read_ack(ack),
            Some(("AE".into(), "GTO1".into(), "unknown patient".into()))
        );
        assert_eq!(read_ack(b"MSH|^~\\&|X\r"), None);
        assert_eq!(read_ack(b"garbage"), None);
    }

    #[test]
    fn escapes_and_timestamps() {
        let d = Delimiters::default();
        let cases: &[(&str, &str)] = &[
            ("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", "a|b^c&d~e\\f"),
            ("line\\.br\\two", "line\ntwo"),
            ("\\H\\bold\\N\\", "bold"),
            ("\\XE4BDA0\\", "你"),
            ("\\Z99\\", "\\Z99\\"),
            ("open\\F", "open\\F"),
        ];
        for (text, want) in cases {
            assert_eq!(unescape(text, &d), *want, "{text}");
        }
        assert_eq!(unescape(&escape("a|b^c&d~e\\f"), &d), "a|b^c&d~e\\f");
        let us = |t: OffsetDateTime| Some((t.unix_timestamp_nanos() / 1000) as i64);
        let stamps: &[(&str, Option<i64>)] = &[
            ("20261201083000+0800", us(datetime!(2026-12-01 00:30 UTC))),
            ("20261201083000", us(datetime!(2026-12-01 00:30 UTC))),
            ("202612010830", us(datetime!(2026-12-01 00:30 UTC))),
            ("20261201", us(datetime!(2026-11-30 16:00 UTC))),
            (
                "20261201083000.25-0500",
                us(datetime!(2026-12-01 13:30:00.25 UTC)),
            ),
            ("2026120108300", None),
            ("20261301", None),
            ("20261201083000+08", None),
            ("", None),
        ];
        for (text, want) in stamps {
            assert_eq!(timestamp_us(text, CN), *want, "{text}");
        }
    }

    #[test]
    fn the_acknowledgement_swaps_sender_and_receiver() {
        let text = oru("", "");
        let m = read_message(text.as_bytes(), "p", CN);
        let at = datetime!(2026-12-01 00:30 UTC);
        let ack = acknowledgement(
            &m,
            &LabAnswer {
                code: AckCode::Error,
                text: "nobody | registered 张".into(),
                message_id: 7,
            },
            at,
            CN,
        );
        let ack = String::from_utf8(ack).unwrap();
        let segs: Vec<&str> = ack.split('\r').collect();
        assert!(
            segs[0].starts_with(
                "MSH|^~\\&|GONGTI|JICENG01|LIS|CLOUDLAB|20261201083000+0800||ACK^R01^ACK|ACK7|P|2.5.1"
            ),
            "{}",
            segs[0]
        );
        assert_eq!(segs[1], "MSA|AE|MSG00001|nobody \\F\\ registered ");
        assert!(segs[2].starts_with("ERR|||204^"));
    }
}
