//! Faults the mock can inject, set per server or per request with the
//! `x-mock-fault` header (`status=500;retry_after=2;first_token_delay=200ms`).

use std::time::Duration;

/// What to do wrong. The default does nothing wrong.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fault {
    /// Answer with this status instead of a completion.
    pub status: Option<u16>,
    /// Body for `status`; a protocol-shaped error body when `None`.
    pub body: Option<String>,
    /// `Retry-After` header value (seconds) sent with `status`.
    pub retry_after: Option<String>,
    /// Only the first N requests get `status`; later ones succeed (a flapping backend).
    pub fail_first: Option<u32>,
    /// Wait before sending response headers.
    pub delay: Duration,
    /// Streams: wait between the role chunk and the first content chunk.
    pub first_token_delay: Duration,
    /// Streams: wait between content chunks.
    pub chunk_delay: Duration,
    /// Stop sending after N content chunks and hang (0 on a non-stream: never answer).
    pub stall_after: Option<usize>,
    /// Streams: drop the connection after N content chunks.
    pub close_after: Option<usize>,
    /// Streams: send one malformed SSE data line after N content chunks.
    pub malformed_after: Option<usize>,
    /// Anthropic streams: after N content events, an `event: error` with
    /// `overloaded_error` ends the stream, as Anthropic's API does when it
    /// is overloaded mid-answer.
    pub error_after: Option<usize>,
    /// Streams: end after the last event without `data: [DONE]`, as some relays do.
    pub omit_done: bool,
    /// Streams: keep the response open after the last event instead of ending it.
    pub hold_open: bool,
    /// Non-streams: a valid answer this many bytes long (chunked, without a
    /// `content-length`), padded with JSON whitespace sent as it is
    /// generated, so a huge answer costs the mock no memory.
    pub huge: Option<usize>,
}

impl Fault {
    /// A fault that answers every request with `status`.
    pub fn status(status: u16) -> Self {
        Fault {
            status: Some(status),
            ..Fault::default()
        }
    }

    /// Parses the `x-mock-fault` header syntax: `key=value` pairs separated by `;`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut fault = Fault::default();
        for pair in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("bad fault {pair:?}"))?;
            fault.set(key.trim(), value.trim())?;
        }
        Ok(fault)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let count = || value.parse::<usize>().map_err(|e| format!("{key}: {e}"));
        match key {
            "status" => self.status = Some(value.parse().map_err(|e| format!("status: {e}"))?),
            "body" => self.body = Some(value.to_string()),
            "retry_after" => self.retry_after = Some(value.to_string()),
            "fail_first" => self.fail_first = Some(count()? as u32),
            "delay" => self.delay = parse_duration(value)?,
            "first_token_delay" => self.first_token_delay = parse_duration(value)?,
            "chunk_delay" => self.chunk_delay = parse_duration(value)?,
            "stall_after" => self.stall_after = Some(count()?),
            "close_after" => self.close_after = Some(count()?),
            "malformed_after" => self.malformed_after = Some(count()?),
            "error_after" => self.error_after = Some(count()?),
            "omit_done" => self.omit_done = value == "true",
            "hold_open" => self.hold_open = value == "true",
            "huge" => self.huge = Some(count()?),
            other => return Err(format!("unknown fault key {other:?}")),
        }
        Ok(())
    }
}

/// `250ms`, `2s` or a bare number of milliseconds.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let bad = || format!("bad duration {value:?}");
    if let Some(ms) = value.strip_suffix("ms") {
        return ms.parse().map(Duration::from_millis).map_err(|_| bad());
    }
    if let Some(s) = value.strip_suffix('s') {
        return s.parse().map(Duration::from_secs_f64).map_err(|_| bad());
    }
    value.parse().map(Duration::from_millis).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_header_syntax() {
        let f = Fault::parse("status=429; retry_after=3;first_token_delay=150ms;close_after=2")
            .unwrap();
        assert_eq!(f.status, Some(429));
        assert_eq!(f.retry_after.as_deref(), Some("3"));
        assert_eq!(f.first_token_delay, Duration::from_millis(150));
        assert_eq!(f.close_after, Some(2));
        assert_eq!(Fault::parse("error_after=1").unwrap().error_after, Some(1));
        assert!(Fault::parse("bogus=1").is_err());
        assert!(Fault::parse("delay=xs").is_err());
    }
}
