//! The client's OpenAI request, fully decoded for the native protocols
//! (Anthropic, Gemini), which must rebuild every field anyway. The OpenAI
//! path never comes here.

use indexmap::IndexMap;
use serde_json::Value;

use super::{Request, RequestError};

/// OpenAI's `reasoning_effort`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effort {
    None,
    Minimal,
    Low,
    Medium,
    High,
    XHigh,
}

impl Effort {
    /// Thinking tokens for protocols that take a budget. Google's own
    /// OpenAI layer gives Gemini 1K / 8K / 24K for low / medium / high;
    /// minimal is 1K here (Anthropic's minimum budget) and low 2K so the
    /// two differ.
    pub fn budget(self) -> u64 {
        match self {
            Effort::None => 0,
            Effort::Minimal => 1024,
            Effort::Low => 2048,
            Effort::Medium => 8192,
            Effort::High => 24576,
            Effort::XHigh => 32768,
        }
    }
}

/// How a native protocol treats a top-level OpenAI field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Policy {
    /// The protocol's builder reads and translates it (or rejects some values).
    Mapped,
    /// Ignored: it cannot change what the answer means (see docs/providers.md).
    Dropped,
}

/// The request's top-level fields, decoded once, nulls removed (a null
/// means "the default" in OpenAI's API, i.e. the same as absent).
pub(super) struct Input<'a> {
    pub protocol: &'static str,
    fields: IndexMap<&'a str, Value>,
}

impl<'a> Input<'a> {
    /// Decodes the fields and rejects any the protocol does not know: an
    /// unknown field may change the meaning, so it is never dropped silently.
    pub fn new(
        req: &'a Request,
        protocol: &'static str,
        policy: fn(&str) -> Option<Policy>,
    ) -> Result<Self, RequestError> {
        let mut fields = IndexMap::with_capacity(req.fields.len());
        for (name, raw) in &req.fields {
            // Never dropped as null when it cannot be decoded: a field the
            // model never sees (tools, say) changes the answer silently.
            let value: Value = serde_json::from_str(raw.get()).map_err(|e| RequestError {
                message: format!("the field `{name}` cannot be decoded: {e}"),
                param: Some(name.to_string().into()),
            })?;
            if value.is_null() {
                continue;
            }
            match policy(name) {
                Some(Policy::Mapped) => {
                    fields.insert(name, value);
                }
                Some(Policy::Dropped) => {}
                None => {
                    return Err(RequestError {
                        message: format!(
                            "the field `{name}` is not supported on {protocol} backends"
                        ),
                        param: Some(name.to_string().into()),
                    })
                }
            }
        }
        Ok(Input { protocol, fields })
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// An error naming `field` and this protocol.
    pub fn unsupported(&self, field: &'static str, why: &str) -> RequestError {
        RequestError {
            message: format!("`{field}` {why} on {} backends", self.protocol),
            param: Some(field.into()),
        }
    }

    fn wrong_type(&self, field: &'static str, want: &str) -> RequestError {
        RequestError {
            message: format!("`{field}` must be {want}"),
            param: Some(field.into()),
        }
    }

    pub fn number(&self, field: &'static str) -> Result<Option<f64>, RequestError> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.wrong_type(field, "a number")),
        }
    }

    pub fn uint(&self, field: &'static str) -> Result<Option<u64>, RequestError> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.wrong_type(field, "a non-negative integer")),
        }
    }

    pub fn string(&self, field: &'static str) -> Result<Option<&str>, RequestError> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| self.wrong_type(field, "a string")),
        }
    }

    pub fn reasoning_effort(&self) -> Result<Option<Effort>, RequestError> {
        let effort = match self.string("reasoning_effort")? {
            None => return Ok(None),
            Some("none") => Effort::None,
            Some("minimal") => Effort::Minimal,
            Some("low") => Effort::Low,
            Some("medium") => Effort::Medium,
            Some("high") => Effort::High,
            Some("xhigh") => Effort::XHigh,
            Some(_) => {
                let why = "must be none, minimal, low, medium, high or xhigh";
                return Err(self.unsupported("reasoning_effort", why));
            }
        };
        Ok(Some(effort))
    }

    /// `max_completion_tokens`, or the older `max_tokens`.
    pub fn max_tokens(&self) -> Result<Option<u64>, RequestError> {
        match self.uint("max_completion_tokens")? {
            Some(n) => Ok(Some(n)),
            None => self.uint("max_tokens"),
        }
    }

    /// `stop` as a list: OpenAI takes one string or an array of them.
    pub fn stop(&self) -> Result<Vec<String>, RequestError> {
        match self.get("stop") {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| self.wrong_type("stop", "a string or an array of strings")),
            Some(_) => Err(self.wrong_type("stop", "a string or an array of strings")),
        }
    }

    /// Rejects the fields whose only values a protocol cannot express are
    /// the non-default ones: `n > 1` (when unmapped), `logprobs`, audio output.
    pub fn reject_common(&self, n_supported: bool) -> Result<(), RequestError> {
        if !n_supported && self.uint("n")?.is_some_and(|n| n > 1) {
            return Err(self.unsupported("n", "greater than 1 (several choices) is not supported"));
        }
        if self.get("logprobs").and_then(Value::as_bool) == Some(true) {
            return Err(self.unsupported("logprobs", "is not supported"));
        }
        if self.get("top_logprobs").is_some() {
            return Err(self.unsupported("top_logprobs", "is not supported"));
        }
        if self.get("audio").is_some() {
            return Err(self.unsupported("audio", "(audio output) is not supported"));
        }
        if let Some(m) = self.get("modalities").and_then(Value::as_array) {
            if m.iter().any(|x| x.as_str() != Some("text")) {
                return Err(self.unsupported("modalities", "other than \"text\" are not supported"));
            }
        }
        let bias = self.get("logit_bias").and_then(Value::as_object);
        if bias.is_some_and(|b| !b.is_empty()) {
            return Err(self.unsupported("logit_bias", "is not supported (token ids are OpenAI's)"));
        }
        Ok(())
    }
}

/// Fields every native protocol treats alike; `None` for the ones a
/// protocol must decide itself.
pub(super) fn common_policy(name: &str) -> Option<Policy> {
    match name {
        "messages"
        | "max_tokens"
        | "max_completion_tokens"
        | "temperature"
        | "top_p"
        | "top_k"
        | "stop"
        | "tools"
        | "tool_choice"
        | "response_format"
        | "n"
        | "logprobs"
        | "top_logprobs"
        | "audio"
        | "modalities"
        | "logit_bias"
        | "reasoning_effort" => Some(Policy::Mapped),
        // `stream_options` was read by Request::parse; the rest only tune
        // OpenAI's service (storage, tiers, caching, latency, abuse ids).
        "stream_options" | "store" | "metadata" | "service_tier" | "prediction"
        | "prompt_cache_key" | "safety_identifier" | "verbosity" => Some(Policy::Dropped),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deeper than serde_json decodes (the edge refuses such bodies first;
    /// this is the protocol's own guard).
    #[test]
    fn a_field_that_cannot_be_decoded_is_refused_not_dropped() {
        let tools = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let body = format!(r#"{{"model":"m","messages":[],"tools":{tools}}}"#);
        let req = Request::chat(body.as_bytes()).unwrap();
        let err = Input::new(&req, "test", common_policy).err().unwrap();
        assert!(err.message.contains("`tools`"), "{}", err.message);
    }
}
