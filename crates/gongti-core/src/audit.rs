//! The tamper-evident audit trail: every record is hash-chained to the one before it,
//! so that an edit, a deletion or a reordering is found by [`ChainVerifier`].
//!
//! The hash covers a canonical, length-prefixed encoding of every field plus the
//! previous record's hash; it does not depend on any wire format.

use sha2::{Digest, Sha256};

/// Hash of the (absent) record before the first one.
pub const GENESIS_HASH: [u8; 32] = [0; 32];
const DOMAIN_TAG: &[u8] = b"gongti-audit-v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The actor was not allowed to do it.
    Denied,
    /// The input was rejected (bad ID number, body too large …).
    Invalid,
    NotFound,
    /// Sign-in failed or a locked account was tried.
    Failed,
    Error,
    /// Read back from storage with a code Gongti never writes: the record was edited.
    /// Its hash cannot match, so the verifier reports it as altered.
    Unrecognised,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Ok,
        Outcome::Denied,
        Outcome::Invalid,
        Outcome::NotFound,
        Outcome::Failed,
        Outcome::Error,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Denied => "denied",
            Outcome::Invalid => "invalid",
            Outcome::NotFound => "not_found",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Unrecognised => "?unrecognised",
        }
    }

    pub fn from_code(code: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.code() == code)
    }
}

/// One audited event: who, in which role and institution, did what to which resource
/// of which patient, when, why, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Microseconds since the Unix epoch, UTC.
    pub at_us: i64,
    pub actor_user_id: Option<i64>,
    pub actor_username: String,
    pub role: Option<String>,
    pub institution_id: Option<i64>,
    /// What was done, e.g. `resident.read`, `auth.sign_in`.
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub patient_id: Option<i64>,
    /// The reason given (break-the-glass, merge), if any.
    pub reason: Option<String>,
    pub outcome: Outcome,
    /// Why access was granted or refused, or what was wrong with the input.
    pub detail: Option<String>,
    pub request_id: Option<String>,
}

impl AuditEntry {
    /// An entry of the system itself (a command, a start), not of a signed-in person:
    /// set `resource_id`, `reason` and `detail` on it as needed.
    pub fn system(at_us: i64, action: &str, resource_type: &str) -> AuditEntry {
        AuditEntry {
            at_us,
            actor_user_id: None,
            actor_username: "system".into(),
            role: None,
            institution_id: None,
            action: action.into(),
            resource_type: resource_type.into(),
            resource_id: None,
            patient_id: None,
            reason: None,
            outcome: Outcome::Ok,
            detail: None,
            request_id: None,
        }
    }
}

/// An entry with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEntry {
    /// 1 for the first record, then consecutive.
    pub seq: i64,
    pub entry: AuditEntry,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// Links `entry` after a record whose hash is `prev_hash`.
pub fn link(seq: i64, prev_hash: [u8; 32], entry: AuditEntry) -> ChainedEntry {
    let hash = link_hash(seq, &prev_hash, &entry);
    ChainedEntry {
        seq,
        entry,
        prev_hash,
        hash,
    }
}

/// The hash of `e` linked as record `seq` after a record whose hash is `prev_hash`
/// (what [`link`] gives it, for a writer that does not keep the entry).
pub fn link_hash(seq: i64, prev_hash: &[u8; 32], e: &AuditEntry) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN_TAG);
    h.update(seq.to_be_bytes());
    h.update(prev_hash);
    let mut field = |value: Option<&[u8]>| match value {
        None => h.update([0u8]),
        Some(bytes) => {
            h.update([1u8]);
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        }
    };
    let number = |n: Option<i64>| n.map(|n| n.to_be_bytes());
    field(Some(&e.at_us.to_be_bytes()));
    field(number(e.actor_user_id).as_ref().map(|b| b.as_slice()));
    field(Some(e.actor_username.as_bytes()));
    field(e.role.as_deref().map(str::as_bytes));
    field(number(e.institution_id).as_ref().map(|b| b.as_slice()));
    field(Some(e.action.as_bytes()));
    field(Some(e.resource_type.as_bytes()));
    field(e.resource_id.as_deref().map(str::as_bytes));
    field(number(e.patient_id).as_ref().map(|b| b.as_slice()));
    field(e.reason.as_deref().map(str::as_bytes));
    field(Some(e.outcome.code().as_bytes()));
    field(e.detail.as_deref().map(str::as_bytes));
    field(e.request_id.as_deref().map(str::as_bytes));
    h.finalize().into()
}

