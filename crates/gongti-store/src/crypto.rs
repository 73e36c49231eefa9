//! Personal data at rest (DOMAIN.md §10): ID and phone numbers — and answers kept for
//! idempotent requests — are stored encrypted with AES-256-GCM under keys from a file
//! outside the database; an ID number is found again by a keyed hash (HMAC-SHA-256),
//! never by its text.
//!
//! The key file holds one `lookup` key and one or more `key <id>` lines; the first
//! `key` line encrypts, every one decrypts, so a key is rotated by adding a new first
//! line and re-encrypting (`gongti data rotate-key`) before the old line is removed. A
//! sealed value names the key it was sealed with and is bound to its column (the
//! associated data), so a value moved to another column does not open.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::{Result, StoreError};

/// A sealed value's format version.
const SEALED_V1: u8 = 1;
const NONCE_BYTES: usize = 12;
/// The text form of a sealed value starts with this (plaintext ID numbers and phone
/// numbers never do), which is how rows from before encryption are recognised.
pub const SEALED_TEXT_PREFIX: &str = "v1.";

/// The keys of one store.
pub struct DataKeys {
    /// The key that seals, first of `keys`.
    keys: Vec<(u32, Aes256Gcm)>,
    raw: Vec<(u32, [u8; 32])>,
    lookup: [u8; 32],
}

impl std::fmt::Debug for DataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKeys")
            .field("current", &self.current_id())
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

fn random32() -> [u8; 32] {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the operating system's random source");
    b
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex32(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in text.as_bytes().chunks(2).enumerate() {
        let d = |c: u8| (c as char).to_digit(16);
        out[i] = u8::try_from(d(pair[0])? * 16 + d(pair[1])?).ok()?;
    }
    Some(out)
}

/// HMAC-SHA-256 (RFC 2104), for the keyed lookup hash.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut inner_key = [0x36u8; 64];
    let mut outer_key = [0x5cu8; 64];
    for (i, k) in key.iter().enumerate() {
        inner_key[i] ^= k;
        outer_key[i] ^= k;
    }
    let inner: [u8; 32] = Sha256::new()
        .chain_update(inner_key)
        .chain_update(message)
        .finalize()
        .into();
    Sha256::new()
        .chain_update(outer_key)
        .chain_update(inner)
        .finalize()
        .into()
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("sealed {what} does not open with the data keys"))
}

impl DataKeys {
    fn from_raw(raw: Vec<(u32, [u8; 32])>, lookup: [u8; 32]) -> DataKeys {
        DataKeys {
            keys: raw
                .iter()
                .map(|(id, k)| (*id, Aes256Gcm::new(&Key::<Aes256Gcm>::from(*k))))
                .collect(),
            raw,
            lookup,
        }
    }

    /// Fresh random keys (tests; a new key file).
    pub fn generate() -> DataKeys {
        DataKeys::from_raw(vec![(1, random32())], random32())
    }

