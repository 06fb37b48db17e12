//! How deep a JSON body nests, checked before anything parses it: serde's
//! raw values read any depth, but a protocol that decodes a field into a
//! `Value` stops at serde_json's recursion limit (128), and an upstream
//! fails on what it cannot parse, which would count against its health.

/// The deepest nesting of arrays and objects a body may have, as
/// .NET's JSON reader allows by default; real requests (messages, tool
/// schemas) stay far below it.
pub const MAX_DEPTH: usize = 64;

/// Whether `json` nests arrays and objects more than `max` deep. Only
/// brackets outside strings count. The body is not validated here (the
/// parser that follows does that): a broken one only has to end the scan.
/// Strings, most of a chat body, are skipped with `memchr`.
pub fn deeper_than(json: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&byte) = json.get(i) {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'"' => match string_end(json, i + 1) {
                Some(end) => i = end,
                None => return false,
            },
            _ => {}
        }
        i += 1;
    }
    false
}

/// The index of the quote closing the string that starts at `from`.
fn string_end(json: &[u8], mut from: usize) -> Option<usize> {
    loop {
        let at = from + memchr::memchr2(b'"', b'\\', json.get(from..)?)?;
        if json[at] == b'"' {
            return Some(at);
        }
        // An escape: the next byte is never the end.
        from = at + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn counts_arrays_and_objects_outside_strings() {
        assert!(!deeper_than(nested(3).as_bytes(), 3));
        assert!(deeper_than(nested(4).as_bytes(), 3));
        assert!(!deeper_than(br#"{"a":{"b":[1]}}"#, 3));
        assert!(deeper_than(br#"{"a":{"b":[{}]}}"#, 3));
        // Siblings do not add up.
        assert!(!deeper_than(br#"[[1],[2],[{"x":3}]]"#, 3));
        assert!(!deeper_than(br#"{"s":"[[[[{{{{"}"#, 1));
        assert!(!deeper_than(br#"{"s":"\"[[[[\\","t":"x"}"#, 1));
        assert!(deeper_than(br#"{"s":"\\","t":[[1]]}"#, 2));
        assert!(!deeper_than(br#"{"s":"unterminated [[[["#, 1));
        assert!(!deeper_than(br#"{"s":"ends in an escape\"#, 1));
    }

    /// The limit is below what serde_json itself can decode, so a body
    /// that passes parses as a `Value` however a protocol reads it.
    #[test]
    fn what_passes_parses_as_a_value() {
        let ok = nested(MAX_DEPTH);
        assert!(!deeper_than(ok.as_bytes(), MAX_DEPTH));
        assert!(serde_json::from_str::<serde_json::Value>(&ok).is_ok());
        let deep = nested(50_000);
        assert!(deeper_than(deep.as_bytes(), MAX_DEPTH));
        assert!(serde_json::from_str::<serde_json::Value>(&deep).is_err());
    }
}
