//! The sender of messages to institutions' systems over MLLP (DOMAIN.md §8): signed
//! reports to the ordering clinic's, laboratory orders to the laboratory's. For each
//! institution whose system Gongti is told of (`--hl7-send CODE=HOST:PORT`), the due
//! messages are composed (`hl7::report_oru`, `hl7::order_oml`) and written one by one
//! on a connection, each waiting for its acknowledgement; the answer — or why there
//! was none — goes back to the app, which ends the message or puts it off.

use std::time::Duration;

use gongti_app::App;
use gongti_app::exam::hl7_out::{Delivery, Outgoing, OutgoingOrder, OutgoingReport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::hl7::{Envelope, OrderOml, ReportOru, order_oml, read_ack, report_oru};
use crate::mllp::{Frame, Framer, frame};

/// How long connecting, writing a message or waiting for its answer may take.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the queue is looked at.
pub const EVERY: Duration = Duration::from_secs(2);
/// Messages taken per institution at a time.
const BATCH: i64 = 50;

/// A clinic system that wants Gongti's messages.
#[derive(Debug, Clone)]
pub struct Peer {
    pub institution_id: i64,
    /// `host:port` of its MLLP listener.
    pub address: String,
}

fn at(us: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// A message's MSH and PID: from `sending` to `receiving`, about `resident`.
fn envelope<'a>(
    control: &'a str,
    sending: &'a str,
    receiving: &'a str,
    now: time::OffsetDateTime,
    resident: &'a gongti_store::ResidentRecord,
) -> Envelope<'a> {
    Envelope {
        control_id: control,
        sending_facility: sending,
        receiving_facility: receiving,
        now,
        id_number: resident.id_number.as_str(),
        name: &resident.name,
        birth_date: resident.birth_date,
        sex: match resident.sex {
            gongti_core::id_number::Sex::Male => "M",
            gongti_core::id_number::Sex::Female => "F",
        },
    }
}

/// The message of a due row: its control id and bytes.
pub fn compose(m: &Outgoing, now: time::OffsetDateTime) -> (String, Vec<u8>) {
    let control = format!("GTO{}", m.queued().id);
    let bytes = match m {
        Outgoing::Report(r) => compose_oru(r, &control, now),
        Outgoing::Order(o) => compose_oml(o, &control, now),
    };
    (control, bytes)
}

/// The OML of a laboratory order.
fn compose_oml(m: &OutgoingOrder, control: &str, now: time::OffsetDateTime) -> Vec<u8> {
    use gongti_core::exam::orders::Priority;
    let item = gongti_core::exam::orders::Catalogue::builtin().get(&m.order.item_code);
    let specimen = item
        .and_then(|i| i.specimen)
        .map(|s| (s.code(), s.label_zh()));
    let oml = OrderOml {
        envelope: envelope(control, &m.placer_code, &m.centre_code, now, &m.resident),
        cancel: m.cancel,
        placer_number: &m.order.placer_number,
        // ORC-9: when the order was placed, or when it was cancelled
        ordered_at: at(if m.cancel {
            m.queued.created_at_us
        } else {
            m.order.created_at_us
        }),
        orderer_id: m.order.ordered_by_staff_id,
        orderer_name: &m.order.ordered_by_name,
        item_code: &m.order.item_code,
        item_label: item.map_or(m.order.item_code.as_str(), |i| i.label_zh.as_str()),
        loinc: item.and_then(|i| i.order_loinc.as_deref()),
        priority: match m.order.priority {
            Priority::Stat => "S",
            Priority::Urgent => "A",
            Priority::Routine => "R",
        },
        indication: &m.order.indication,
        specimen,
    };
    order_oml(&oml).into_bytes()
}

