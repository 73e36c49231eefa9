//! The MLLP listener for laboratory results (DOMAIN.md §8): HL7 v2 messages framed as
//! `0x0B … 0x1C 0x0D`, many on one connection, each answered with its acknowledgement
//! only after the app stored it (`App::receive_lab_message`). A frame is read however
//! the bytes arrive (split over reads or several in one); bytes before a start block
//! are dropped; a frame past [`MESSAGE_MAX_BYTES`] closes the connection; so does a
//! connection silent for [`IDLE_TIMEOUT`]. When the store fails no acknowledgement is
//! sent and the connection is closed, so the sender sends the message again.

use std::sync::Arc;
use std::time::Duration;

use gongti_app::App;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::hl7::{acknowledgement, read_message};

/// Start block, end block and the carriage return that ends a frame.
pub const START_BLOCK: u8 = 0x0B;
pub const END_BLOCK: u8 = 0x1C;
pub const CARRIAGE_RETURN: u8 = 0x0D;
/// The largest message taken.
pub const MESSAGE_MAX_BYTES: usize = 1024 * 1024;
/// A connection that sends nothing this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Connections served at once; past it, new ones wait to be accepted.
pub const CONNECTIONS_MAX: usize = 64;
/// An acknowledgement the peer does not take in this long closes the connection.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether a peer may send: one of `allowed`, or, when none is configured, a peer on
/// loopback (the sender's address is the only proof of who it is: MLLP carries no
/// credentials, DOMAIN.md §8 — run it over TLS or a private network).
pub fn peer_allowed(peer: std::net::IpAddr, allowed: &[std::net::IpAddr]) -> bool {
    if allowed.is_empty() {
        peer.is_loopback()
    } else {
        allowed.contains(&peer)
    }
}

/// What the framer found in the bytes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Message(Vec<u8>),
    /// A message longer than the limit: the connection is closed.
    TooLong,
}

/// Reads frames from a stream of bytes. A start block inside an unfinished frame
/// starts a new one (the unfinished bytes are dropped); each byte is looked at once.
#[derive(Debug, Default)]
pub struct Framer {
    buf: Vec<u8>,
    /// How far the current frame was searched for its end.
    scanned: usize,
    /// Bytes dropped outside frames (logged by count).
    pub dropped: usize,
}

impl Framer {
    /// Takes more bytes; returns the frames they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            match self.buf.iter().position(|b| *b == START_BLOCK) {
                None => {
                    self.dropped += self.buf.len();
                    self.buf.clear();
                    self.scanned = 0;
                    return out;
                }
                Some(0) => {}
                Some(start) => {
                    self.dropped += start;
                    self.buf.drain(..start);
                    self.scanned = 0;
                }
            }
            let mut i = self.scanned.max(1);
            let mut found = None;
            while i < self.buf.len() {
                match self.buf[i] {
                    START_BLOCK => {
                        found = Some(Err(i));
                        break;
                    }
                    END_BLOCK if i + 1 == self.buf.len() => break,
                    END_BLOCK if self.buf[i + 1] == CARRIAGE_RETURN => {
                        found = Some(Ok(i));
                        break;
                    }
                    _ => i += 1,
                }
            }
            match found {
                Some(Err(restart)) => {
                    self.dropped += restart;
                    self.buf.drain(..restart);
                    self.scanned = 0;
                }
                Some(Ok(end)) => {
                    let message = self.buf[1..end].to_vec();
                    self.buf.drain(..end + 2);
                    self.scanned = 0;
                    if message.len() > MESSAGE_MAX_BYTES {
                        out.push(Frame::TooLong);
                        return out;
                    }
                    out.push(Frame::Message(message));
                }
                None => {
                    self.scanned = i;
                    if self.buf.len() > MESSAGE_MAX_BYTES + 3 {
                        out.push(Frame::TooLong);
                    }
                    return out;
                }
            }
        }
    }
}

/// Frames a message for sending.
pub fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START_BLOCK);
    out.extend_from_slice(message);
    out.extend_from_slice(&[END_BLOCK, CARRIAGE_RETURN]);
    out
}

