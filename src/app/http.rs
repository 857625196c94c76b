//! Requests to the application: built from an operation's JSON and the
//! spec (path placeholders percent-encoded, the other fields as a form, a
//! JSON body or a query), sent over plain HTTP with a cookie jar (what a
//! `[[setup]]` login leaves) and a time limit, the answer read up to
//! [`MAX_BODY`] bytes. Each request is also written as the `curl` command
//! that sends the same bytes, for `repro`, and the texts of the answer
//! are offered to the engine as words (the words the application says).

use std::io::Read;
use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Most bytes of an answer read (the rest is not waited for).
pub const MAX_BODY: u64 = 1 << 20;
/// Most words taken from one answer.
const MAX_WORDS: usize = 32;
/// Longest word taken from an answer.
const MAX_WORD: usize = 64;

/// Bytes left as they are in a path segment (RFC 3986's unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One request, ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub method: String,
    /// The path with its placeholders filled in (encoded).
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Body,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum Body {
    None,
    Form(Vec<(String, String)>),
    Json(serde_json::Value),
}

/// A path template with each `{name}` replaced by `value(name)`, encoded.
pub fn fill_path(template: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    for piece in pieces(template) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Name(name) => {
                out.push_str(&utf8_percent_encode(&value(name), SEGMENT).to_string())
            }
        }
    }
    out
}

/// One piece of a path template.
#[derive(Debug, PartialEq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// A `{name}`.
    Name(&'a str),
}

/// A path template's pieces in order (a `{` never closed, and what follows
/// it, is text).
pub fn pieces(template: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push(Piece::Text(&rest[..start]));
        out.push(Piece::Name(&rest[start + 1..start + len]));
        rest = &rest[start + len + 1..];
    }
    out.push(Piece::Text(rest));
    out
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub millis: u128,
}

/// A request that got no answer: the application is gone or stuck.
#[derive(Debug)]
pub struct NoAnswer(pub String);

/// The HTTP side: one cookie jar, one time limit.
pub struct Client {
    agent: ureq::Agent,
    timeout: Duration,
}

impl Client {
    pub fn new(timeout: Duration) -> Client {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(2).min(timeout))
            .timeout(timeout)
            .redirects(0)
            .max_idle_connections_per_host(4)
            .build();
        Client { agent, timeout }
    }

    /// Whether `base` + `path` answers at all (any status), within a second.
    pub fn answers(&self, base: &str, path: &str) -> bool {
        let r = self
            .agent
            .get(&format!("{base}{path}"))
            .timeout(Duration::from_secs(1))
            .call();
        match r {
            Ok(resp) => {
                drain(resp);
                true
            }
            Err(ureq::Error::Status(_, resp)) => {
                drain(resp);
                true
            }
            Err(_) => false,
        }
    }

    /// Sends `req` to `base`.
    pub fn send(&self, base: &str, req: &Prepared) -> Result<Answer, NoAnswer> {
        let started = Instant::now();
        let mut r = self
            .agent
            .request(&req.method, &format!("{base}{}", req.path));
        for (k, v) in &req.query {
            r = r.query(k, v);
        }
        for (k, v) in &req.headers {
            r = r.set(k, v);
        }
        let sent = match &req.body {
            Body::None => r.call(),
            Body::Form(pairs) => {
                let pairs: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                r.send_form(&pairs)
            }
            Body::Json(v) => r
                .set("Content-Type", "application/json")
                .send_string(&v.to_string()),
        };
        let resp = match sent {
            Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
            Err(ureq::Error::Transport(t)) => {
                let why = match t.kind() {
                    ureq::ErrorKind::Io if started.elapsed() >= self.timeout => {
                        format!("no answer within {} s", self.timeout.as_secs_f64())
                    }
                    _ => one_line(&t.to_string()),
                };
                return Err(NoAnswer(why));
            }
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.clone(), v.to_string())))
            .collect();
        let mut body = Vec::new();
        let read = resp.into_reader().take(MAX_BODY).read_to_end(&mut body);
        if let Err(e) = read {
            if started.elapsed() >= self.timeout {
                return Err(NoAnswer(format!(
                    "its answer did not end within {} s",
                    self.timeout.as_secs_f64()
                )));
            }
            return Err(NoAnswer(format!(
                "its answer broke off: {}",
                one_line(&e.to_string())
            )));
        }
        Ok(Answer {
            status,
            headers,
            body,
            millis: started.elapsed().as_millis(),
        })
    }
}

