//! The audit trail from the command line: starting the application with the signing
//! key and the anchor file, the server's start-up check of the chain, `audit verify`
//! and `audit key`.

use std::process::ExitCode;

use anyhow::Context;
use gongti_app::audit::checkpoint::{Anchor, AuditKey, Signing};
use gongti_app::audit::{Anchors, CheckpointProblem, IndexFinding, Source, VerifyReport};
use gongti_app::{App, system_clock};
use gongti_core::audit::AuditEntry;
use gongti_core::checkpoint::unhex;
use gongti_store::Store;

use crate::config::Settings;

/// Reads the signing key (creating it on first use, and saying so with its public key)
/// and the anchor file's checkpoints, trusting that key and `extra` public keys.
fn signing_and_anchors(
    settings: &Settings,
    extra: &[String],
) -> anyhow::Result<(Signing, Anchors)> {
    let (key, created) =
        AuditKey::load_or_create(&settings.audit_key).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    if created {
        println!(
            "审计签名密钥已生成 audit signing key created at {}\n审计签名公钥 audit public key (give it to the auditors): {}",
            settings.audit_key.display(),
            key.public_hex()
        );
    }
    let anchor = Anchor::at(&settings.audit_anchor);
    let mut anchors = read_anchors(&anchor)?;
    anchors.trusted_keys.push(key.public());
    anchors.trusted_keys.extend(trusted_keys(extra)?);
    Ok((Signing { key, anchor }, anchors))
}

fn read_anchors(anchor: &Anchor) -> anyhow::Result<Anchors> {
    let mut anchors = Anchors::default();
    add_anchor(&mut anchors, anchor)?;
    Ok(anchors)
}

fn add_anchor(anchors: &mut Anchors, anchor: &Anchor) -> anyhow::Result<()> {
    let lines = anchor.read().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    anchors.add(lines, anchor.path());
    Ok(())
}

fn trusted_keys(hex_keys: &[String]) -> anyhow::Result<Vec<[u8; 32]>> {
    hex_keys
        .iter()
        .map(|k| {
            unhex(k.trim())
                .with_context(|| format!("--trusted-key {k}: not a public key (64 hex digits)"))
        })
        .collect()
}

