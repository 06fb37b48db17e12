//! What the mock says: a deterministic reply, cut to `max_tokens`, with usage.

use serde_json::Value;

/// A reply, already split into the chunks a stream sends.
#[derive(Debug)]
pub struct Script {
    pub tokens: Vec<String>,
    pub prompt_tokens: u64,
    /// True when `max_tokens` cut the reply short.
    pub truncated: bool,
    /// Of `prompt_tokens`, those the reply says came from the prompt cache.
    pub cached_tokens: u64,
}

impl Script {
    /// Builds the reply of mock `name` to a request whose last user text is
    /// `prompt`. `chunks` forces a reply of exactly that many tokens, numbered
    /// `c0 `, `c1 `, ... so a client can check none was lost or reordered.
    pub fn new(name: &str, prompt: &str, max_tokens: Option<u64>, chunks: Option<usize>) -> Self {
        let mut tokens: Vec<String> = match chunks {
            Some(n) => (0..n).map(|i| format!("c{i} ")).collect(),
            None => format!("Hello from {name}. You said: {prompt}")
                .split_whitespace()
                .map(|w| format!("{w} "))
                .collect(),
        };
        let limit = max_tokens.map(|m| m as usize).unwrap_or(usize::MAX);
        let truncated = tokens.len() > limit;
        tokens.truncate(limit.max(1));
        Script {
            tokens,
            prompt_tokens: count_words(prompt).max(1),
            truncated,
            cached_tokens: 0,
        }
    }

    /// Reports `cached` of the prompt's tokens (at most all) as cache reads.
    pub fn with_cached(mut self, cached: u64) -> Self {
        self.cached_tokens = cached.min(self.prompt_tokens);
        self
    }

    /// A reply of exactly `text`, in one chunk (a JSON answer).
    pub fn whole(text: String, prompt: &str) -> Self {
        Script {
            tokens: vec![text],
            prompt_tokens: count_words(prompt).max(1),
            truncated: false,
            cached_tokens: 0,
        }
    }

    pub fn completion_tokens(&self) -> u64 {
        self.tokens.len() as u64
    }

    pub fn text(&self) -> String {
        self.tokens.concat()
    }
}

/// The arguments of the mock's weather calls, as the fragments a stream sends.
pub const TOOL_ARGS: [&str; 2] = ["{\"city\": ", "\"Paris\"}"];

/// The arguments of the mock's `Bash` calls (what Claude Code's tool takes).
pub const BASH_ARGS: [&str; 2] = ["{\"command\": ", "\"ls\"}"];

/// A tool call the mock makes: the tool, and its arguments as the
/// fragments a stream sends.
#[derive(Debug, Clone)]
pub struct Call {
    pub name: String,
    pub args: &'static [&'static str],
}

impl Call {
    /// The whole arguments, as a JSON text.
    pub fn arguments(&self) -> String {
        self.args.concat()
    }

    pub fn input(&self) -> Value {
        serde_json::from_str(&self.arguments()).unwrap_or_default()
    }

    /// What the call counts as output tokens: one per fragment.
    pub fn tokens(&self) -> u64 {
        self.args.len() as u64
    }
}

/// The tool the mock calls, by the last message's `text`: after the user's
/// own text, `Bash` with `{"command": "ls"}` when it asks to list the files
/// and `Bash` is offered (as Claude Code does), else the first tool offered
/// with `{"city": "Paris"}` when it mentions the weather; after tool
/// results, the first tool again when they ask to "call again". After other
/// tool results the mock answers in text, so a round trip ends.
pub fn tool_to_call(text: &str, after_results: bool, tools: &[&str]) -> Option<Call> {
    let text = text.to_lowercase();
    if !after_results && text.contains("list the files") && tools.contains(&"Bash") {
        return Some(Call {
            name: "Bash".to_string(),
            args: &BASH_ARGS,
        });
    }
    let first = tools.first()?;
    let wanted = match after_results {
        false => text.contains("weather"),
        true => text.contains("call again"),
    };
    wanted.then(|| Call {
        name: first.to_string(),
        args: &TOOL_ARGS,
    })
}

/// The names of the tools offered, found at `pointer` inside each of `list`.
pub fn tool_names<'a>(list: Option<&'a Value>, pointer: &str) -> Vec<&'a str> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.pointer(pointer).and_then(Value::as_str))
        .collect()
}

/// Words, as the mock counts tokens.
pub fn words(text: &str) -> u64 {
    count_words(text)
}

fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// The last message that is not a system message (Claude Code sends
/// system text after the user's), whatever its API.
pub fn last_message(messages: Option<&Value>) -> Option<&Value> {
    let list = messages.and_then(Value::as_array)?;
    list.iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) != Some("system"))
}

/// The text of the last message, whatever its shape (string or parts).
pub fn last_text(messages: Option<&Value>) -> String {
    let Some(last) = last_message(messages) else {
        return String::new();
    };
    text_of(last.get("content").or_else(|| last.get("parts")))
}

pub fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_to_max_tokens_and_counts() {
        let s = Script::new("m", "Count to 5", Some(2), None);
        assert_eq!(s.tokens, vec!["Hello ", "from "]);
        assert!(s.truncated);
        assert_eq!(s.prompt_tokens, 3);
        let s = Script::new("m", "hi", None, Some(64));
        assert_eq!(s.tokens.len(), 64);
        assert_eq!(
            (s.tokens[0].as_str(), s.tokens[63].as_str()),
            ("c0 ", "c63 ")
        );
        assert!(!s.truncated);
    }
}
