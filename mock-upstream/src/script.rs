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

    pub fn completion_tokens(&self) -> u64 {
        self.tokens.len() as u64
    }

    pub fn text(&self) -> String {
        self.tokens.concat()
    }
}

/// The arguments of the mock's weather calls, as the fragments a stream sends.
pub const TOOL_ARGS: [&str; 2] = ["{\"city\": ", "\"Paris\"}"];

/// A call the mock makes: the tool, and its arguments as the fragments a
/// stream sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub fragments: Vec<String>,
}

impl Call {
    pub fn arguments(&self) -> String {
        self.fragments.concat()
    }

    /// The arguments as an object, for protocols that send them decoded.
    pub fn input(&self) -> Value {
        serde_json::from_str(&self.arguments()).unwrap_or_default()
    }
}

/// The tools the mock knows how to run a command with, as Codex names them.
const SHELLS: [&str; 2] = ["exec_command", "shell"];

/// The call the mock makes, when the last message is the user's own text
/// (not a tool result) and `tools` (their names, in order) are offered:
/// asked to "run `CMD`" with a shell tool offered, it runs CMD with it;
/// mentioning the weather, it calls the first tool with `{"city": "Paris"}`.
/// After a tool result the mock answers in text, so a round trip ends.
pub fn call_for(user_text: Option<&str>, tools: &[&str]) -> Option<Call> {
    let text = user_text?;
    if let (Some(cmd), Some(shell)) = (command(text), tools.iter().find(|t| SHELLS.contains(t))) {
        let args = match *shell {
            "shell" => serde_json::json!({"command": ["bash", "-lc", cmd]}),
            _ => serde_json::json!({"cmd": cmd}),
        };
        let args = args.to_string();
        let half = (0..=args.len() / 2)
            .rev()
            .find(|&i| args.is_char_boundary(i))
            .unwrap_or(0);
        let fragments = vec![args[..half].to_string(), args[half..].to_string()];
        return Some(Call {
            name: shell.to_string(),
            fragments,
        });
    }
    let first = tools.first()?;
    text.to_lowercase().contains("weather").then(|| Call {
        name: first.to_string(),
        fragments: TOOL_ARGS.iter().map(|f| f.to_string()).collect(),
    })
}

/// The names of the offered `tools`, each at the JSON pointer `name_at`.
pub fn tool_names<'a>(tools: Option<&'a Value>, name_at: &str) -> Vec<&'a str> {
    let list = tools.and_then(Value::as_array).into_iter().flatten();
    list.filter_map(|t| t.pointer(name_at)?.as_str()).collect()
}

/// The command in "run `CMD`".
fn command(text: &str) -> Option<&str> {
    let rest = &text[text.find("run `")? + 5..];
    rest.split_once('`')
        .map(|(cmd, _)| cmd)
        .filter(|c| !c.is_empty())
}

fn count_words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// The text of the last message, whatever its shape (string or parts).
pub fn last_text(messages: Option<&Value>) -> String {
    let Some(last) = messages.and_then(Value::as_array).and_then(|m| m.last()) else {
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

    #[test]
    fn calls_the_weather_tool_or_runs_a_command() {
        let c = call_for(Some("weather in Paris?"), &["get_weather"]).unwrap();
        assert_eq!(
            (c.name.as_str(), c.input()),
            ("get_weather", serde_json::json!({"city": "Paris"}))
        );
        let c = call_for(
            Some("please run `cat a.txt` now"),
            &["view_image", "exec_command"],
        )
        .unwrap();
        assert_eq!(
            (c.name.as_str(), c.input()),
            ("exec_command", serde_json::json!({"cmd": "cat a.txt"}))
        );
        assert_eq!(c.fragments.len(), 2);
        let c = call_for(Some("run `ls`"), &["shell"]).unwrap();
        assert_eq!(
            c.input()["command"],
            serde_json::json!(["bash", "-lc", "ls"])
        );
        assert_eq!(call_for(Some("run `ls`"), &["get_weather"]), None);
        assert_eq!(call_for(None, &["exec_command"]), None);
    }
}
