use super::super::{chunk, chunk_after};
use super::Template;
use crate::protocol::openai::stream::read;

/// Chunks read in full and kept as templates: each with text in it.
const TEMPLATES: &[&str] = &[
    r#"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1767225600,"model":"m","choices":[{"index":0,"delta":{"content":"c1 "},"finish_reason":null}]}"#,
    r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":"c0 "},"finish_reason":null}],"usage":null}"#,
    r#"{"id":"c","choices":[{"index":0,"delta":{"content":"c19 "},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":20,"total_tokens":32}}"#,
    r#"{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":"a"},"logprobs":null,"finish_reason":null}],"obfuscation":"Xy3"}"#,
    r#"{"choices":[{"delta":{"reasoning_content":"th\u00e9\n","content":""}},{"delta":{"content":"b"}}]}"#,
    r#"{"choices":[{"text":"hi","index":0,"finish_reason":null}]}"#,
    r#"{"id":"c","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#,
    " { \"x\" : \"y\" , \"choices\" : [ { \"delta\" : { \"content\" : \"a\\\"b\" } } ] } ",
];

/// The members whose strings are slots in [`TEMPLATES`].
const SLOT_KEYS: &[&str] = &[
    "content",
    "reasoning_content",
    "text",
    "id",
    "model",
    "obfuscation",
    "x",
];

/// A template with other text in its slots: each slot string replaced by
/// one of `with`, in turn.
fn sibling(t: &str, with: &[&str]) -> String {
    let b = t.as_bytes();
    let (mut out, mut from, mut k) = (String::new(), 0, 0);
    let mut i = 0;
    while i < b.len() {
        let key = SLOT_KEYS
            .iter()
            .find(|key| t[i..].starts_with(&format!("\"{key}\"")));
        let Some(key) = key else {
            i += 1;
            continue;
        };
        i += key.len() + 2;
        while matches!(b[i], b' ' | b':') {
            i += 1;
        }
        if b[i] != b'"' {
            continue;
        }
        out.push_str(&t[from..=i]);
        i += 1;
        while b[i] != b'"' {
            i += if b[i] == b'\\' { 2 } else { 1 };
        }
        out.push_str(with[k % with.len()]);
        k += 1;
        from = i;
    }
    out.push_str(&t[from..]);
    out
}

fn learned(t: &str) -> Template {
    let mut last = Template::default();
    assert!(chunk_after(t, &mut last).is_some(), "gave up on {t}");
    last
}

/// What the template makes of `data`, serde reads alike; true when the
/// template read it.
fn agrees(last: &Template, data: &str) -> bool {
    let Some(fast) = last.facts(data.as_bytes()) else {
        return false;
    };
    match read(data) {
        Ok(slow) => assert_eq!(fast, slow, "{data}"),
        Err(e) => panic!("the template took what serde refuses ({e}): {data}"),
    }
    true
}

#[test]
fn a_chunk_with_other_text_is_read_from_the_template() {
    for t in TEMPLATES {
        let last = learned(t);
        let next = sibling(t, &["ok \\u00e9\\n", "zz"]);
        assert!(agrees(&last, &next), "{next}");
        // The chunk itself, when its text is not empty.
        if let Some(facts) = last.facts(t.as_bytes()) {
            assert_eq!(Some(facts), chunk(t), "{t}");
        }
    }
}

#[test]
fn what_differs_outside_the_slots_is_read_in_full() {
    let last = learned(TEMPLATES[0]);
    for other in [
        TEMPLATES[0].replace("null", "\"stop\""),
        TEMPLATES[0].replace("1767225600", "1767225601"),
        TEMPLATES[0].replace("\"c1 \"", "\"\""),
        TEMPLATES[0].replace("\"c1 \"", "null"),
        TEMPLATES[0].replace("\"c1 \"", "\"a\",\"content\":\"b\""),
        TEMPLATES[0].replace("}]}", "}]} "),
        TEMPLATES[0].replace("}]}", "}],\"usage\":{\"prompt_tokens\":1}}"),
    ] {
        assert_eq!(last.facts(other.as_bytes()), None, "{other}");
    }
}

#[test]
fn a_stream_is_read_mostly_by_difference_and_as_serde_reads_it() {
    let mut last = Template::default();
    let mut quick = 0;
    for i in 0..20 {
        let role = if i == 0 { r#""role":"assistant","# } else { "" };
        let finish = if i == 19 { r#""stop""# } else { "null" };
        let data = format!(
            r#"{{"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{{"index":0,"delta":{{{role}"content":"c{i} "}},"finish_reason":{finish}}}]}}"#
        );
        quick += usize::from(last.facts(data.as_bytes()).is_some());
        let facts = chunk_after(&data, &mut last);
        assert_eq!(facts, Some(read(&data).unwrap()), "{data}");
    }
    assert_eq!(quick, 17);
}

/// Every cut and every one-byte change of a template's siblings: whatever
/// the template reads, serde reads to the same facts.
#[test]
fn mutated_siblings_are_never_read_otherwise_than_serde_does() {
    const BYTES: &[u8] = b"\"\\{}[],: \t0-1.eEnulltrfa\x01x/";
    for t in TEMPLATES {
        let last = learned(t);
        let mut read = 0;
        for next in [sibling(t, &["q"]), sibling(t, &["", "\\u12"])] {
            let b = next.as_bytes();
            for at in 0..b.len() {
                let mut tries = vec![b[..at].to_vec()];
                let mut without = b.to_vec();
                without.remove(at);
                tries.push(without);
                for &x in BYTES {
                    let mut changed = b.to_vec();
                    changed[at] = x;
                    tries.push(changed.clone());
                    changed.insert(at, x);
                    tries.push(changed);
                }
                for s in tries.iter().filter_map(|t| std::str::from_utf8(t).ok()) {
                    read += usize::from(agrees(&last, s));
                }
            }
        }
        // The changes inside the slots that leave a string there are many.
        assert!(read > 50, "{read} read from {t}");
    }
}
