//! Signed checkpoints of the audit chain: the chain's head (sequence number and hash)
//! at a moment, signed with a key kept outside the database, written both into the
//! trail (a record of its own) and into an append-only anchor file elsewhere.
//!
//! Whoever can rewrite the database can recompute every hash of the chain, or cut
//! its newest records off; neither can be hidden from a checkpoint they cannot sign.
//! This module fixes what is signed and how a checkpoint is written down; signing and
//! checking signatures happen where the keys are (gongti-app).

use crate::audit::AuditEntry;

/// The action of a checkpoint's record in the trail.
pub const CHECKPOINT_ACTION: &str = "audit.checkpoint";
const MESSAGE_TAG: &[u8] = b"gongti-audit-checkpoint-v1";
const LINE_PREFIX: &str = "gongti-checkpoint v1";
const RESTORE_TAG: &[u8] = b"gongti-audit-restore-v1";
const RESTORE_PREFIX: &str = "gongti-restore v1";

/// The chain's head at `at_us`, signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last record covered.
    pub seq: i64,
    /// That record's hash.
    pub hash: [u8; 32],
    pub at_us: i64,
    /// The Ed25519 public key that signed it.
    pub key: [u8; 32],
    pub signature: [u8; 64],
}

/// What is wrong with a written-down checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointFormatError {
    #[error("not a checkpoint line")]
    NotACheckpoint,
    #[error("field {0} is missing or malformed")]
    Field(&'static str),
}

/// The bytes a checkpoint's signature covers.
pub fn message(seq: i64, hash: &[u8; 32], at_us: i64) -> Vec<u8> {
    tagged(MESSAGE_TAG, seq, hash, at_us)
}

/// The bytes a restore mark's signature covers: a mark says "the trail was restored
/// from a backup and goes on from record `seq` with `hash`; checkpoints written before
/// this mark past that record belong to the history lost with the restore". Its tag
/// differs from a checkpoint's, so neither signature can stand for the other.
pub fn restore_message(seq: i64, hash: &[u8; 32], at_us: i64) -> Vec<u8> {
    tagged(RESTORE_TAG, seq, hash, at_us)
}

fn tagged(tag: &[u8], seq: i64, hash: &[u8; 32], at_us: i64) -> Vec<u8> {
    let mut m = Vec::with_capacity(tag.len() + 48);
    m.extend_from_slice(tag);
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m.extend_from_slice(&at_us.to_be_bytes());
    m
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Exactly `N` bytes from lower- or upper-case hex.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    Some(out)
}

impl Checkpoint {
    /// The fields as `name=value` pairs, the form of the trail record's detail.
    pub fn fields(&self) -> String {
        format!(
            "seq={} hash={} at_us={} key={} sig={}",
            self.seq,
            hex(&self.hash),
            self.at_us,
            hex(&self.key),
            hex(&self.signature)
        )
    }

    /// One line of the anchor file.
    pub fn line(&self) -> String {
        format!("{LINE_PREFIX} {}", self.fields())
    }