/// Starts the application with the audit writer signing checkpoints. With `check`
/// (a server starting), the chain is checked first (`startup_check`): a broken one
/// stops the start unless `accept_broken` gives a reason, which is itself audited.
pub async fn start_app(
    store: Store,
    settings: &Settings,
    check: bool,
    accept_broken: Option<&str>,
) -> anyhow::Result<(App, tokio::task::JoinHandle<()>)> {
    let (signing, anchors) = signing_and_anchors(settings, &[])?;
    let problem = match check {
        true => gongti_app::audit::startup_check(&store, &anchors)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        false => None,
    };
    if let Some(problem) = &problem {
        match accept_broken
            .map(str::trim)
            .filter(|r| r.chars().count() >= 4)
        {
            None => anyhow::bail!(
                "{problem}\n审计链未通过检查，服务不启动 the server does not start on a broken audit chain: run `gongti audit verify` to see what is wrong; to serve anyway, give --accept-broken-audit-chain \"<reason>\" (the acceptance is audited)"
            ),
            Some(reason) => {
                tracing::warn!(%problem, reason, "starting on a broken audit chain, as told")
            }
        }
    }
    let (app, writer) = App::start_signing(store, system_clock(), Some(signing))
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    if let (Some(problem), Some(reason)) = (problem, accept_broken) {
        app.audit_edge(AuditEntry {
            reason: Some(reason.trim().to_owned()),
            detail: Some(problem),
            ..AuditEntry::system(
                gongti_app::unix_us(app.now()),
                "audit.accept_broken",
                "AuditTrail",
            )
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    Ok((app, writer))
}

/// `gongti audit verify`: reads the store beside its owner; exit 0 when sound.
pub async fn verify(
    store: &Store,
    settings: &Settings,
    trusted: &[String],
    more_anchors: &[std::path::PathBuf],
) -> anyhow::Result<ExitCode> {
    let mut anchors = read_anchors(&Anchor::at(&settings.audit_anchor))?;
    for path in more_anchors {
        add_anchor(&mut anchors, &Anchor::at(path))?;
    }
    if settings.audit_key.exists() {
        let key = AuditKey::load(&settings.audit_key).map_err(|e| anyhow::anyhow!("{e:?}"))?;
        anchors.trusted_keys.push(key.public());
    }
    anchors.trusted_keys.extend(trusted_keys(trusted)?);
    if anchors.trusted_keys.is_empty() {
        println!(
            "未给出可信公钥 no trusted public key (--trusted-key, or the key file {}): checkpoints cannot be checked",
            settings.audit_key.display()
        );
    }
    let report = gongti_app::audit::verify(store, &anchors, |n| {
        tracing::debug!(read = n, "audit verify progress")
    })
    .await
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(print_report(&report))
}

/// `gongti audit key`: the public key auditors check signatures with.
pub fn print_key(settings: &Settings) -> anyhow::Result<ExitCode> {
    let key = AuditKey::load(&settings.audit_key).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    println!("{}", key.public_hex());
    Ok(ExitCode::SUCCESS)
}

fn source(s: Source) -> &'static str {
    match s {
        Source::AnchorFile => "anchor file",
        Source::Trail => "trail",
    }
}

/// Prints what `audit verify` found; exit 0 when sound, 1 otherwise.
fn print_report(report: &VerifyReport) -> ExitCode {
    match &report.broken {
        None => println!("审计链完整 audit chain intact: {} records", report.records),
        Some(broken) => println!(
            "审计链已被破坏 audit chain BROKEN at record {}: {broken}",
            broken.seq()
        ),
    }
    let c = &report.checkpoints;
    println!(
        "签名检查点 signed checkpoints: {} in the anchor files, {} in the trail",
        c.anchored, c.in_trail
    );
    for p in &c.problems {
        let line = match p {
            CheckpointProblem::Rewritten {
                seq,
                at_us,
                source: s,
            } => format!(
                "record {seq} does not match the checkpoint signed at {} ({}): the trail was rewritten or rehashed",
                crate::at(*at_us),
                source(*s)
            ),
            CheckpointProblem::Shortened {
                ends,
                checkpoint,
                at_us,
            } => format!(
                "the trail ends at record {ends}, but record {checkpoint} was signed at {}: its newest records were removed",
                crate::at(*at_us)
            ),
            CheckpointProblem::BadSignature { seq, source: s } => {
                format!(
                    "the checkpoint of record {seq} ({}) has a signature that does not hold",
                    source(*s)
                )
            }
            CheckpointProblem::UnknownKey {
                seq,
                key,
                source: s,
            } => format!(
                "the checkpoint of record {seq} ({}) is signed by a key nobody trusts: {key}",
                source(*s)
            ),
            CheckpointProblem::Damaged(what) => format!("not a checkpoint: {what}"),
            CheckpointProblem::Unchecked { seq } => {
                format!("the checkpoint record {seq} covers a record too far back to check")
            }
        };
        println!("检查点不符 CHECKPOINT PROBLEM: {line}");
    }
    for (seq, at_us) in &c.restores {
        println!(
            "自备份恢复 restored from a backup at {}: the trail goes on from record {seq}",
            crate::at(*at_us)
        );
    }
    if c.voided > 0 {
        println!(
            "随恢复失去的检查点 {} checkpoints of the history lost with a restore (past its record, signed before it) no longer count",
            c.voided
        );
    }
    match c.last_good {
        Some((seq, at_us)) => println!(
            "最后完好的检查点 last good checkpoint: record {seq}, signed at {}",
            crate::at(at_us)
        ),
        None if c.anchored + c.in_trail > 0 => {
            println!("没有完好的检查点 no checkpoint holds")
        }
        None => {}
    }
    match &report.index {
        IndexFinding::EngineKept => {}
        IndexFinding::Matches { entries } => {
            println!("患者索引与审计链一致 the patient index matches the trail: {entries} entries")
        }
        IndexFinding::Differs { entries, expected } => println!(
            "患者索引与审计链不符 the patient index DIFFERS from the trail: {entries} entries, the trail calls for {expected} (a patient's access log would hide records)"
        ),
    }
    if report.staged > 0 {
        println!(
            "待入链 staged: {} records of committed writes wait in the outbox (moved into the chain on the next start)",
            report.staged
        );
    }
    for u in &report.uncovered {
        println!(
            "无审计记录 rows WITHOUT an audit record: {} in {} (first ids {:?})",
            u.rows, u.table, u.ids
        );
    }
    if report.is_sound() {
        println!("每条记录均有审计 every record row has its audit record");
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
