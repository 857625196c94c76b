//! The PostgreSQL side of the pass-through ([`super`]): the text of every
//! statement the code sends (simple `Query` and extended `Parse` messages)
//! is kept; every byte goes through unchanged. TLS is declined (`N` to an
//! SSL or GSSAPI request, as a server without it answers), so clients that
//! prefer TLS go on in the clear, on loopback; a client that requires TLS
//! cannot connect.
//!
//! A message length below 4 or above [`MAX_MESSAGE`] ends that connection,
//! nothing else.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::{bad, both_ways, dial, read_into, Seen};

/// Largest client message passed on (PostgreSQL's own limit is 1 GB).
const MAX_MESSAGE: usize = 64 << 20;

const SSL_REQUEST: u32 = 80_877_103;
const GSS_REQUEST: u32 = 80_877_104;

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

/// Reads a length word and the body it announces (`len` counts itself).
fn body(r: &mut impl Read) -> io::Result<(u32, Vec<u8>)> {
    let len = read_u32(r)?;
    if !(4..=MAX_MESSAGE as u32).contains(&len) {
        return Err(bad("message length out of range"));
    }
    let mut body = Vec::new();
    read_into(r, &mut body, len as usize - 4)?;
    Ok((len, body))
}

fn cstring(b: &[u8]) -> (&[u8], &[u8]) {
    match b.iter().position(|&c| c == 0) {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}

/// Passes one connection on ([`super::Pass`]).
pub(crate) fn pass(mut client: TcpStream, upstream: SocketAddr, seen: &Seen) -> io::Result<()> {
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
    let mut server = dial(&client, upstream)?;
    server.write_all(&startup)?;
    both_ways(client, server, |client, server| loop {
        let mut tag = [0; 1];
        if client.read(&mut tag)? == 0 {
            return Ok(());
        }
        let (len, b) = body(client)?;
        let text = match tag[0] {
            b'Q' => Some(cstring(&b).0),
            b'P' => Some(cstring(cstring(&b).1).0),
            _ => None,
        };
        if let Some(text) = text {
            seen.keep(text);
        }
        let mut message = Vec::with_capacity(5 + b.len());
        message.push(tag[0]);
        message.extend_from_slice(&len.to_be_bytes());
        message.extend_from_slice(&b);
        server.write_all(&message)?;
    })
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
