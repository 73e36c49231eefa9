//! HL7 ORU ingest over MLLP (issue 16, DOMAIN.md §8): messages and results a second,
//! each message stored durably (SQLite, `synchronous=FULL`) with its audit record
//! before its acknowledgement, at 1 and 16 connections, against a reference listener
//! in the same run that only frames each message and answers a constant
//! acknowledgement (the same framer, the same loopback TCP, no parsing, no store).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use gongti_web::mllp::{END_BLOCK, Frame, Framer, frame, serve_mllp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::load::{Load, Method, percentile};
use crate::{residents_json, serve_sqlite, token};

/// The results a message carries (a chemistry panel of items Gongti knows).
const PANEL: [&str; 8] = [
    "NM|2823-3^钾^LN||4.3|mmol/L|3.5-5.3|N|||F",
    "NM|2951-2^钠^LN||141|mmol/L|137-147|N|||F",
    "NM|14749-6^葡萄糖^LN||5.6|mmol/L|3.9-6.1|N|||F",
    "NM|14682-9^肌酐^LN||78|umol/L|41-97|N|||F",
    "NM|1742-6^丙氨酸氨基转移酶^LN||22|U/L|7-50|N|||F",
    "NM|1920-8^天门冬氨酸氨基转移酶^LN||25|U/L|13-40|N|||F",
    "NM|14647-2^总胆固醇^LN||4.6|mmol/L|<5.2|N|||F",
    "NM|14927-8^甘油三酯^LN||1.3|mmol/L|<1.7|N|||F",
];

/// The reference: frames and answers a constant acknowledgement.
async fn reference(listener: TcpListener) {
    let ack = frame(b"MSH|^~\\&|REF||LIS|LAB|20261201||ACK^R01^ACK|1|P|2.5.1\rMSA|AA|1\r");
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let ack = ack.clone();
        tokio::spawn(async move {
            let mut framer = Framer::default();
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    return;
                }
                for f in framer.push(&buf[..n]) {
                    if f == Frame::TooLong || stream.write_all(&ack).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

/// Sends `messages` over `connections` connections, each message after the previous
/// one's acknowledgement: the time taken, each exchange's time (ms) and how many were
/// answered AA.
async fn drive(
    addr: std::net::SocketAddr,
    messages: &[Vec<u8>],
    connections: usize,
) -> anyhow::Result<(Duration, Vec<f64>, usize)> {
    let chunk = messages.len().div_ceil(connections);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for part in messages.chunks(chunk) {
        let part: Vec<Vec<u8>> = part.to_vec();
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let mut times = Vec::with_capacity(part.len());
            let mut accepted = 0;
            let mut buf = vec![0u8; 16 * 1024];
            for m in &part {
                let t = Instant::now();
                stream.write_all(&frame(m)).await?;
                let mut got = Vec::new();
                while !got.ends_with(&[END_BLOCK, 0x0D]) {
                    let n = stream.read(&mut buf).await?;
                    if n == 0 {
                        bail!("the listener closed the connection");
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                times.push(t.elapsed().as_secs_f64() * 1000.0);
                if got.windows(7).any(|w| w == b"MSA|AA|") {
                    accepted += 1;
                }
            }
            anyhow::Ok((times, accepted))
        }));
    }
    let mut times = Vec::new();
    let mut accepted = 0;
    for t in tasks {
        let (ts, a) = t.await??;
        times.extend(ts);
        accepted += a;
    }
    let elapsed = started.elapsed();
    times.sort_by(f64::total_cmp);
    Ok((elapsed, times, accepted))
}

pub(crate) async fn mllp(messages: usize, results: usize) -> anyhow::Result<()> {
    let results = results.clamp(1, PANEL.len());
    println!(
        "\n== mllp: {messages} ORU^R01 of {results} results each, SQLite (WAL, synchronous=FULL)"
    );
    let server = serve_sqlite().await?;
    let load = Load::new(1);
    let doctor = token(&load, &server.base, "doctor").await?;
    let rows = residents_json(500);
    for r in &rows {
        load.once(
            Method::Post,
            &format!("{}/api/v1/residents", server.base),
            Some(&doctor),
            Some(r.to_string()),
        )
        .await?;
    }
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r["id_number"].as_str().map(str::to_owned).context("id"))
        .collect::<anyhow::Result<_>>()?;
    let user = server
        .store
        .user_by_username("specialist")
        .await?
        .context("the demo's specialist")?;
    let lab = server
        .store
        .staff_member(user.staff_id)
        .await?
        .institution_id
        .context("the specialist's hospital")?;
    let facility = server.store.institution(lab).await?.code;

    let ours = TcpListener::bind("127.0.0.1:0").await?;
    let ours_addr = ours.local_addr()?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let listener = tokio::spawn(serve_mllp(ours, server.app.clone(), Vec::new(), stopped));
    let reference_listener = TcpListener::bind("127.0.0.1:0").await?;
    let reference_addr = reference_listener.local_addr()?;
    tokio::spawn(reference(reference_listener));

    let collected = server.app.now() - time::Duration::hours(1);
    let panel: Vec<&str> = PANEL[..results].to_vec();
    for connections in [1, 16] {
        let batch: Vec<Vec<u8>> = (0..messages)
            .map(|i| {
                gongti_web::hl7::oru_message(
                    &format!("B{connections}-{i}"),
                    &facility,
                    &ids[i % ids.len()],
                    "张^三",
                    collected,
                    &panel,
                )
                .into_bytes()
            })
            .collect();
        let (ref_time, ref_times, _) = drive(reference_addr, &batch, connections).await?;
        let (time, times, accepted) = drive(ours_addr, &batch, connections).await?;
        if accepted != messages {
            bail!("{accepted} of {messages} messages were accepted");
        }
        let per_s = |d: Duration| messages as f64 / d.as_secs_f64();
        println!(
            "reference  frame + constant ACK, {connections:>2} conn: {:>9.0} messages/s  (p50 {:.2} ms, p99 {:.2} ms)",
            per_s(ref_time),
            percentile(&ref_times, 50.0),
            percentile(&ref_times, 99.0)
        );
        println!(
            "gongti     stored before ACK,    {connections:>2} conn: {:>9.0} messages/s = {:.0} results/s  (p50 {:.2} ms, p99 {:.2} ms, {accepted} AA)",
            per_s(time),
            per_s(time) * results as f64,
            percentile(&times, 50.0),
            percentile(&times, 99.0)
        );
        println!(
            "ratio      gongti / reference:       {:.3}",
            per_s(time) / per_s(ref_time)
        );
    }
    let stored = server
        .store
        .hl7_messages("AA", None, i64::try_from(messages * 3)?)
        .await?
        .len();
    println!(
        "check      messages stored: {stored} (sent: {})",
        messages * 2
    );
    let _ = stop.send(true);
    listener.await??;
    Ok(())
}
