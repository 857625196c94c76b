//! The MariaDB/MySQL side of the pass-through ([`super`]): the text of
//! every statement the code sends (`COM_QUERY` and `COM_STMT_PREPARE`) is
//! kept.
//!
//! The client/server protocol is packets: a 3-byte little-endian payload
//! length, a 1-byte sequence id, the payload; a payload of `0xffffff` bytes
//! or more goes on in the next packet (the last one is shorter, maybe
//! empty). Every byte goes through unchanged but for the server's greeting
//! (the first packet of a connection), where TLS and compression are
//! hidden: `CLIENT_SSL` and `CLIENT_COMPRESS` (and MySQL 8's
//! `CLIENT_ZSTD_COMPRESSION_ALGORITHM`) are cleared, so a client that
//! prefers them goes on in the clear and uncompressed, on loopback, where
//! its packets can be read; a client that requires TLS cannot connect.
//! MySQL 8's `CLIENT_QUERY_ATTRIBUTES` is cleared too: with it a
//! `COM_QUERY` carries bound attributes before its text. A client that asks
//! for any of these all the same (PHP's mysqlnd asks for compression when
//! told to compress, whatever the greeting says; the `mysql` crate goes on
//! uncompressed) gets an access-denied error that says why, and is
//! disconnected: the code under test must not insist on compression.
//!
//! After the client's handshake response (the connection phase's packets
//! go on with sequence ids above 0), every client packet with sequence id 0
//! begins a command. A payload chained past [`MAX_PAYLOAD`] (the ceiling of
//! the servers' own `max_allowed_packet`) ends that connection, nothing else.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::{bad, both_ways, dial, read_into, Seen, KEEP_TEXT};

const HEADER: usize = 4;
/// The longest packet payload; a payload this long goes on in the next packet.
const FULL: usize = 0xff_ffff;
/// The longest payload (the packets of one chain together) passed on.
const MAX_PAYLOAD: u64 = 1 << 30;
/// The longest greeting read from the server.
const MAX_GREETING: usize = 64 << 10;

const CLIENT_COMPRESS: u32 = 0x0000_0020;
const CLIENT_SSL: u32 = 0x0000_0800;
const CLIENT_ZSTD_COMPRESSION_ALGORITHM: u32 = 0x0400_0000;
const CLIENT_QUERY_ATTRIBUTES: u32 = 0x0800_0000;
/// What the greeting no longer offers.
const HIDDEN: u32 =
    CLIENT_SSL | CLIENT_COMPRESS | CLIENT_ZSTD_COMPRESSION_ALGORITHM | CLIENT_QUERY_ATTRIBUTES;
/// A handshake response in the protocol of 4.1 and later (4 bytes of capabilities).
const CLIENT_PROTOCOL_41: u32 = 0x0000_0200;

const COM_QUERY: u8 = 0x03;
const COM_STMT_PREPARE: u8 = 0x16;

/// Passes one connection on ([`super::Pass`]).
pub(crate) fn pass(mut client: TcpStream, upstream: SocketAddr, seen: &Seen) -> io::Result<()> {
    let mut server = dial(&client, upstream)?;
    // the server speaks first
    let greeting = packet(&mut server, MAX_GREETING)?.ok_or_else(|| bad("no greeting"))?;
    client.write_all(&hide(greeting))?;
    both_ways(client, server, |client, server| {
        let mut to_client = client.try_clone()?;
        let passed = forward(&mut io::BufReader::new(client), server, seen);
        if let Err(e) = &passed {
            if e.kind() == io::ErrorKind::Unsupported {
                // the client is told why, in its own words for a refusal
                let _ = to_client.write_all(&refusal(&e.to_string()));
            }
        }
        passed
    })
}

/// An `ERR` packet answering a handshake response (sequence id 2):
/// access denied, with `why`.
fn refusal(why: &str) -> Vec<u8> {
    let mut payload = vec![0xff];
    payload.extend_from_slice(&1045u16.to_le_bytes());
    payload.extend_from_slice(b"#28000");
    payload.extend_from_slice(why.as_bytes());
    let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    p.push(2);
    p.extend_from_slice(&payload);
    p
}

/// One whole packet (header and payload), none at the end of the stream
/// before its first byte; a payload longer than `max` is an error.
fn packet(r: &mut impl Read, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut p = Vec::with_capacity(HEADER);
    match read_into(r, &mut p, 1) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        done => done?,
    }
    read_into(r, &mut p, HEADER - 1)?;
    let len = usize::from(p[0]) | usize::from(p[1]) << 8 | usize::from(p[2]) << 16;
    if len > max {
        return Err(bad("packet longer than the pass-through takes"));
    }
    read_into(r, &mut p, len)?;
    Ok(Some(p))
}