/// Serves MLLP on `listener` until `stop` turns true; then each connection ends after
/// the message it is storing, and this returns once they all have.
pub async fn serve_mllp(
    listener: TcpListener,
    app: App,
    allowed: Vec<std::net::IpAddr>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let permits = Arc::new(tokio::sync::Semaphore::new(CONNECTIONS_MAX));
    let mut tasks = tokio::task::JoinSet::new();
    let mut stopping = stop.clone();
    let shutdown = async move {
        let _ = stopping.wait_for(|s| *s).await;
    };
    tokio::pin!(shutdown);
    let result = loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break Ok(()),
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(e) => break Err(std::io::Error::other(e)),
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "mllp accept failed");
                    continue;
                }
            },
        };
        if !peer_allowed(peer.ip(), &allowed) {
            tracing::warn!(peer = %peer.ip(), "mllp peer not allowed (--mllp-peer): closed");
            drop(stream);
            continue;
        }
        let app = app.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            if let Err(e) = connection(stream, &peer.to_string(), &app, stop).await {
                tracing::info!(error = %e, "mllp connection closed");
            }
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    };
    while tasks.join_next().await.is_some() {}
    result
}

async fn connection(
    mut stream: TcpStream,
    peer: &str,
    app: &App,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let mut framer = Framer::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            _ = stop.wait_for(|s| *s) => return Ok(()),
            read = tokio::time::timeout(IDLE_TIMEOUT, stream.read(&mut buf)) => match read {
                Err(_) => return Ok(()),
                Ok(read) => read?,
            },
        };
        if n == 0 {
            return Ok(());
        }
        for f in framer.push(&buf[..n]) {
            let raw = match f {
                Frame::TooLong => {
                    tracing::warn!(peer, "mllp message over the size limit: closing");
                    return Ok(());
                }
                Frame::Message(raw) => raw,
            };
            let incoming = read_message(&raw, peer, gongti_app::DISPLAY_OFFSET);
            let answer = match app.receive_lab_message(incoming.clone()).await {
                Ok(a) => a,
                Err(e) => {
                    // not stored: no acknowledgement, so the sender sends it again
                    tracing::error!(error = %e, "mllp message not stored: closing");
                    return Ok(());
                }
            };
            let ack = acknowledgement(&incoming, &answer, app.now(), gongti_app::DISPLAY_OFFSET);
            match tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(&frame(&ack))).await {
                Ok(written) => written?,
                Err(_) => {
                    tracing::warn!(peer, "mllp peer took no acknowledgement in time: closing");
                    return Ok(());
                }
            }
        }
        if framer.dropped > 0 {
            tracing::info!(
                peer,
                bytes = framer.dropped,
                "mllp bytes outside a frame dropped"
            );
            framer.dropped = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_however_the_bytes_arrive() {
        let a = frame(b"MSH|one");
        let b = frame(b"MSH|two");
        let mut all = b"junk".to_vec();
        all.extend_from_slice(&a);
        all.extend_from_slice(&b);
        // every split point gives the same two messages
        for cut in 0..all.len() {
            let mut f = Framer::default();
            let mut got = f.push(&all[..cut]);
            got.extend(f.push(&all[cut..]));
            assert_eq!(
                got,
                [
                    Frame::Message(b"MSH|one".to_vec()),
                    Frame::Message(b"MSH|two".to_vec())
                ],
                "cut at {cut}"
            );
            assert_eq!(f.dropped, 4);
        }
        // a start block inside an unfinished frame starts a new one
        let mut f = Framer::default();
        let mut cut_short = vec![START_BLOCK];
        cut_short.extend_from_slice(b"MSH|lost");
        cut_short.extend_from_slice(&frame(b"MSH|kept"));
        assert_eq!(f.push(&cut_short), [Frame::Message(b"MSH|kept".to_vec())]);
        assert_eq!(f.dropped, 9);
        assert!(peer_allowed("127.0.0.1".parse().unwrap(), &[]));
        assert!(!peer_allowed("10.0.0.9".parse().unwrap(), &[]));
        assert!(peer_allowed(
            "10.0.0.9".parse().unwrap(),
            &["10.0.0.9".parse().unwrap()]
        ));
        assert!(!peer_allowed(
            "127.0.0.1".parse().unwrap(),
            &["10.0.0.9".parse().unwrap()]
        ));
        // a lone end block inside a message is data
        let mut f = Framer::default();
        let odd = frame(b"a\x1cb");
        assert_eq!(f.push(&odd), [Frame::Message(b"a\x1cb".to_vec())]);
    }

    #[test]
    fn a_frame_past_the_limit_is_refused() {
        let mut f = Framer::default();
        let mut big = vec![START_BLOCK];
        big.extend(std::iter::repeat_n(b'x', MESSAGE_MAX_BYTES + 4));
        assert_eq!(f.push(&big), [Frame::TooLong]);
        let mut f = Framer::default();
        let over = frame(&vec![b'y'; MESSAGE_MAX_BYTES + 1]);
        assert_eq!(f.push(&over), [Frame::TooLong]);
        let mut f = Framer::default();
        let at = frame(&vec![b'z'; MESSAGE_MAX_BYTES]);
        assert_eq!(f.push(&at).len(), 1);
    }
}