/// The ORU of a signed report.
fn compose_oru(m: &OutgoingReport, control: &str, now: time::OffsetDateTime) -> Vec<u8> {
    let item = gongti_core::exam::orders::Catalogue::builtin().get(&m.order.item_code);
    let finding = m.version.critical_code.as_deref().map(|code| {
        let label = gongti_core::exam::critical::CriticalFindings::builtin()
            .by_code(code)
            .map_or(code, |f| f.label_zh.as_str());
        (code, label)
    });
    let oru = ReportOru {
        envelope: envelope(control, &m.centre_code, &m.clinic_code, now, &m.resident),
        placer_number: &m.order.placer_number,
        accession_number: &m.order.accession_number,
        item_code: &m.order.item_code,
        item_label: item.map_or(m.order.item_code.as_str(), |i| i.label_zh.as_str()),
        section: if m.order.category == gongti_core::exam::orders::Category::Ecg {
            "EC"
        } else {
            "RAD"
        },
        observed_at: m.observed_at_us.map(at),
        signed_at: at(m.version.at_us),
        amended: m.amended,
        findings: &m.version.findings,
        impression: &m.version.impression,
        signer: &m.version.staff_name,
        critical: finding,
    };
    report_oru(&oru).into_bytes()
}

/// Writes one message on `stream` and reads its acknowledgement.
async fn exchange(stream: &mut TcpStream, message: &[u8], control: &str) -> Delivery {
    let call = async {
        stream.write_all(&frame(message)).await?;
        let mut framer = Framer::default();
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf).await?;
            anyhow::ensure!(n > 0, "the system closed the connection without answering");
            match framer.push(&buf[..n]).into_iter().next() {
                Some(Frame::Message(ack)) => return Ok(ack),
                Some(Frame::TooLong) => anyhow::bail!("the answer is too long"),
                None => {}
            }
        }
    };
    match tokio::time::timeout(PEER_TIMEOUT, call).await {
        Err(_) => Delivery::Failed {
            problem: "no answer in time".into(),
        },
        Ok(Err(e)) => Delivery::Failed {
            problem: e.to_string(),
        },
        Ok(Ok(ack)) => match read_ack(&ack) {
            Some((code, acked, text)) if acked == control => Delivery::Answered { code, text },
            Some((_, acked, _)) => Delivery::Failed {
                problem: format!("the answer acknowledges {acked}, not {control}"),
            },
            None => Delivery::Failed {
                problem: "the answer has no MSA".into(),
            },
        },
    }
}

/// Sends every due message of every peer once; returns how many were answered.
pub async fn deliver_once(app: &App, peers: &[Peer]) -> anyhow::Result<usize> {
    let mut answered = 0;
    for peer in peers {
        let due = app.due_messages_out(peer.institution_id, BATCH).await?;
        if due.is_empty() {
            continue;
        }
        let connected = tokio::time::timeout(PEER_TIMEOUT, TcpStream::connect(&peer.address)).await;
        let mut stream = match connected {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => {
                tracing::warn!(address = %peer.address, error = %e, "a clinic system cannot be reached");
                None
            }
            Err(_) => None,
        };
        for m in &due {
            let delivery = match stream.as_mut() {
                None => Delivery::Failed {
                    problem: format!("{} cannot be reached", peer.address),
                },
                Some(s) => {
                    let (control, bytes) = compose(m, app.now());
                    exchange(s, &bytes, &control).await
                }
            };
            if matches!(delivery, Delivery::Answered { .. }) {
                answered += 1;
            } else {
                // the connection is not trusted after a failure
                stream = None;
            }
            app.message_delivered(m, &delivery).await?;
        }
    }
    Ok(answered)
}

/// Delivers until `stop` turns true, looking at the queue every [`EVERY`].
pub async fn run(app: App, peers: Vec<Peer>, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(e) = deliver_once(&app, &peers).await {
            tracing::error!(error = %e, "sending reports to clinic systems");
        }
        tokio::select! {
            _ = tokio::time::sleep(EVERY) => {}
            _ = stop.changed() => return,
        }
    }
}
