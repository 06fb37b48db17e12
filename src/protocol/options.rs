//! A protocol's own config keys, read from the provider's (or backend's)
//! TOML table. Errors are noted by key; the config layer adds the path.

/// The keys of one table that belong to a protocol, and what was wrong with them.
pub struct Options<'a> {
    table: &'a toml::Table,
    errors: Vec<(String, String)>,
}

impl<'a> Options<'a> {
    pub fn new(table: &'a toml::Table) -> Self {
        Options {
            table,
            errors: Vec::new(),
        }
    }

    /// Notes a problem with `key` (a key of this table, or `model`).
    pub fn error(&mut self, key: &str, message: impl Into<String>) {
        self.errors.push((key.to_string(), message.into()));
    }

    /// Every problem noted, as `(key, message)`.
    pub fn into_errors(self) -> Vec<(String, String)> {
        self.errors
    }

    pub fn string(&mut self, key: &str) -> Option<&'a str> {
        let value = self.table.get(key)?;
        match value.as_str() {
            Some(s) => Some(s),
            None => {
                self.wrong_type(key, value, "a string");
                None
            }
        }
    }

    pub fn bool(&mut self, key: &str) -> Option<bool> {
        let value = self.table.get(key)?;
        match value.as_bool() {
            Some(b) => Some(b),
            None => {
                self.wrong_type(key, value, "a boolean");
                None
            }
        }
    }

    pub fn uint(&mut self, key: &str) -> Option<u64> {
        let value = self.table.get(key)?;
        match value.as_integer().and_then(|n| u64::try_from(n).ok()) {
            Some(n) => Some(n),
            None => {
                self.wrong_type(key, value, "a non-negative integer");
                None
            }
        }
    }

    fn wrong_type(&mut self, key: &str, value: &toml::Value, want: &str) {
        let message = format!("invalid type: {}, expected {want}", value.type_str());
        self.error(key, message);
    }
}

/// A name that can sit in a URL path segment or query value unescaped.
pub fn url_safe(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Strips `suffix` (and the slashes around it) from a base URL.
pub fn strip_version(url: &str, suffix: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    trimmed
        .strip_suffix(suffix)
        .unwrap_or(trimmed)
        .trim_end_matches('/')
        .to_string()
}