/// The server's greeting with [`HIDDEN`] cleared from its capabilities
/// (protocol 10; any other packet, an error for one, goes through as it is).
fn hide(mut p: Vec<u8>) -> Vec<u8> {
    if p.get(HEADER) != Some(&10) {
        return p;
    }
    let Some(nul) = p
        .get(HEADER + 1..)
        .and_then(|v| v.iter().position(|&b| b == 0))
    else {
        return p;
    };
    // protocol, server version and its NUL, connection id, scramble, filler
    let low = HEADER + 1 + nul + 1 + 4 + 8 + 1;
    // then the lower capability bytes, character set, status, the upper ones
    let high = low + 2 + 1 + 2;
    for (at, bits) in [(low, HIDDEN as u16), (high, (HIDDEN >> 16) as u16)] {
        if let Some(b) = p.get_mut(at..at + 2) {
            let caps = u16::from_le_bytes([b[0], b[1]]) & !bits;
            b.copy_from_slice(&caps.to_le_bytes());
        }
    }
    p
}

/// Passes the client's packets to the server, each in one write, and keeps
/// the statements among them.
fn forward(client: &mut impl Read, server: &mut impl Write, seen: &Seen) -> io::Result<()> {
    let mut commands = Commands::default();
    while let Some(p) = packet(client, FULL)? {
        commands.read(&p, seen)?;
        server.write_all(&p)?;
    }
    Ok(())
}

/// What the client's packets have said so far.
#[derive(Debug, Default)]
struct Commands {
    /// The handshake response went by: sequence id 0 begins a command.
    answered: bool,
    /// A payload goes on in the next packet: its length so far, and the
    /// text kept of it when it is a statement.
    chained: Option<(u64, Option<Vec<u8>>)>,
}

impl Commands {
    /// Reads one whole packet; keeps a statement once its payload is whole.
    fn read(&mut self, p: &[u8], seen: &Seen) -> io::Result<()> {
        let seq = p.get(3).copied().unwrap_or(0);
        let payload = p.get(HEADER..).unwrap_or_default();
        let goes_on = payload.len() == FULL;
        let (total, text) = match self.chained.take() {
            Some((before, mut text)) => {
                if let Some(t) = &mut text {
                    let room = KEEP_TEXT.saturating_sub(t.len());
                    t.extend_from_slice(&payload[..payload.len().min(room)]);
                }
                (before + payload.len() as u64, text)
            }
            None if !self.answered => {
                self.answered = true;
                check_response(payload)?;
                (payload.len() as u64, None)
            }
            None => {
                let text = match (seq, payload.first()) {
                    (0, Some(&(COM_QUERY | COM_STMT_PREPARE))) => {
                        Some(payload[1..payload.len().min(1 + KEEP_TEXT)].to_vec())
                    }
                    _ => None,
                };
                (payload.len() as u64, text)
            }
        };
        if total > MAX_PAYLOAD {
            return Err(bad("payload longer than the servers take"));
        }
        match (goes_on, text) {
            (true, text) => self.chained = Some((total, text)),
            (false, Some(text)) => seen.keep(&text),
            (false, None) => {}
        }
        Ok(())
    }
}

