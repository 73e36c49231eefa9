//! Signed checkpoints (`gongti_core::checkpoint`): the signing key in a file outside
//! the database, the append-only anchor file, and when the writer makes one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use gongti_core::checkpoint::{Checkpoint, hex, message, restore_message, unhex};

use crate::AppResult;

/// A checkpoint is made once this many records follow the last one...
pub const CHECKPOINT_EVERY_RECORDS: i64 = 10_000;
/// ...or once any record has waited this long (and when the writer stops). Records
/// newer than the last checkpoint are what a database administrator could cut off
/// unseen: this bounds that window.
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

/// The Ed25519 key that signs checkpoints, read from its file.
#[derive(Clone)]
pub struct AuditKey {
    signing: SigningKey,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("public", &self.public_hex())
            .finish_non_exhaustive()
    }
}

impl AuditKey {
    /// Reads the key file (the secret as 64 hex digits).
    pub fn load(path: &Path) -> AppResult<AuditKey> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading the audit key {}: {e}", path.display()))?;
        let secret: [u8; 32] = unhex(text.trim()).ok_or_else(|| {
            anyhow::anyhow!(
                "{} does not hold an audit key (64 hex digits)",
                path.display()
            )
        })?;
        Ok(AuditKey {
            signing: SigningKey::from_bytes(&secret),
        })
    }

    /// Reads the key file, or creates it (readable by its owner only) when absent;
    /// says whether it was created.
    pub fn load_or_create(path: &Path) -> AppResult<(AuditKey, bool)> {
        if path.exists() {
            return Ok((AuditKey::load(path)?, false));
        }
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("random key: {e}"))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .map_err(|e| anyhow::anyhow!("creating the audit key {}: {e}", path.display()))?;
        writeln!(file, "{}", hex(&secret))
            .and_then(|()| file.sync_all())
            .map_err(|e| anyhow::anyhow!("writing the audit key {}: {e}", path.display()))?;
        Ok((
            AuditKey {
                signing: SigningKey::from_bytes(&secret),
            },
            true,
        ))
    }

    pub fn public(&self) -> [u8; 32] {
        self.signing.verifying_key().to_bytes()
    }

    /// The public key as 64 hex digits, for the auditors.
    pub fn public_hex(&self) -> String {
        hex(&self.public())
    }

    pub fn sign(&self, seq: i64, hash: [u8; 32], at_us: i64) -> Checkpoint {
        self.signed(seq, hash, at_us, &message(seq, &hash, at_us))
    }

    /// A restore mark: the trail goes on from `seq` with `hash` after a restore
    /// (`gongti_core::checkpoint::restore_message`).
    pub fn sign_restore(&self, seq: i64, hash: [u8; 32], at_us: i64) -> Checkpoint {
        self.signed(seq, hash, at_us, &restore_message(seq, &hash, at_us))
    }

    fn signed(&self, seq: i64, hash: [u8; 32], at_us: i64, m: &[u8]) -> Checkpoint {
        Checkpoint {
            seq,
            hash,
            at_us,
            key: self.public(),
            signature: self.signing.sign(m).to_bytes(),
        }
    }
}

fn holds(c: &Checkpoint, m: &[u8]) -> bool {
    VerifyingKey::from_bytes(&c.key).is_ok_and(|key| {
        key.verify_strict(m, &Signature::from_bytes(&c.signature))
            .is_ok()
    })
}

/// Whether the checkpoint's signature is valid for its own key.
pub fn signature_holds(c: &Checkpoint) -> bool {
    holds(c, &message(c.seq, &c.hash, c.at_us))
}

/// Whether a restore mark's signature is valid for its own key.
pub fn restore_holds(c: &Checkpoint) -> bool {
    holds(c, &restore_message(c.seq, &c.hash, c.at_us))
}

/// What an anchor file holds, in its order.
#[derive(Debug, Default)]
pub struct AnchorLines {
    pub checkpoints: Vec<Checkpoint>,
    /// Restore marks, each with how many of `checkpoints` were written before it.
    pub restores: Vec<(usize, Checkpoint)>,
    /// Lines that are neither.
    pub damaged: Vec<AnchorLineError>,
}

/// The anchor file: checkpoints appended one per line, synced before the writer goes
/// on. It lives outside the database (ideally on another machine's volume, or an
/// append-only file: `chattr +a`), so the database's administrator cannot rewrite it.
#[derive(Debug)]
pub struct Anchor {
    path: PathBuf,
}

/// A line of an anchor file that is not a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorLineError {
    pub line: usize,
    pub problem: String,
}