    pub fn current_id(&self) -> u32 {
        self.keys[0].0
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<DataKeys> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            StoreError::Corrupt(format!("reading the data key file {}: {e}", path.display()))
        })?;
        DataKeys::parse(&text).map_err(|e| StoreError::Corrupt(format!("{}: {e}", path.display())))
    }

    fn parse(text: &str) -> std::result::Result<DataKeys, String> {
        let mut raw = Vec::new();
        let mut lookup = None;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["lookup", k] => {
                    lookup = Some(unhex32(k).ok_or(format!("line {}: bad lookup key", n + 1))?)
                }
                ["key", id, k] => raw.push((
                    id.parse()
                        .map_err(|_| format!("line {}: bad key id", n + 1))?,
                    unhex32(k).ok_or(format!("line {}: bad key", n + 1))?,
                )),
                _ => {
                    return Err(format!(
                        "line {}: expected `lookup <hex>` or `key <id> <hex>`",
                        n + 1
                    ));
                }
            }
        }
        match (raw.is_empty(), lookup) {
            (false, Some(lookup)) => Ok(DataKeys::from_raw(raw, lookup)),
            _ => Err("a data key file needs a `lookup` line and at least one `key` line".into()),
        }
    }

    fn text(&self) -> String {
        let mut t = String::from(
            "# Gongti data keys: ID and phone numbers are sealed with the first `key`.\n\
             # Keep this file outside the database and its backups, readable by Gongti\n\
             # only; without it the sealed data cannot be read. docs/security.md.\n",
        );
        t.push_str(&format!("lookup {}\n", hex(&self.lookup)));
        for (id, k) in &self.raw {
            t.push_str(&format!("key {id} {}\n", hex(k)));
        }
        t
    }

    fn write(&self, path: &Path, create_new: bool) -> Result<()> {
        let fail = |e: std::io::Error| {
            StoreError::Corrupt(format!("writing the data key file {}: {e}", path.display()))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        // A new file beside the old, then renamed over it: never half a key file.
        let tmp = path.with_extension("key-new");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        if create_new && path.exists() {
            return Err(StoreError::Corrupt(format!("{} exists", path.display())));
        }
        let mut file = options.open(&tmp).map_err(fail)?;
        file.write_all(self.text().as_bytes()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        std::fs::rename(&tmp, path).map_err(fail)
    }

    /// Reads the key file, or creates one with fresh keys; says whether it created it.
    pub fn load_or_create(path: &Path) -> Result<(DataKeys, bool)> {
        if path.exists() {
            return Ok((DataKeys::load(path)?, false));
        }
        let keys = DataKeys::generate();
        keys.write(path, true)?;
        Ok((keys, true))
    }

    /// Adds a new key in front (it seals from now on; the others still open); returns
    /// its id. Existing values stay sealed with their key until re-encrypted.
    pub fn rotate(path: &Path) -> Result<u32> {
        let keys = DataKeys::load(path)?;
        let id = keys.raw.iter().map(|(id, _)| *id).max().unwrap_or(0) + 1;
        let mut raw = vec![(id, random32())];
        raw.extend(keys.raw.iter().copied());
        DataKeys::from_raw(raw, keys.lookup).write(path, false)?;
        Ok(id)
    }

    /// A key for another purpose (`label`, e.g. a backup archive with its salt),
    /// derived from the data key `id` (the sealing one when `None`); `None` when the
    /// key file lacks that key. Returns the id it was derived from.
    pub fn derive(&self, id: Option<u32>, label: &[u8]) -> Option<(u32, [u8; 32])> {
        let (id, raw) = match id {
            None => self.raw.first()?,
            Some(id) => self.raw.iter().find(|(k, _)| *k == id)?,
        };
        Some((*id, hmac_sha256(raw, label)))
    }

    /// Seals `plaintext` for the column `aad`: version, key id, nonce, ciphertext.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).expect("the operating system's random source");
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("AES-GCM seals any value of Gongti's size");
        let mut out = Vec::with_capacity(1 + 4 + NONCE_BYTES + sealed.len());
        out.push(SEALED_V1);
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens what [`DataKeys::seal`] sealed for the column `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
        let what = String::from_utf8_lossy(aad);
        if sealed.len() < 1 + 4 + NONCE_BYTES || sealed[0] != SEALED_V1 {
            return Err(corrupt(&what));
        }
        let id = u32::from_be_bytes([sealed[1], sealed[2], sealed[3], sealed[4]]);
        let (_, cipher) = self.keys.iter().find(|(k, _)| *k == id).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "{what} is sealed with key {id}, which the key file lacks"
            ))
        })?;
        let mut nonce = [0u8; NONCE_BYTES];
        nonce.copy_from_slice(&sealed[5..5 + NONCE_BYTES]);
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &sealed[5 + NONCE_BYTES..],
                    aad,
                },
            )
            .map_err(|_| corrupt(&what))
    }

    /// The key id a sealed value names.
    pub fn sealed_with(sealed: &[u8]) -> Option<u32> {
        (sealed.len() > 5 && sealed[0] == SEALED_V1)
            .then(|| u32::from_be_bytes([sealed[1], sealed[2], sealed[3], sealed[4]]))
    }

    /// The key id a sealed text value names.
    pub fn text_sealed_with(text: &str) -> Option<u32> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.strip_prefix(SEALED_TEXT_PREFIX)?)
            .ok()?;
        DataKeys::sealed_with(&raw)
    }

    /// A text value sealed, as text for a TEXT column.
    pub fn seal_text(&self, aad: &str, plaintext: &str) -> String {
        self.seal_bytes_text(aad, plaintext.as_bytes())
    }

    /// Bytes sealed, as text for a TEXT column (a message as it arrived, in whatever
    /// character set its sender used).
    pub fn seal_bytes_text(&self, aad: &str, plaintext: &[u8]) -> String {
        format!(
            "{SEALED_TEXT_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(self.seal(aad.as_bytes(), plaintext))
        )
    }

    /// Opens bytes sealed by [`DataKeys::seal_bytes_text`].
    pub fn open_bytes_text(&self, aad: &str, text: &str) -> Result<Vec<u8>> {
        let body = text
            .strip_prefix(SEALED_TEXT_PREFIX)
            .ok_or_else(|| corrupt(aad))?;
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| corrupt(aad))?;
        self.open(aad.as_bytes(), &sealed)
    }

    /// Opens a value from a TEXT column.
    pub fn open_text(&self, aad: &str, text: &str) -> Result<String> {
        String::from_utf8(self.open_bytes_text(aad, text)?).map_err(|_| corrupt(aad))
    }

    /// The keyed hash that finds a value again (`domain` separates kinds of value).
    pub fn lookup_hash(&self, domain: &str, value: &str) -> [u8; 32] {
        self.keyed_hash(domain, value.as_bytes())
    }

    /// The same keyed hash over bytes: what can be compared for equality without
    /// letting a reader of the database test guesses of what was hashed.
    pub fn keyed_hash(&self, domain: &str, value: &[u8]) -> [u8; 32] {
        let mut m = Vec::with_capacity(domain.len() + 1 + value.len());
        m.extend_from_slice(domain.as_bytes());
        m.push(0);
        m.extend_from_slice(value);
        hmac_sha256(&self.lookup, &m)
    }
}

/// A key of its own for a file written now and read back by the same process (an
/// export's NDJSON part): kept in memory only, so the file on disk means nothing once
/// the process forgets it. The file is a run of chunks, each `[u32 big-endian length]
/// [AES-256-GCM ciphertext]`, its nonce the chunk's number and the file's name bound
/// as associated data, so chunks cannot be altered, reordered or moved between files;
/// the reader compares the count of chunks with the one the writer kept.
pub struct FileKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(…)")
    }
}