    fn parse_fields(text: &str) -> Result<Checkpoint, CheckpointFormatError> {
        let field = |name: &'static str| {
            text.split_whitespace()
                .find_map(|part| part.strip_prefix(name)?.strip_prefix('='))
                .ok_or(CheckpointFormatError::Field(name))
        };
        let number = |name: &'static str| -> Result<i64, CheckpointFormatError> {
            field(name)?
                .parse()
                .map_err(|_| CheckpointFormatError::Field(name))
        };
        Ok(Checkpoint {
            seq: number("seq")?,
            hash: unhex(field("hash")?).ok_or(CheckpointFormatError::Field("hash"))?,
            at_us: number("at_us")?,
            key: unhex(field("key")?).ok_or(CheckpointFormatError::Field("key"))?,
            signature: unhex(field("sig")?).ok_or(CheckpointFormatError::Field("sig"))?,
        })
    }

    /// Reads one line of the anchor file.
    pub fn parse_line(line: &str) -> Result<Checkpoint, CheckpointFormatError> {
        let rest = line
            .trim()
            .strip_prefix(LINE_PREFIX)
            .ok_or(CheckpointFormatError::NotACheckpoint)?;
        Checkpoint::parse_fields(rest)
    }

    /// The anchor file's line of a restore mark (signed over [`restore_message`]).
    pub fn restore_line(&self) -> String {
        format!("{RESTORE_PREFIX} {}", self.fields())
    }

    /// Reads a restore mark's line; `None` when the line is not one.
    pub fn parse_restore_line(line: &str) -> Option<Result<Checkpoint, CheckpointFormatError>> {
        let rest = line.trim().strip_prefix(RESTORE_PREFIX)?;
        Some(Checkpoint::parse_fields(rest))
    }

    /// The checkpoint a trail record carries, if it is a checkpoint's record.
    pub fn of_record(entry: &AuditEntry) -> Option<Result<Checkpoint, CheckpointFormatError>> {
        (entry.action == CHECKPOINT_ACTION).then(|| {
            Checkpoint::parse_fields(
                entry
                    .detail
                    .as_deref()
                    .ok_or(CheckpointFormatError::Field("detail"))?,
            )
        })
    }

    /// The checkpoint's own record in the trail.
    pub fn record(&self) -> AuditEntry {
        AuditEntry {
            resource_id: Some(self.seq.to_string()),
            detail: Some(self.fields()),
            ..AuditEntry::system(self.at_us, CHECKPOINT_ACTION, "AuditTrail")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        Checkpoint {
            seq: 4_096,
            hash: [0xab; 32],
            at_us: 1_795_000_000_000_000,
            key: [7; 32],
            signature: [0x5c; 64],
        }
    }

    #[test]
    fn a_checkpoint_reads_back_from_its_line_and_its_record() {
        let c = sample();
        assert_eq!(Checkpoint::parse_line(&c.line()), Ok(c.clone()));
        assert_eq!(Checkpoint::of_record(&c.record()), Some(Ok(c.clone())));
        let mut other = c.record();
        other.action = "resident.read".into();
        assert_eq!(Checkpoint::of_record(&other), None);
    }

    #[test]
    fn a_damaged_line_says_which_field() {
        let line = sample().line();
        for (damaged, want) in [
            ("hello".to_owned(), CheckpointFormatError::NotACheckpoint),
            (
                line.replace("seq=4096", "seq=x"),
                CheckpointFormatError::Field("seq"),
            ),
            (
                line.replace(&hex(&[0xab; 32]), &hex(&[0xab; 31])),
                CheckpointFormatError::Field("hash"),
            ),
            (
                line.replace(" sig=", " signature="),
                CheckpointFormatError::Field("sig"),
            ),
        ] {
            assert_eq!(Checkpoint::parse_line(&damaged), Err(want), "{damaged}");
        }
    }

    #[test]
    fn the_signed_message_covers_sequence_hash_and_time() {
        let base = message(1, &[1; 32], 5);
        assert_ne!(base, message(2, &[1; 32], 5));
        assert_ne!(base, message(1, &[2; 32], 5));
        assert_ne!(base, message(1, &[1; 32], 6));
        // A restore mark's signature never stands for a checkpoint's.
        assert_ne!(base, restore_message(1, &[1; 32], 5));
        let c = sample();
        assert_eq!(
            Checkpoint::parse_restore_line(&c.restore_line()),
            Some(Ok(c.clone()))
        );
        assert_eq!(Checkpoint::parse_restore_line(&c.line()), None);
        assert!(Checkpoint::parse_line(&c.restore_line()).is_err());
        assert_eq!(unhex::<2>("0aFf"), Some([0x0a, 0xff]));
        assert_eq!(unhex::<2>("0aF"), None);
        assert_eq!(unhex::<1>("zz"), None);
    }
}