impl Anchor {
    pub fn at(path: &Path) -> Anchor {
        Anchor {
            path: path.to_owned(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a checkpoint and syncs the file.
    pub fn append(&self, c: &Checkpoint) -> std::io::Result<()> {
        self.append_line(&c.line())
    }

    /// Appends a restore mark and syncs the file.
    pub fn append_restore(&self, mark: &Checkpoint) -> std::io::Result<()> {
        self.append_line(&mark.restore_line())
    }

    fn append_line(&self, line: &str) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        writeln!(file, "{line}")?;
        file.sync_data()
    }

    /// Every checkpoint and restore mark the file holds (none when it does not
    /// exist), and the lines that are neither.
    pub fn read(&self) -> AppResult<AnchorLines> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => {
                return Err(anyhow::anyhow!("reading {}: {e}", self.path.display()).into());
            }
        };
        let mut read = AnchorLines::default();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let parsed = match Checkpoint::parse_restore_line(line) {
                Some(mark) => mark.map(|m| read.restores.push((read.checkpoints.len(), m))),
                None => Checkpoint::parse_line(line).map(|c| read.checkpoints.push(c)),
            };
            if let Err(e) = parsed {
                read.damaged.push(AnchorLineError {
                    line: n + 1,
                    problem: e.to_string(),
                });
            }
        }
        Ok(read)
    }
}

/// What the writer needs to sign checkpoints.
#[derive(Debug)]
pub struct Signing {
    pub key: AuditKey,
    pub anchor: Anchor,
}

/// Decides when the writer makes a checkpoint and makes it.
pub(crate) struct Checkpointer {
    signing: Signing,
    /// The chain's last record that needs no checkpoint: the last checkpoint's own
    /// record, or the head when the writer started.
    settled: i64,
    since: Instant,
}

impl Checkpointer {
    pub(crate) fn new(signing: Signing, head: i64) -> Checkpointer {
        Checkpointer {
            signing,
            settled: head,
            since: Instant::now(),
        }
    }

    /// Whether the chain at `head` wants a checkpoint (`closing`: the writer stops).
    pub(crate) fn due(&self, head: i64, closing: bool) -> bool {
        let new = head - self.settled;
        new > 0
            && (closing
                || new >= CHECKPOINT_EVERY_RECORDS
                || self.since.elapsed() >= CHECKPOINT_EVERY)
    }

    /// Signs the head and writes it to the anchor file; returns the checkpoint, whose
    /// record the writer appends to the chain.
    pub(crate) fn make(&mut self, head: (i64, [u8; 32])) -> Checkpoint {
        let at_us = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64;
        let c = self.signing.key.sign(head.0, head.1, at_us);
        if let Err(error) = self.signing.anchor.append(&c) {
            tracing::error!(%error, path = %self.signing.anchor.path().display(), "the audit checkpoint was not written to the anchor file");
        }
        tracing::info!(seq = c.seq, hash = %hex(&c.hash), "audit checkpoint");
        // Its own record is appended next.
        self.settled = head.0 + 1;
        self.since = Instant::now();
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_checkpoint_holds_and_any_change_breaks_it() {
        let dir = std::env::temp_dir().join(format!("gongti-key-{}", std::process::id()));
        let path = dir.join("audit.key");
        let _ = std::fs::remove_file(&path);
        let (key, created) = AuditKey::load_or_create(&path).unwrap();
        assert!(created);
        let (again, created) = AuditKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(key.public(), again.public());
        let c = key.sign(42, [9; 32], 1_000);
        assert!(signature_holds(&c));
        for changed in [
            Checkpoint {
                seq: 43,
                ..c.clone()
            },
            Checkpoint {
                hash: [8; 32],
                ..c.clone()
            },
            Checkpoint {
                at_us: 1_001,
                ..c.clone()
            },
            Checkpoint {
                key: AuditKey::load_or_create(&dir.join("other.key"))
                    .unwrap()
                    .0
                    .public(),
                ..c.clone()
            },
        ] {
            assert!(!signature_holds(&changed), "{changed:?}");
        }
        let anchor = Anchor::at(&dir.join("anchor.log"));
        let _ = std::fs::remove_file(anchor.path());
        anchor.append(&c).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(anchor.path())
            .unwrap()
            .write_all(b"not a checkpoint\n")
            .unwrap();
        let mark = key.sign_restore(42, [9; 32], 2_000);
        assert!(restore_holds(&mark) && !signature_holds(&mark));
        assert!(!restore_holds(&c));
        anchor.append_restore(&mark).unwrap();
        let read = anchor.read().unwrap();
        assert_eq!(read.checkpoints, vec![c]);
        assert_eq!(read.restores, vec![(1, mark)]);
        assert_eq!(read.damaged.len(), 1);
        assert_eq!(read.damaged[0].line, 2);
    }
}