impl FileKey {
    /// A fresh random key.
    pub fn random() -> FileKey {
        FileKey {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(random32())),
        }
    }

    fn nonce(chunk: u32) -> Nonce<aes_gcm::aead::consts::U12> {
        let mut n = [0u8; NONCE_BYTES];
        n[..4].copy_from_slice(&chunk.to_be_bytes());
        Nonce::from(n)
    }

    /// Chunk number `chunk` of the file `name` sealed, with its length in front.
    pub fn seal_chunk(&self, name: &str, chunk: u32, plaintext: &[u8]) -> Vec<u8> {
        let sealed = self
            .cipher
            .encrypt(
                &Self::nonce(chunk),
                Payload {
                    msg: plaintext,
                    aad: name.as_bytes(),
                },
            )
            .expect("AES-GCM seals any chunk of Gongti's size");
        let len = u32::try_from(sealed.len()).expect("a chunk shorter than 4 GiB");
        let mut out = Vec::with_capacity(4 + sealed.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens chunk number `chunk` of the file `name` (its sealed bytes, without the
    /// length).
    pub fn open_chunk(&self, name: &str, chunk: u32, sealed: &[u8]) -> Result<Vec<u8>> {
        self.cipher
            .decrypt(
                &Self::nonce(chunk),
                Payload {
                    msg: sealed,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Corrupt(format!("chunk {chunk} of {name} does not open")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2_shape() {
        // RFC 4231 test case 2 uses a 4-byte key; ours are 32 bytes, zero-padded the
        // same way HMAC pads any short key.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        assert_eq!(
            hex(&hmac_sha256(&key, b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn sealed_values_open_only_with_their_column_and_key() {
        let keys = DataKeys::generate();
        let sealed = keys.seal_text("residents.id_number", "11010519491231002X");
        assert!(sealed.starts_with(SEALED_TEXT_PREFIX));
        assert!(!sealed.contains("11010519491231002X"));
        assert_eq!(
            keys.open_text("residents.id_number", &sealed).unwrap(),
            "11010519491231002X"
        );
        // Twice the same value seals differently (a fresh nonce), and opens the same.
        assert_ne!(
            sealed,
            keys.seal_text("residents.id_number", "11010519491231002X")
        );
        // Another column, another store's keys, a changed byte: nothing opens.
        assert!(keys.open_text("residents.phone", &sealed).is_err());
        assert!(
            DataKeys::generate()
                .open_text("residents.id_number", &sealed)
                .is_err()
        );
        let mut raw = keys.seal(b"c", b"value");
        let last = raw.len() - 1;
        raw[last] ^= 1;
        assert!(keys.open(b"c", &raw).is_err());
        // The lookup hash is stable for a value and a domain, and keyed.
        assert_eq!(keys.lookup_hash("id", "x"), keys.lookup_hash("id", "x"));
        assert_ne!(keys.lookup_hash("id", "x"), keys.lookup_hash("phone", "x"));
        assert_ne!(
            keys.lookup_hash("id", "x"),
            DataKeys::generate().lookup_hash("id", "x")
        );
    }

    #[test]
    fn a_rotated_key_seals_and_the_old_one_still_opens() {
        let dir = std::env::temp_dir().join(format!("gongti-keys-{}", std::process::id()));
        let path = dir.join("data.key");
        let _ = std::fs::remove_file(&path);
        let (old, created) = DataKeys::load_or_create(&path).unwrap();
        assert!(created);
        let before = old.seal_text("c", "13812341234");
        assert_eq!(DataKeys::rotate(&path).unwrap(), 2);
        let new = DataKeys::load(&path).unwrap();
        assert_eq!(new.current_id(), 2);
        assert_eq!(new.open_text("c", &before).unwrap(), "13812341234");
        let after = new.seal_text("c", "13812341234");
        let raw = |t: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t.strip_prefix(SEALED_TEXT_PREFIX).unwrap())
                .unwrap()
        };
        assert_eq!(DataKeys::sealed_with(&raw(&before)), Some(1));
        assert_eq!(DataKeys::sealed_with(&raw(&after)), Some(2));
        assert!(old.open_text("c", &after).is_err());
        // The lookup key stays: values are found again after a rotation.
        assert_eq!(old.lookup_hash("id", "x"), new.lookup_hash("id", "x"));
    }

    #[test]
    fn a_file_key_opens_its_own_chunks_in_their_place_only() {
        let key = FileKey::random();
        let sealed = key.seal_chunk("Patient-1.ndjson", 0, b"{\"id\":\"1\"}\n");
        let len = u32::from_be_bytes(sealed[..4].try_into().unwrap()) as usize;
        assert_eq!(len, sealed.len() - 4);
        let body = &sealed[4..];
        assert_eq!(
            key.open_chunk("Patient-1.ndjson", 0, body).unwrap(),
            b"{\"id\":\"1\"}\n"
        );
        assert!(
            !body.windows(4).any(|w| w == b"\"id\""),
            "the plaintext shows"
        );
        // Another place, another file, another key or a changed byte: refused.
        assert!(key.open_chunk("Patient-1.ndjson", 1, body).is_err());
        assert!(key.open_chunk("Patient-2.ndjson", 0, body).is_err());
        assert!(
            FileKey::random()
                .open_chunk("Patient-1.ndjson", 0, body)
                .is_err()
        );
        let mut changed = body.to_vec();
        changed[0] ^= 1;
        assert!(key.open_chunk("Patient-1.ndjson", 0, &changed).is_err());
        assert_eq!(format!("{key:?}"), "FileKey(…)");
    }
}
