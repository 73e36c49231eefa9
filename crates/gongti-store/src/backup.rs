//! Backup archives: one consistent copy of a store, sealed with a key derived from
//! the data key (docs/security.md).
//!
//! An archive is a plain header line and a stream of sealed chunks:
//!
//! ```text
//! GONGTI-BACKUP v1 engine=sqlite created_at_us=… key=3 salt=<32 hex> nonce=<14 hex>\n
//! [u32 big-endian: length | LAST bit][AES-256-GCM ciphertext] …
//! ```
//!
//! Each chunk holds up to [`CHUNK_BYTES`] of the payload; its nonce is the archive's
//! nonce prefix, the chunk's number and whether it is the last, and the header line
//! is authenticated with every chunk. So a changed byte, a changed header, chunks
//! swapped, dropped or cut off after any chunk all fail to open, and nothing is
//! restored from an archive that does not open to its end. The archive key is
//! HMAC-SHA-256 of the data key over a per-archive salt: the data key file is needed
//! to restore, as it is to read the sealed columns anyway.
//!
//! The payload of a SQLite archive is its two files, each as a name and a length; a
//! PostgreSQL archive's payload is `pg_dump`'s custom format as it was produced.

use std::io::{self, BufRead, Read, Write};
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use crate::crypto::DataKeys;
use crate::{Result, StoreError};

const MAGIC: &str = "GONGTI-BACKUP v1";
/// Payload bytes per sealed chunk.
pub const CHUNK_BYTES: usize = 1 << 20;
const LAST: u32 = 1 << 31;
const TAG_BYTES: usize = 16;
const KEY_LABEL: &[u8] = b"gongti-backup-v1";
/// The SQLite files an archive holds, in the order they are copied: the records
/// first, then the chain, so every record's audit entry is in the copy (in the
/// outbox, or already in the chain: ARCHITECTURE.md).
pub const SQLITE_FILES: [&str; 2] = ["gongti.db", "audit.db"];
/// Longest header line read.
const HEADER_MAX_BYTES: u64 = 512;

/// What an archive says about itself, in the clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `sqlite` or `postgres`.
    pub engine: String,
    pub created_at_us: i64,
    /// The data key the archive key was derived from.
    pub key_id: u32,
    salt: [u8; 16],
    nonce_prefix: [u8; 7],
}

impl Header {
    fn line(&self) -> String {
        format!(
            "{MAGIC} engine={} created_at_us={} key={} salt={} nonce={}\n",
            self.engine,
            self.created_at_us,
            self.key_id,
            hex(&self.salt),
            hex(&self.nonce_prefix)
        )
    }

    fn parse(line: &str) -> std::result::Result<Header, String> {
        let rest = line
            .strip_suffix('\n')
            .and_then(|l| l.strip_prefix(MAGIC))
            .ok_or("not a Gongti backup archive")?;
        let field = |name: &str| {
            rest.split_whitespace()
                .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
                .ok_or(format!("the archive's header lacks {name}"))
        };
        let engine = field("engine")?.to_owned();
        if !matches!(engine.as_str(), "sqlite" | "postgres") {
            return Err(format!("unknown engine {engine:?}"));
        }
        Ok(Header {
            engine,
            created_at_us: field("created_at_us")?
                .parse()
                .map_err(|_| "bad created_at_us")?,
            key_id: field("key")?.parse().map_err(|_| "bad key")?,
            salt: unhex(field("salt")?).ok_or("bad salt")?,
            nonce_prefix: unhex(field("nonce")?).ok_or("bad nonce")?,
        })
    }

    fn nonce(&self, chunk: u32, last: bool) -> Nonce<aes_gcm::aead::consts::U12> {
        let mut n = [0u8; 12];
        n[..7].copy_from_slice(&self.nonce_prefix);
        n[7..11].copy_from_slice(&chunk.to_be_bytes());
        n[11] = u8::from(last);
        Nonce::from(n)
    }

