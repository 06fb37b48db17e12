//! A whole chat completion read in one pass for its usage: every other
//! member checked as strictly as serde checks a field it ignores, and
//! `usage` read as `OpenAiUsage` reads it. Serde's own read of the answer
//! (`Peek`, every member walked through its generic ignore) was the
//! largest single cost of a plain request in the gateway's code.
//!
//! Like the chunk read, it vouches or gives up: `None` (anything not valid
//! UTF-8, not an object, a duplicate field, an escaped key, deep nesting,
//! a count that is not plain digits, any doubt) leaves the answer to
//! serde, whose result or error stands.

use super::template::Slots;
use super::{once, Cursor};
use crate::protocol::Usage;

/// The usage of the chat completion `body` (`Some(None)`: it has none),
/// or `None` when serde must read it.
pub fn answer_usage(body: &[u8]) -> Option<Option<Usage>> {
    // Serde checks the UTF-8 of the strings it reads (keys); checking all
    // of it is stricter, never looser, and std does it a word at a time.
    let text = std::str::from_utf8(body).ok()?;
    let mut c = Cursor {
        b: text.as_bytes(),
        i: 0,
        slots: Slots::default(),
    };
    let mut usage = None;
    c.object(|c, key| {
        if key != b"usage" {
            return c.skip(0);
        }
        // Serde's duplicate check is on the field, null or not.
        usage.is_none().then_some(())?;
        usage = Some(c.usage()?);
        Some(())
    })?;
    c.ws();
    (c.i == c.b.len()).then_some(())?;
    Some(usage.flatten())
}

impl Cursor<'_> {
    /// OpenAI's `usage` as `OpenAiUsage` reads it, `null` included.
    fn usage(&mut self) -> Option<Option<Usage>> {
        self.ws();
        if self.word(b"null").is_some() {
            return Some(None);
        }
        let mut u = Usage::default();
        let mut seen = [false; 4];
        self.object(|c, key| {
            let index = match key {
                b"prompt_tokens" => 0,
                b"completion_tokens" => 1,
                b"prompt_tokens_details" => 2,
                b"completion_tokens_details" => 3,
                _ => return c.skip(0),
            };
            once(&mut seen[index])?;
            match index {
                0 => u.prompt_tokens = c.count()?,
                1 => u.completion_tokens = c.count()?,
                2 => u.cached_tokens = c.detail()?.0,
                _ => u.reasoning_tokens = c.detail()?.1,
            }
            Some(())
        })?;
        Some(Some(u))
    }

    /// A `u64` as serde reads one: plain digits that fit (a sign, fraction
    /// or exponent makes the caller give up at the next byte, or here).
    fn count(&mut self) -> Option<u64> {
        self.ws();
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        let digits = &self.b[start..self.i];
        // JSON has no leading zeros.
        (!digits.is_empty() && (digits.len() == 1 || digits[0] != b'0')).then_some(())?;
        std::str::from_utf8(digits).ok()?.parse().ok()
    }

    /// `OpenAiDetails`: `null` (zeros), or an object whose
    /// `cached_tokens` and `reasoning_tokens` (each once, `null` or a
    /// count) serde reads in either place; its other members are skipped.
    fn detail(&mut self) -> Option<(u64, u64)> {
        self.ws();
        if self.word(b"null").is_some() {
            return Some((0, 0));
        }
        let (mut seen, mut counts) = ([false; 2], [0; 2]);
        self.object(|c, key| {
            let index = match key {
                b"cached_tokens" => 0,
                b"reasoning_tokens" => 1,
                _ => return c.skip(1),
            };
            once(&mut seen[index])?;
            c.ws();
            if c.word(b"null").is_none() {
                counts[index] = c.count()?;
            }
            Some(())
        })?;
        Some((counts[0], counts[1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The serde read this must agree with: `translate_response`'s.
    fn serde_usage(body: &[u8]) -> Result<Option<Usage>, ()> {
        #[derive(serde::Deserialize)]
        struct Peek {
            usage: Option<Usage>,
        }
        serde_json::from_slice::<Peek>(body)
            .map(|p| p.usage)
            .map_err(|_| ())
    }

    const SAMPLES: &[&str] = &[
        r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi \"there\"\n\u00e9"},"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":12,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":4}}}"#,
        r#"{"choices":[],"usage":null}"#,
        r#" { "usage" : { "prompt_tokens" : 1 , "completion_tokens" : 2 , "total_tokens" : 3 } , "x" : [1, -2.5e3, true, false, null, {}] } "#,
        r#"{"model":"m"}"#,
        r#"{"usage":{"prompt_tokens":7,"prompt_tokens_details":{"cached_tokens":null,"reasoning_tokens":0,"audio_tokens":3},"completion_tokens_details":{"reasoning_tokens":5,"cached_tokens":1},"completion_tokens":9}}"#,
        r#"{}"#,
    ];

    /// Every sample, and every one-byte deletion, change and truncation of
    /// it: whatever the quick read accepts, serde reads alike.
    #[test]
    fn what_it_accepts_serde_reads_alike() {
        let mut accepted = 0;
        for sample in SAMPLES {
            let b = sample.as_bytes();
            assert_eq!(answer_usage(b), serde_usage(b).ok(), "{sample}");
            let mut variants = Vec::new();
            for i in 0..b.len() {
                variants.push([&b[..i], &b[i + 1..]].concat());
                variants.push(b[..i].to_vec());
                for c in [
                    b'"', b'\\', b'{', b'}', b'[', b',', b':', b'0', b'a', 0x01, 0xff,
                ] {
                    let mut v = b.to_vec();
                    v[i] = c;
                    variants.push(v);
                }
            }
            for v in &variants {
                if let Some(quick) = answer_usage(v) {
                    accepted += 1;
                    assert_eq!(Ok(quick), serde_usage(v), "{}", String::from_utf8_lossy(v));
                }
            }
        }
        assert!(accepted > 1000, "only {accepted} variants accepted");
    }

    #[test]
    fn gives_up_where_serde_decides() {
        for body in [
            r#"{"usage":null,"usage":null}"#,
            r#"{"us\u0061ge":{"prompt_tokens":1}}"#,
            r#"[null]"#,
            r#"{"usage":{"prompt_tokens":"1"}}"#,
            r#"{"usage":{"prompt_tokens_details":{"reasoning_tokens":"x"}}}"#,
            r#"{"usage":{"prompt_tokens":1.0}}"#,
        ] {
            assert_eq!(answer_usage(body.as_bytes()), None, "{body}");
        }
    }
}
