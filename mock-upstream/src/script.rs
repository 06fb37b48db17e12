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
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub name: String,
    pub fragments: Vec<String>,
}

impl Call {
    fn new(name: &str, fragments: &[&str]) -> Self {
        let fragments = fragments.iter().map(|f| f.to_string()).collect();
        Call {
            name: name.to_string(),
            fragments,
        }
    }

    /// The whole arguments, as a JSON text.
    pub fn arguments(&self) -> String {
        self.fragments.concat()
    }

    /// The arguments as an object, for protocols that send them decoded.
    pub fn input(&self) -> Value {
        serde_json::from_str(&self.arguments()).unwrap_or_default()
    }

    /// What the call counts as output tokens: one per fragment.
    pub fn tokens(&self) -> u64 {
        self.fragments.len() as u64
    }
}

/// The tools the mock knows how to run a command with, as Codex names them.
const SHELLS: [&str; 2] = ["exec_command", "shell"];

/// The tool the mock calls, by the last message's `text` and the names of
/// the tools offered, in order. After the user's own text: asked to "run
/// `CMD`" with a shell tool offered (Codex's), it runs CMD with it; asked to
/// list the files with `Bash` offered (Claude Code's), `Bash` with
/// `{"command": "ls"}`; mentioning the weather, the first tool with
/// `{"city": "Paris"}`. After tool results, the first tool again when they
/// ask to "call again"; after other results the mock answers in text, so a
/// round trip ends.
pub fn tool_to_call(text: &str, after_results: bool, tools: &[&str]) -> Option<Call> {
    if after_results {
        let first = tools.first()?;
        return text
            .to_lowercase()
            .contains("call again")
            .then(|| Call::new(first, &TOOL_ARGS));
    }
    if let Some(call) = shell_call(text, tools) {
        return Some(call);
    }
    let lower = text.to_lowercase();
    if lower.contains("list the files") && tools.contains(&"Bash") {
        return Some(Call::new("Bash", &BASH_ARGS));
    }
    let first = tools.first()?;
    lower
        .contains("weather")
        .then(|| Call::new(first, &TOOL_ARGS))
}

/// "run `CMD`" with a shell tool offered: that tool with CMD, its
/// arguments in two fragments.
fn shell_call(text: &str, tools: &[&str]) -> Option<Call> {
    let cmd = command(text)?;
    let shell = tools.iter().find(|t| SHELLS.contains(t))?;
    let args = match *shell {
        "shell" => serde_json::json!({"command": ["bash", "-lc", cmd]}),
        _ => serde_json::json!({"cmd": cmd}),
    };
    let args = args.to_string();
    let half = (0..=args.len() / 2)
        .rev()
        .find(|&i| args.is_char_boundary(i))
        .unwrap_or(0);
    Some(Call::new(shell, &[&args[..half], &args[half..]]))
}

/// The names of the offered `tools`, each at the JSON pointer `name_at`.
pub fn tool_names<'a>(tools: Option<&'a Value>, name_at: &str) -> Vec<&'a str> {
    let list = tools.and_then(Value::as_array).into_iter().flatten();
    list.filter_map(|t| t.pointer(name_at)?.as_str()).collect()
}

/// Words, as the mock counts tokens.
pub fn words(text: &str) -> u64 {
    count_words(text)
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

    #[test]
    fn calls_the_weather_tool_or_runs_a_command() {
        let user = |text, tools: &[&str]| tool_to_call(text, false, tools);
        let c = user("weather in Paris?", &["get_weather"]).unwrap();
        assert_eq!(
            (c.name.as_str(), c.input()),
            ("get_weather", serde_json::json!({"city": "Paris"}))
        );
        let c = user(
            "please run `cat a.txt` now",
            &["view_image", "exec_command"],
        )
        .unwrap();
        assert_eq!(
            (c.name.as_str(), c.input()),
            ("exec_command", serde_json::json!({"cmd": "cat a.txt"}))
        );
        assert_eq!(c.fragments.len(), 2);
        let c = user("run `ls`", &["shell"]).unwrap();
        assert_eq!(
            c.input()["command"],
            serde_json::json!(["bash", "-lc", "ls"])
        );
        assert_eq!(user("run `ls`", &["get_weather"]), None);
        let c = user("list the files", &["Read", "Bash"]).unwrap();
        assert_eq!(c.input(), serde_json::json!({"command": "ls"}));
        assert_eq!(tool_to_call("weather?", true, &["exec_command"]), None);
        let again = tool_to_call("ok, call again", true, &["get_weather"]).unwrap();
        assert_eq!(again.name, "get_weather");
    }
}