    fn cipher(&self, keys: &DataKeys) -> Result<Aes256Gcm> {
        let mut label = KEY_LABEL.to_vec();
        label.extend_from_slice(&self.salt);
        let (_, key) = keys.derive(Some(self.key_id), &label).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "the archive is sealed with data key {}, which the key file lacks",
                self.key_id
            ))
        })?;
        Ok(Aes256Gcm::new(&Key::<Aes256Gcm>::from(key)))
    }
}

fn hex(bytes: &[u8]) -> String {
    gongti_core::checkpoint::hex(bytes)
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    gongti_core::checkpoint::unhex(text)
}

fn refused(what: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Writes an archive: the header, then what is written to it, sealed chunk by chunk.
/// [`SealedWriter::finish`] seals the last chunk; an archive not finished does not
/// open.
pub struct SealedWriter<W: Write> {
    out: W,
    header: Header,
    aad: Vec<u8>,
    cipher: Aes256Gcm,
    buffer: Vec<u8>,
    chunk: u32,
}

impl<W: Write> SealedWriter<W> {
    /// Starts an archive of `engine` sealed with the current data key.
    pub fn begin(mut out: W, keys: &DataKeys, engine: &str, created_at_us: i64) -> Result<Self> {
        let mut salt = [0u8; 16];
        let mut nonce_prefix = [0u8; 7];
        getrandom::fill(&mut salt).expect("the operating system's random source");
        getrandom::fill(&mut nonce_prefix).expect("the operating system's random source");
        let header = Header {
            engine: engine.to_owned(),
            created_at_us,
            key_id: keys.current_id(),
            salt,
            nonce_prefix,
        };
        let cipher = header.cipher(keys)?;
        let aad = header.line().into_bytes();
        out.write_all(&aad).map_err(io_error)?;
        Ok(SealedWriter {
            out,
            header,
            aad,
            cipher,
            buffer: Vec::with_capacity(CHUNK_BYTES),
            chunk: 0,
        })
    }

    fn seal(&mut self, last: bool) -> io::Result<()> {
        let sealed = self
            .cipher
            .encrypt(
                &self.header.nonce(self.chunk, last),
                Payload {
                    msg: &self.buffer,
                    aad: &self.aad,
                },
            )
            .map_err(|_| refused("sealing a chunk"))?;
        let len = u32::try_from(sealed.len()).map_err(|_| refused("chunk too long"))?;
        self.out
            .write_all(&(len | if last { LAST } else { 0 }).to_be_bytes())?;
        self.out.write_all(&sealed)?;
        self.buffer.clear();
        self.chunk = self
            .chunk
            .checked_add(1)
            .ok_or_else(|| refused("archive too long"))?;
        Ok(())
    }

    /// Seals the last chunk and flushes; returns the output.
    pub fn finish(mut self) -> io::Result<W> {
        self.seal(true)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

impl<W: Write> Write for SealedWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK_BYTES - self.buffer.len();
        let taken = room.min(data.len());
        self.buffer.extend_from_slice(&data[..taken]);
        if self.buffer.len() == CHUNK_BYTES {
            self.seal(false)?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Reads an archive's payload, failing (`InvalidData`) at the first chunk that does
/// not open and at an end before the last chunk.
pub struct SealedReader<R: Read> {
    input: R,
    header: Header,
    aad: Vec<u8>,
    cipher: Aes256Gcm,
    plain: Vec<u8>,
    at: usize,
    chunk: u32,
    ended: bool,
}

impl<R: BufRead> SealedReader<R> {
    /// Reads the header and prepares to open the chunks with `keys`.
    pub fn open(mut input: R, keys: &DataKeys) -> Result<Self> {
        let mut line = String::new();
        (&mut input)
            .take(HEADER_MAX_BYTES)
            .read_line(&mut line)
            .map_err(|_| StoreError::Corrupt("not a Gongti backup archive".into()))?;
        let header = Header::parse(&line).map_err(StoreError::Corrupt)?;
        let cipher = header.cipher(keys)?;
        Ok(SealedReader {
            input,
            aad: line.into_bytes(),
            header,
            cipher,
            plain: Vec::new(),
            at: 0,
            chunk: 0,
            ended: false,
        })
    }
}

impl<R: Read> SealedReader<R> {
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Opens the next chunk; `false` after the last.
    fn next_chunk(&mut self) -> io::Result<bool> {
        if self.ended {
            return Ok(false);
        }
        let mut len = [0u8; 4];
        self.input
            .read_exact(&mut len)
            .map_err(|_| refused("the archive is cut short"))?;
        let len = u32::from_be_bytes(len);
        let last = len & LAST != 0;
        let len = (len & !LAST) as usize;
        if !(TAG_BYTES..=CHUNK_BYTES + TAG_BYTES).contains(&len) {
            return Err(refused("the archive is damaged"));
        }
        let mut sealed = vec![0u8; len];
        self.input
            .read_exact(&mut sealed)
            .map_err(|_| refused("the archive is cut short"))?;
        self.plain = self
            .cipher
            .decrypt(
                &self.header.nonce(self.chunk, last),
                Payload {
                    msg: &sealed,
                    aad: &self.aad,
                },
            )
            .map_err(|_| {
                refused(format!(
                    "chunk {} of the archive does not open: the archive was altered, or this is not its data key",
                    self.chunk
                ))
            })?;
        self.at = 0;
        self.chunk += 1;
        if last {
            self.ended = true;
            let mut more = [0u8; 1];
            if self.input.read(&mut more)? > 0 {
                return Err(refused("bytes follow the archive's last chunk"));
            }
        }
        Ok(true)
    }
}

impl<R: Read> Read for SealedReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.plain.len() {
            if !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.plain.len() - self.at);
        out[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn io_error(e: io::Error) -> StoreError {
    StoreError::Corrupt(format!("backup archive: {e}"))
}

/// Copies the SQLite store in `data_dir` into `into` (an empty directory), one
/// consistent file at a time in [`SQLITE_FILES`] order, beside a running server.
pub fn snapshot_sqlite(data_dir: &Path, into: &Path) -> Result<()> {
    for name in SQLITE_FILES {
        let from = data_dir.join(name);
        if !from.exists() {
            return Err(StoreError::Corrupt(format!(
                "no {name} in {}",
                data_dir.display()
            )));
        }
        let conn = rusqlite::Connection::open_with_flags(
            &from,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Corrupt(format!("opening {}: {e}", from.display())))?;
        conn.busy_timeout(crate::SQLITE_BUSY_TIMEOUT)
            .and_then(|()| {
                conn.execute(
                    "VACUUM INTO ?1",
                    [into.join(name).to_string_lossy().as_ref()],
                )
            })
            .map_err(|e| StoreError::Corrupt(format!("copying {}: {e}", from.display())))?;
    }
    Ok(())
}

/// Writes the SQLite files of `dir` into an archive's payload.
pub fn write_sqlite_files(out: &mut impl Write, dir: &Path) -> io::Result<()> {
    for name in SQLITE_FILES {
        let path = dir.join(name);
        let size = std::fs::metadata(&path)?.len();
        out.write_all(&[name.len() as u8])?;
        out.write_all(name.as_bytes())?;
        out.write_all(&size.to_be_bytes())?;
        let copied = io::copy(&mut std::fs::File::open(&path)?, out)?;
        if copied != size {
            return Err(refused(format!("{name} changed while it was archived")));
        }
    }
    Ok(())
}

/// Reads the SQLite files of an archive's payload into `dir` (synced), refusing any
/// name but [`SQLITE_FILES`] in order, and anything after them.
pub fn read_sqlite_files(input: &mut impl Read, dir: &Path) -> io::Result<()> {
    for expected in SQLITE_FILES {
        let mut len = [0u8; 1];
        input.read_exact(&mut len)?;
        let mut name = vec![0u8; usize::from(len[0])];
        input.read_exact(&mut name)?;
        if name != expected.as_bytes() {
            return Err(refused(format!(
                "the archive holds {:?} where {expected} was expected",
                String::from_utf8_lossy(&name)
            )));
        }
        let mut size = [0u8; 8];
        input.read_exact(&mut size)?;
        let size = u64::from_be_bytes(size);
        let mut file = std::fs::File::create(dir.join(expected))?;
        let copied = io::copy(&mut input.take(size), &mut file)?;
        if copied != size {
            return Err(refused("the archive is cut short"));
        }
        file.sync_all()?;
    }
    let mut more = [0u8; 1];
    if input.read(&mut more)? > 0 {
        return Err(refused("the archive holds more than a store"));
    }
    Ok(())
}

/// Whether the PostgreSQL database at `url` holds no table yet: a restore's target
/// must be empty, so nothing of two histories is mixed.
pub async fn postgres_is_empty(url: &str) -> Result<bool> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let (tables,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok(tables == 0)
}

/// Whether `data_dir` holds (part of) a SQLite store.
pub fn sqlite_store_present(data_dir: &Path) -> bool {
    SQLITE_FILES.iter().any(|name| {
        ["", "-wal", "-shm", "-journal"]
            .iter()
            .any(|suffix| data_dir.join(format!("{name}{suffix}")).exists())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed(keys: &DataKeys, payload: &[u8]) -> Vec<u8> {
        let mut w = SealedWriter::begin(Vec::new(), keys, "sqlite", 42).unwrap();
        w.write_all(payload).unwrap();
        w.finish().unwrap()
    }

    fn opened(keys: &DataKeys, archive: &[u8]) -> io::Result<Vec<u8>> {
        let mut r = SealedReader::open(archive, keys).map_err(|e| refused(e.to_string()))?;
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn an_archive_opens_to_what_was_written_and_only_whole_and_unaltered() {
        let keys = DataKeys::generate();
        for size in [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, 2 * CHUNK_BYTES + 17] {
            let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let archive = sealed(&keys, &payload);
            assert_eq!(opened(&keys, &archive).unwrap(), payload, "size {size}");
            // Cut anywhere, it does not open.
            let header = archive.iter().position(|b| *b == b'\n').unwrap() + 1;
            for cut in [header, header + 3, archive.len() - 1] {
                assert!(opened(&keys, &archive[..cut]).is_err(), "cut at {cut}");
            }
            // A changed byte anywhere after the magic does not open either.
            for at in [MAGIC.len() + 9, header + 2, header + 10, archive.len() - 1] {
                let mut changed = archive.clone();
                changed[at] ^= 1;
                assert!(opened(&keys, &changed).is_err(), "byte {at} changed");
            }
            // Nor does anything appended.
            let mut longer = archive.clone();
            longer.push(0);
            assert!(opened(&keys, &longer).is_err());
        }
        // Another key file does not open it.
        let archive = sealed(&keys, b"records");
        let err = opened(&DataKeys::generate(), &archive).unwrap_err();
        assert!(err.to_string().contains("does not open"), "{err}");
        assert!(opened(&keys, b"PK\x03\x04 not an archive\n").is_err());
    }

    #[test]
    fn chunks_cannot_be_dropped_or_swapped() {
        let keys = DataKeys::generate();
        let payload = vec![7u8; 3 * CHUNK_BYTES];
        let archive = sealed(&keys, &payload);
        let header = archive.iter().position(|b| *b == b'\n').unwrap() + 1;
        let chunk = 4 + CHUNK_BYTES + TAG_BYTES;
        // The second chunk dropped, or the first two swapped.
        let mut dropped = archive[..header + chunk].to_vec();
        dropped.extend_from_slice(&archive[header + 2 * chunk..]);
        assert!(opened(&keys, &dropped).is_err());
        let mut swapped = archive[..header].to_vec();
        swapped.extend_from_slice(&archive[header + chunk..header + 2 * chunk]);
        swapped.extend_from_slice(&archive[header..header + chunk]);
        swapped.extend_from_slice(&archive[header + 2 * chunk..]);
        assert!(opened(&keys, &swapped).is_err());
    }
}
