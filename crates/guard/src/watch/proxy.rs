//! A pass-through in front of a PostgreSQL server: the code under test
//! connects to it instead of the server, every byte goes through unchanged,
//! and the text of every statement the code sends (simple `Query` and
//! extended `Parse` messages) is kept for the engine's shape feedback and
//! the reports.
//!
//! Why a pass-through and not the server's statistics: `pg_stat_statements`
//! needs a server restart (`shared_preload_libraries`) and keeps normalized
//! texts without their order or their session; `log_statement` writes to a
//! file rowguard may not read. The wire protocol is the one place every
//! client library meets. TLS is declined (`N` to an SSL or GSSAPI request,
//! as a server without it answers), so clients that prefer TLS go on in the
//! clear, on loopback; a client that requires TLS cannot connect.
//!
//! Every byte from the client is hostile input here too: a message length
//! below 4 or above [`MAX_MESSAGE`] ends that connection, nothing else.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// Largest client message passed on (PostgreSQL's own limit is 1 GB).
const MAX_MESSAGE: usize = 64 << 20;
/// Statements kept between two takes; text kept per statement.
const KEEP: usize = 4096;
const KEEP_TEXT: usize = 64 << 10;

const SSL_REQUEST: u32 = 80_877_103;
const GSS_REQUEST: u32 = 80_877_104;

/// A running pass-through; stopped when dropped.
pub(crate) struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on a free loopback port and passes every connection to `upstream`.
    pub(crate) fn start(upstream: SocketAddr) -> io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Mutex::new(Vec::new()));
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
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // wake the accepting thread so it sees the stop
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads a length word and the body it announces (`len` counts itself).
fn body(r: &mut impl Read) -> io::Result<(u32, Vec<u8>)> {
    let len = read_u32(r)?;
    if !(4..=MAX_MESSAGE as u32).contains(&len) {
        return Err(bad("message length out of range"));
    }
    let mut body = vec![0; len as usize - 4];
    r.read_exact(&mut body)?;
    Ok((len, body))
}

fn cstring(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == 0) {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}

fn pass(mut client: TcpStream, upstream: SocketAddr, seen: &Mutex<Vec<String>>) -> io::Result<()> {
    // the startup phase: decline TLS, then hand the startup message on
    let startup = loop {
        let (len, b) = body(&mut client)?;
        let code = b
            .get(..4)
            .map_or(0, |c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        if code == SSL_REQUEST || code == GSS_REQUEST {
            client.write_all(b"N")?;
            continue;
        }
        let mut m = len.to_be_bytes().to_vec();
        m.extend_from_slice(&b);
        break m;
    };
    let mut server = TcpStream::connect(upstream)?;
    // each message goes out as it comes: no waiting for a delayed ACK
    server.set_nodelay(true)?;
    client.set_nodelay(true)?;
    server.write_all(&startup)?;
    let (mut from_server, mut to_client) = (server.try_clone()?, client.try_clone()?);
    let back = thread::spawn(move || {
        let _ = io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Both);
    });
    let result = (|| -> io::Result<()> {
        loop {
            let mut tag = [0; 1];
            if client.read(&mut tag)? == 0 {
                return Ok(());
            }
            let (len, b) = body(&mut client)?;
            let text = match tag[0] {
                b'Q' => Some(cstring(&b).0),
                b'P' => Some(cstring(cstring(&b).1).0),
                _ => None,
            };
            if let Some(text) = text {
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                if seen.len() < KEEP {
                    let cut = &text[..text.len().min(KEEP_TEXT)];
                    seen.push(String::from_utf8_lossy(cut).into_owned());
                }
            }
            let mut message = Vec::with_capacity(5 + b.len());
            message.push(tag[0]);
            message.extend_from_slice(&len.to_be_bytes());
            message.extend_from_slice(&b);
            server.write_all(&message)?;
        }
    })();
    let _ = server.shutdown(Shutdown::Both);
    let _ = back.join();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_out_of_range_end_the_read() {
        for len in [0u32, 3, (MAX_MESSAGE as u32) + 1, u32::MAX] {
            let mut bytes = len.to_be_bytes().to_vec();
            bytes.extend_from_slice(&[0; 8]);
            assert!(body(&mut bytes.as_slice()).is_err(), "{len}");
        }
        let mut short = 10u32.to_be_bytes().to_vec();
        short.extend_from_slice(&[1, 2]);
        assert!(body(&mut short.as_slice()).is_err(), "a body cut short");
    }

    #[test]
    fn parse_messages_give_their_query() {
        let b = b"stmt1\0SELECT 1\0\0\0";
        assert_eq!(cstring(cstring(b).1).0, b"SELECT 1");
        assert_eq!(cstring(b"no nul").0, b"no nul");
    }
}
