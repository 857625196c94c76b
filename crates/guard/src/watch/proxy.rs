//! Pass-throughs in front of a server: the code under test connects to one
//! on loopback instead of the server, the bytes go through, and the text of
//! every statement the code sends is kept for the engine's shape feedback
//! and the reports. What every protocol shares is here (the listener, the
//! accept loop, stopping, the bounded record of statements, the two
//! directions of a connection); each protocol's reading of the client's
//! bytes is a module of its own: [`pg`] (PostgreSQL), [`my`] (MariaDB/MySQL).
//!
//! Why a pass-through and not the server's statistics or logs: PostgreSQL's
//! `pg_stat_statements` needs a server restart and keeps normalized texts
//! without their order or their session, and both servers' statement logs
//! are files rowguard may not read (or global settings it may not change).
//! The wire protocol is the one place every client library meets.
//!
//! Every byte from the client is hostile input here: what cannot be read as
//! the protocol ends that connection, nothing else, and nothing panics.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

pub(crate) mod my;
pub(crate) mod pg;

/// Statements kept between two takes; text kept per statement.
pub(crate) const KEEP: usize = 4096;
pub(crate) const KEEP_TEXT: usize = 64 << 10;

/// The statements seen since the last take, in the order they arrived
/// (at most [`KEEP`], each cut to [`KEEP_TEXT`] bytes).
#[derive(Debug, Default)]
pub(crate) struct Seen(Mutex<Vec<String>>);

impl Seen {
    /// Keeps the text of one statement (lossy UTF-8, cut to [`KEEP_TEXT`]).
    pub(crate) fn keep(&self, text: &[u8]) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() < KEEP {
            let cut = &text[..text.len().min(KEEP_TEXT)];
            seen.push(String::from_utf8_lossy(cut).into_owned());
        }
    }

    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// How one protocol passes one connection on: the client's stream, the
/// server's address, where the statements go.
pub(crate) type Pass = fn(TcpStream, SocketAddr, &Seen) -> io::Result<()>;

/// A running pass-through; stopped when dropped.
pub(crate) struct Proxy {
    port: u16,
    seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on a free loopback port and passes every connection to
    /// `upstream` with `pass`.
    pub(crate) fn start(upstream: SocketAddr, pass: Pass) -> io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Seen::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (seen.clone(), stop.clone());
        thread::Builder::new()
            .name("rowguard-proxy".into())
            .spawn(move || {
                for client in listener.incoming() {
                    if st.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let seen = s.clone();
                    let _ = thread::Builder::new()
                        .name("rowguard-proxy-conn".into())
                        .spawn(move || {
                            let _ = pass(client, upstream, &seen);
                        });
                }
            })?;
        Ok(Proxy { port, seen, stop })
    }

    /// The port the code under test connects to.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The statements sent since the last take, in the order they arrived.
    pub(crate) fn take(&self) -> Vec<String> {
        self.seen.take()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // wake the accepting thread so it sees the stop
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

pub(crate) fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads `n` bytes into `buf` (after what it holds), growing it as they
/// arrive: a length announced and never sent costs no memory.
pub(crate) fn read_into(r: &mut impl Read, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let want = buf.len() + n;
    buf.reserve(n.min(64 << 10));
    r.take(n as u64).read_to_end(buf)?;
    if buf.len() < want {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Connects to the server; each packet goes out as it comes on both sides
/// (no waiting for a delayed ACK).
pub(crate) fn dial(client: &TcpStream, upstream: SocketAddr) -> io::Result<TcpStream> {
    let server = TcpStream::connect(upstream)?;
    server.set_nodelay(true)?;
    client.set_nodelay(true)?;
    Ok(server)
}

/// Copies what the server sends to the client on a thread of its own while
/// `forward` passes the client's bytes to the server; when either direction
/// ends, both ends are shut down.
pub(crate) fn both_ways(
    mut client: TcpStream,
    mut server: TcpStream,
    forward: impl FnOnce(&mut TcpStream, &mut TcpStream) -> io::Result<()>,
) -> io::Result<()> {
    let (mut from_server, mut to_client) = (server.try_clone()?, client.try_clone()?);
    let back = thread::spawn(move || {
        let _ = io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Both);
    });
    let result = forward(&mut client, &mut server);
    let _ = server.flush();
    let _ = server.shutdown(Shutdown::Both);
    let _ = back.join();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_is_bounded() {
        let seen = Seen::default();
        seen.keep(&vec![b'x'; KEEP_TEXT + 10]);
        seen.keep(b"caf\xc3");
        let got = seen.take();
        assert_eq!(got[0].len(), KEEP_TEXT);
        assert_eq!(got[1], "caf\u{fffd}");
        for _ in 0..KEEP + 5 {
            seen.keep(b"SELECT 1");
        }
        assert_eq!(seen.take().len(), KEEP);
        assert!(seen.take().is_empty());
    }
}
