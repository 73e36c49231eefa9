//! Signed checkpoints of the audit chain: the chain's head (sequence number and hash)
//! at a moment, signed with a key kept outside the database, written both into the
//! trail (a record of its own) and into an append-only anchor file elsewhere.
//!
//! Whoever can rewrite the database can recompute every hash of the chain, or cut
//! its newest records off; neither can be hidden from a checkpoint they cannot sign.
//! This module fixes what is signed and how a checkpoint is written down; signing and
//! checking signatures happen where the keys are (gongti-app).

use crate::audit::{AuditEntry, Outcome};

/// The action of a checkpoint's record in the trail.
pub const CHECKPOINT_ACTION: &str = "audit.checkpoint";
const MESSAGE_TAG: &[u8] = b"gongti-audit-checkpoint-v1";
const LINE_PREFIX: &str = "gongti-checkpoint v1";

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
    let mut m = Vec::with_capacity(MESSAGE_TAG.len() + 48);
    m.extend_from_slice(MESSAGE_TAG);
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
            at_us: self.at_us,
            actor_user_id: None,
            actor_username: "system".into(),
            role: None,
            institution_id: None,
            action: CHECKPOINT_ACTION.into(),
            resource_type: "AuditTrail".into(),
            resource_id: Some(self.seq.to_string()),
            patient_id: None,
            reason: None,
            outcome: Outcome::Ok,
            detail: Some(self.fields()),
            request_id: None,
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
        assert_eq!(unhex::<2>("0aFf"), Some([0x0a, 0xff]));
        assert_eq!(unhex::<2>("0aF"), None);
        assert_eq!(unhex::<1>("zz"), None);
    }
}