/// One entry of a patient index of the trail (patient, record), as a 128-bit value
/// whose XOR over the whole index is compared with the same over the trail: an entry
/// missing, added or moved changes it.
pub fn index_entry_digest(patient_id: i64, seq: i64) -> u128 {
    let mut h = Sha256::new();
    h.update(b"gongti-audit-index-v1");
    h.update(patient_id.to_be_bytes());
    h.update(seq.to_be_bytes());
    let d: [u8; 32] = h.finalize().into();
    let mut first = [0u8; 16];
    first.copy_from_slice(&d[..16]);
    u128::from_be_bytes(first)
}

/// How the chain is broken at a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("record {found} follows record {expected_after}: a record is missing or out of order")]
    Gap { expected_after: i64, found: i64 },
    #[error("record {seq} does not point at the hash of the record before it")]
    BrokenLink { seq: i64 },
    #[error("record {seq} has been changed: its contents do not match its hash")]
    Altered { seq: i64 },
}

impl ChainBreak {
    /// The sequence number of the first record found broken.
    pub fn seq(&self) -> i64 {
        match self {
            ChainBreak::Gap { found, .. } => *found,
            ChainBreak::BrokenLink { seq } | ChainBreak::Altered { seq } => *seq,
        }
    }
}

/// Checks records one at a time, in sequence order, so a long trail can be streamed.
#[derive(Debug)]
pub struct ChainVerifier {
    last_seq: i64,
    last_hash: [u8; 32],
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            last_seq: 0,
            last_hash: GENESIS_HASH,
        }
    }
}

impl ChainVerifier {
    /// A verifier that goes on from a record already trusted (a checkpoint's).
    pub fn after(seq: i64, hash: [u8; 32]) -> ChainVerifier {
        ChainVerifier {
            last_seq: seq,
            last_hash: hash,
        }
    }

    pub fn push(&mut self, record: &ChainedEntry) -> Result<(), ChainBreak> {
        if record.seq != self.last_seq + 1 {
            return Err(ChainBreak::Gap {
                expected_after: self.last_seq,
                found: record.seq,
            });
        }
        if record.prev_hash != self.last_hash {
            return Err(ChainBreak::BrokenLink { seq: record.seq });
        }
        if link_hash(record.seq, &record.prev_hash, &record.entry) != record.hash {
            return Err(ChainBreak::Altered { seq: record.seq });
        }
        self.last_seq = record.seq;
        self.last_hash = record.hash;
        Ok(())
    }

    /// How many records have been verified so far.
    pub fn verified(&self) -> i64 {
        self.last_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: i64) -> AuditEntry {
        AuditEntry {
            at_us: 1_700_000_000_000_000 + n,
            actor_user_id: Some(7),
            actor_username: "doctor".into(),
            role: Some("family_doctor".into()),
            institution_id: Some(3),
            action: "resident.read".into(),
            resource_type: "Resident".into(),
            resource_id: Some(n.to_string()),
            patient_id: Some(n),
            reason: None,
            outcome: Outcome::Ok,
            detail: Some("home_institution".into()),
            request_id: None,
        }
    }

    fn chain(n: i64) -> Vec<ChainedEntry> {
        let mut prev = GENESIS_HASH;
        (1..=n)
            .map(|seq| {
                let record = link(seq, prev, entry(seq));
                prev = record.hash;
                record
            })
            .collect()
    }

    fn verify(records: &[ChainedEntry]) -> Result<i64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for r in records {
            v.push(r)?;
        }
        Ok(v.verified())
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn tampering_is_found_at_the_first_broken_record() {
        let mut edited = chain(5);
        edited[2].entry.outcome = Outcome::Denied;
        assert_eq!(verify(&edited), Err(ChainBreak::Altered { seq: 3 }));

        let mut deleted = chain(5);
        deleted.remove(1);
        assert_eq!(
            verify(&deleted),
            Err(ChainBreak::Gap {
                expected_after: 1,
                found: 3
            })
        );

        // Deleting a record and renumbering the rest still breaks the link.
        let mut renumbered = chain(5);
        renumbered.remove(1);
        for (i, r) in renumbered.iter_mut().enumerate() {
            r.seq = i as i64 + 1;
        }
        assert_eq!(verify(&renumbered), Err(ChainBreak::BrokenLink { seq: 2 }));

        // A rehashed edit breaks the next record's link.
        let mut rehashed = chain(5);
        rehashed[2].entry.patient_id = Some(99);
        rehashed[2] = link(3, rehashed[2].prev_hash, rehashed[2].entry.clone());
        assert_eq!(verify(&rehashed), Err(ChainBreak::BrokenLink { seq: 4 }));
    }

    #[test]
    fn none_and_empty_are_different() {
        let mut a = entry(1);
        let mut b = entry(1);
        a.reason = None;
        b.reason = Some(String::new());
        assert_ne!(link(1, GENESIS_HASH, a).hash, link(1, GENESIS_HASH, b).hash);
    }
}