/// Checks the client's handshake response against the greeting it was
/// given: a client asking for what was hidden all the same is ended. After
/// TLS asked for comes TLS, unreadable here; after compression asked for,
/// the server compresses, and so does the client that asked whatever the
/// greeting said (PHP's mysqlnd), unreadable here too.
fn check_response(payload: &[u8]) -> io::Result<()> {
    let low = payload
        .get(..2)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
    let mut caps = u32::from(low);
    if caps & CLIENT_PROTOCOL_41 != 0 {
        let high = payload
            .get(2..4)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
        caps |= u32::from(high) << 16;
    }
    if caps & HIDDEN != 0 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "rowguard's statement pass-through: the client asks for TLS, compression or query \
             attributes, which it does not offer; connect without them",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `payload` as packets from sequence id `seq` on, chained when long.
    fn packets(seq: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chunks: Vec<&[u8]> = payload.chunks(FULL).collect();
        if payload.len() % FULL == 0 {
            chunks.push(&[]);
        }
        for (i, c) in chunks.into_iter().enumerate() {
            out.extend_from_slice(&(c.len() as u32).to_le_bytes()[..3]);
            out.push(seq.wrapping_add(i as u8));
            out.extend_from_slice(c);
        }
        out
    }

    /// A reader that hands out `step` bytes at a time.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// A handshake response asking for nothing hidden (protocol 41 flags).
    fn response() -> Vec<u8> {
        let mut r = 0x0000_a685_u32.to_le_bytes().to_vec();
        r.extend_from_slice(b"\0\0\0\x01!");
        r.extend_from_slice(&[0; 23]);
        r.extend_from_slice(b"app\0");
        packets(1, &r)
    }

    fn command(code: u8, text: &[u8]) -> Vec<u8> {
        let mut p = vec![code];
        p.extend_from_slice(text);
        packets(0, &p)
    }

    /// What `forward` passes on and keeps from `bytes`, read `step` at a time.
    fn run(bytes: &[u8], step: usize) -> (io::Result<()>, Vec<u8>, Vec<String>) {
        let seen = Seen::default();
        let mut out = Vec::new();
        let r = forward(&mut Trickle(bytes, step), &mut out, &seen);
        (r, out, seen.take())
    }

    #[test]
    fn statements_are_kept_and_every_byte_passed_on() {
        let mut bytes = response();
        bytes.extend(command(COM_QUERY, b"SELECT @@max_allowed_packet"));
        bytes.extend(command(
            COM_STMT_PREPARE,
            b"UPDATE t SET a = ? WHERE id = ?",
        ));
        bytes.extend(command(0x17, b"\x01\0\0\0\0\x01\0\0\0")); // COM_STMT_EXECUTE
        bytes.extend(command(0x0e, b"")); // COM_PING
        bytes.extend(command(COM_QUERY, "SELECT 'é'".as_bytes()));
        bytes.extend(command(0x01, b"")); // COM_QUIT
        for step in [1, 2, 3, 5, 7, 4096, usize::MAX] {
            let (r, out, seen) = run(&bytes, step);
            r.unwrap();
            assert_eq!(out, bytes, "step {step}");
            assert_eq!(
                seen,
                [
                    "SELECT @@max_allowed_packet",
                    "UPDATE t SET a = ? WHERE id = ?",
                    "SELECT 'é'"
                ],
                "step {step}"
            );
        }
    }

    #[test]
    fn packets_with_a_sequence_id_above_0_are_no_statements() {
        // the handshake response (sequence id 1) and an authentication
        // answer after a change of user, both starting with a command's byte
        let mut bytes = packets(1, b"\x03\x02\0\0SELECT not_a_statement");
        bytes.extend(packets(3, b"\x16SELECT not_either"));
        bytes.extend(packets(2, b"\x03SELECT nor_this"));
        bytes.extend(command(COM_QUERY, b"SELECT 1"));
        let (r, out, seen) = run(&bytes, 3);
        r.unwrap();
        assert_eq!(out, bytes);
        assert_eq!(seen, ["SELECT 1"]);
    }

    #[test]
    fn chained_payloads_are_one_statement() {
        let long = format!("SELECT '{}'", "x".repeat(FULL + 10));
        let exact = "y".repeat(FULL - 1); // with its command byte, exactly one full packet
        let mut bytes = response();
        bytes.extend(command(COM_QUERY, long.as_bytes()));
        bytes.extend(command(COM_QUERY, exact.as_bytes()));
        bytes.extend(command(COM_QUERY, b"SELECT 2"));
        let (r, out, seen) = run(&bytes, 1 << 20);
        r.unwrap();
        assert!(out == bytes);
        assert_eq!(seen.len(), 3, "one statement per payload");
        assert_eq!(seen[0].as_bytes(), &long.as_bytes()[..KEEP_TEXT]);
        assert_eq!(seen[1].as_bytes(), &exact.as_bytes()[..KEEP_TEXT]);
        assert_eq!(seen[2], "SELECT 2");
    }

    #[test]
    fn hostile_lengths_end_the_connection_not_the_process() {
        // a packet cut short, at its header and in its payload
        for cut in [2, 4 + 3] {
            let mut bytes = response();
            let n = bytes.len();
            bytes.extend(command(COM_QUERY, b"SELECT 1"));
            let (r, out, seen) = run(&bytes[..n + cut], 1);
            assert!(r.is_err(), "cut at {cut}");
            assert_eq!(out.len(), n, "only whole packets go on");
            assert!(seen.is_empty());
        }
        // a length announced and never sent
        let mut bytes = response();
        bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0, COM_QUERY]);
        assert!(run(&bytes, 1).0.is_err());
        // a chain past the ceiling, told by its headers: full packets
        // announced, whose payloads are counted as they pass
        let mut commands = Commands {
            answered: true,
            chained: None,
        };
        let seen = Seen::default();
        let mut full = vec![0xff, 0xff, 0xff, 0, COM_QUERY];
        full.resize(HEADER + FULL, b'x');
        let mut ended = None;
        for i in 0..=(MAX_PAYLOAD as usize / FULL + 1) {
            full[3] = i as u8;
            if commands.read(&full, &seen).is_err() {
                ended = Some(i);
                break;
            }
        }
        assert_eq!(ended, Some(MAX_PAYLOAD as usize / FULL));
        assert!(seen.take().is_empty());
        // packets shorter than a header read as nothing, without a panic
        for p in [&[][..], &[0], &[0, 0, 0], &[1, 0, 0, 0]] {
            let mut c = Commands::default();
            c.read(p, &seen).unwrap();
            c.read(p, &seen).unwrap();
        }
    }

    #[test]
    fn a_client_asking_for_what_was_hidden_is_ended() {
        let asking = |flag: u32| {
            let mut r = (0x0000_a685 | flag).to_le_bytes().to_vec();
            r.extend_from_slice(&[0; 28]);
            let mut bytes = packets(1, &r);
            bytes.extend(command(COM_QUERY, b"SELECT 1"));
            bytes
        };
        for flag in [
            CLIENT_SSL,
            CLIENT_COMPRESS,
            CLIENT_ZSTD_COMPRESSION_ALGORITHM,
            CLIENT_QUERY_ATTRIBUTES,
        ] {
            let (r, out, seen) = run(&asking(flag), 8);
            assert!(r.is_err(), "{flag:#x}");
            assert!(out.is_empty() && seen.is_empty(), "{flag:#x}");
        }
        let refused = refusal("no");
        assert_eq!(refused, b"\x0b\0\0\x02\xff\x15\x04#28000no");
        let (r, out, seen) = run(&asking(0), 8);
        r.unwrap();
        assert_eq!((out, seen), (asking(0), vec!["SELECT 1".to_string()]));
        // before protocol 4.1 the capabilities are 2 bytes: what follows is no flag
        let mut old = 0x0001_u16.to_le_bytes().to_vec();
        old.extend_from_slice(&[0xff; 5]);
        run(&packets(1, &old), 1).0.unwrap();
        old[0] |= CLIENT_COMPRESS as u8;
        assert!(run(&packets(1, &old), 1).0.is_err());
    }

    /// A MariaDB 10.11 greeting (protocol 10), capabilities `caps`.
    fn greeting(caps: u32) -> Vec<u8> {
        let mut g = vec![10];
        g.extend_from_slice(b"5.5.5-10.11.19-MariaDB\0");
        g.extend_from_slice(&7u32.to_le_bytes());
        g.extend_from_slice(b"scramble");
        g.push(0);
        g.extend_from_slice(&(caps as u16).to_le_bytes());
        g.push(45);
        g.extend_from_slice(&2u16.to_le_bytes());
        g.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
        g.push(21);
        g.extend_from_slice(&[0; 6]);
        g.extend_from_slice(&0x1du32.to_le_bytes()); // MariaDB's extended capabilities
        g.extend_from_slice(b"scramble2345\0mysql_native_password\0");
        packets(0, &g)
    }

    #[test]
    fn the_greeting_hides_tls_and_compression_and_nothing_else() {
        let caps = 0x81ff_f7fe | CLIENT_SSL | CLIENT_QUERY_ATTRIBUTES;
        let g = greeting(caps);
        let hidden = hide(g.clone());
        assert_eq!(hidden, greeting(caps & !HIDDEN));
        let changed: Vec<usize> = (0..g.len()).filter(|&i| g[i] != hidden[i]).collect();
        assert_eq!(
            changed.len(),
            3,
            "the two bytes of the low bits, one of the high"
        );
        // read back from a stream a byte at a time
        let mut both = hidden.clone();
        both.extend(command(COM_QUERY, b"SELECT 1"));
        let read = packet(&mut Trickle(&both, 1), MAX_GREETING).unwrap();
        assert_eq!(read, Some(hidden));
        // anything else goes through as it is
        let error = packets(0, b"\xff\x69\x04Host is blocked");
        assert_eq!(hide(error.clone()), error);
        for short in 0..g.len() {
            let cut = g[..short].to_vec();
            let _ = hide(cut);
        }
        let mut no_nul = vec![10; 40];
        no_nul.splice(..0, [36, 0, 0, 0]);
        assert_eq!(hide(no_nul.clone()), no_nul);
        // a greeting longer than taken
        let mut long = greeting(caps);
        long[..3].copy_from_slice(&((MAX_GREETING + 1) as u32).to_le_bytes()[..3]);
        assert!(packet(&mut long.as_slice(), MAX_GREETING).is_err());
    }
}