fn drain(resp: ureq::Response) {
    let _ = resp
        .into_reader()
        .take(MAX_BODY)
        .read_to_end(&mut Vec::new());
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

/// `s` quoted for a POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A form pair for curl: readable when curl can pass it as it is, else encoded.
fn form_arg(k: &str, v: &str) -> String {
    let plain = |s: &str| {
        !s.chars()
            .any(|c| c == '\0' || (c.is_control() && c != '\n' && c != '\t'))
    };
    if plain(k) && plain(v) && !k.contains('=') && !k.starts_with('@') {
        format!("--data-urlencode {}", quote(&format!("{k}={v}")))
    } else {
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        format!("--data {}", quote(&format!("{}={}", enc(k), enc(v))))
    }
}

/// The `curl` command that sends `req` to `"$APP"` (the application's
/// base URL), with the cookie jar `"$JAR"` a setup's login fills.
pub fn curl(req: &Prepared, jar: bool) -> String {
    let mut out = String::from("curl -sS");
    if jar {
        out.push_str(r#" -b "$JAR" -c "$JAR""#);
    }
    if req.method != "GET" {
        out.push_str(&format!(" -X {}", req.method));
    }
    for (k, v) in &req.headers {
        out.push_str(&format!(" -H {}", quote(&format!("{k}: {v}"))));
    }
    let mut url = format!("\"$APP\"{}", quote(&req.path));
    if !req.query.is_empty() {
        let q: Vec<String> = req
            .query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    utf8_percent_encode(k, NON_ALPHANUMERIC),
                    utf8_percent_encode(v, NON_ALPHANUMERIC)
                )
            })
            .collect();
        url = format!(
            "\"$APP\"{}",
            quote(&format!("{}?{}", req.path, q.join("&")))
        );
    }
    match &req.body {
        Body::None => {}
        Body::Form(pairs) => {
            for (k, v) in pairs {
                out.push(' ');
                out.push_str(&form_arg(k, v));
            }
        }
        Body::Json(v) => {
            out.push_str(" -H 'Content-Type: application/json' --data-raw ");
            out.push_str(&quote(&v.to_string()));
        }
    }
    out.push(' ');
    out.push_str(&url);
    out
}

/// The texts an answer holds, as words for the engine: a JSON answer's
/// strings, else the text between an HTML page's tags and its attribute
/// values (`value="..."`); short, distinct, at most [`MAX_WORDS`].
pub fn words(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let mut out: Vec<String> = Vec::new();
    let mut add = |w: &str| {
        let w = w.trim();
        if w.len() >= 3
            && w.len() <= MAX_WORD
            && out.len() < MAX_WORDS
            && !out.iter().any(|o| o == w)
        {
            out.push(w.to_string());
        }
    };
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
        let mut stack = vec![&v];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::String(s) => add(s),
                serde_json::Value::Array(a) => stack.extend(a.iter().rev()),
                serde_json::Value::Object(o) => stack.extend(o.values().rev()),
                _ => {}
            }
        }
        return out;
    }
    let mut rest: &str = &text;
    while !rest.is_empty() {
        match rest.find('<') {
            Some(open) => {
                add(&rest[..open]);
                let Some(close) = rest[open..].find('>') else {
                    break;
                };
                let tag = &rest[open..open + close];
                for part in tag.split("value=\"").skip(1) {
                    if let Some(end) = part.find('"') {
                        add(&part[..end]);
                    }
                }
                rest = &rest[open + close + 1..];
            }
            None => {
                add(rest);
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_encoded_as_one_segment() {
        let p = fill_path("/a/{id}/b", |_| "7/../x y".into());
        assert_eq!(p, "/a/7%2F..%2Fx%20y/b");
    }

    #[test]
    fn curl_quotes_what_a_shell_would_split() {
        let req = Prepared {
            method: "POST".into(),
            path: "/a/7".into(),
            query: vec![],
            body: Body::Form(vec![
                ("notes".into(), "it's; rm -rf /".into()),
                ("z".into(), "a\0b".into()),
            ]),
            headers: vec![],
        };
        let c = curl(&req, false);
        assert!(
            c.contains(r"--data-urlencode 'notes=it'\''s; rm -rf /'"),
            "{c}"
        );
        assert!(c.contains("--data 'z=a%00b'"), "{c}");
        assert!(c.ends_with(r#""$APP"'/a/7'"#), "{c}");
    }

    #[test]
    fn words_of_json_and_html() {
        assert_eq!(
            words(br#"{"msg":"moved to slot","n":3,"list":["see #4"]}"#),
            vec!["moved to slot", "see #4"]
        );
        let w = words(b"<p>Appointment moved</p><input value=\"urgent review\"><b>ok</b>");
        assert_eq!(w, vec!["Appointment moved", "urgent review"]);
    }
}
