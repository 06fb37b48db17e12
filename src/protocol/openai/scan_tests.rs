use super::{chunk, Facts};
use crate::protocol::openai::stream::read;
use crate::protocol::Usage;

/// Chunks as upstreams send them, and a few odd but valid ones.
const SAMPLES: &[&str] = &[
    r#"{"id":"c","object":"chat.completion.chunk","created":1767225600,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"c0 "},"finish_reason":null}]}"#,
    r#"{"id":"c","choices":[{"index":0,"delta":{"content":"c19 "},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":20,"total_tokens":32}}"#,
    r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":1},"completion_tokens_details":{"reasoning_tokens":2}}}"#,
    r#"{"choices":[{"delta":{"role":"assistant","content":""},"logprobs":null}],"usage":null}"#,
    r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{\"a\":1}"}}]}}]}"#,
    r#"{"choices":[{"delta":{"reasoning_content":"th\u00e9\n"},"finish_reason":null}],"error":null}"#,
    r#"{"choices":[{"delta":{"refusal":null,"function_call":{"name":"f"}}}]}"#,
    r#"{"choices":[{"text":"hi","index":0,"finish_reason":null}]}"#,
    r#"{"choices":[{"text":"","finish_reason":"length"}]}"#,
    r#"{"choices":[{"delta":null},{"delta":{}}],"x":[1,-2.5e+3,0,true,false,null,{"y":[]},"é"]}"#,
    " { \"choices\" : [ { \"delta\" : { \"content\" : \"a\\\"b\" } } ] , \"n\" : -0.0E-1 } ",
    "{}",
];

fn agrees(data: &str) {
    let fast = chunk(data);
    let slow = read(data);
    if let Some(fast) = fast {
        match slow {
            Ok(slow) => assert_eq!(fast, slow, "{data}"),
            Err(e) => panic!("the quick read took what serde refuses ({e}): {data}"),
        }
    }
}

#[test]
fn every_sample_is_read_quickly_and_as_serde_reads_it() {
    for s in SAMPLES {
        assert!(chunk(s).is_some(), "gave up on {s}");
        agrees(s);
    }
}

#[test]
fn the_facts_of_the_usual_chunks() {
    let f = chunk(SAMPLES[1]).unwrap();
    assert!(f.content && f.finished && f.choices);
    assert_eq!(f.usage.map(|u| u.total()), Some(32));
    let u = chunk(SAMPLES[2]).unwrap();
    assert!(!u.choices && !u.content);
    let usage = Usage {
        prompt_tokens: 3,
        completion_tokens: 4,
        cached_tokens: 1,
        cache_write_tokens: 0,
        reasoning_tokens: 2,
    };
    assert_eq!(u.usage, Some(usage));
    assert_eq!(
        chunk(SAMPLES[3]),
        Some(Facts {
            choices: true,
            ..Facts::default()
        })
    );
}

#[test]
fn what_serde_must_judge_is_left_to_it() {
    for s in [
        r#"{"error":{"message":"overloaded"}}"#,
        r#"{"choices":[],"choices":[]}"#,
        r#"{"usage":null,"usage":null}"#,
        r#"{"choices":[{"delta":{"content":"a","content":"b"}}]}"#,
        r#"{"cho\u0069ces":[]}"#,
        r#"{"choices":null}"#,
        r#"{"choices":[["x"]]}"#,
        r#"{"usage":{"prompt_tokens":"1"}}"#,
        r#"{"a":01}"#,
        r#"{"a":"\x"}"#,
        r#"{"a":1,}"#,
        r#"{"a":1} x"#,
    ] {
        assert_eq!(chunk(s), None, "{s}");
    }
    let deep = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
    assert_eq!(chunk(&deep), None);
}

/// Every cut and every one-byte change of the samples: whatever the quick
/// read accepts, serde reads to the same facts.
#[test]
fn mutated_chunks_are_never_read_otherwise_than_serde_does() {
    const BYTES: &[u8] = b"\"\\{}[],: \t0-1.eEnulltrfa\x01x/";
    for s in SAMPLES {
        let b = s.as_bytes();
        for at in 0..b.len() {
            if let Ok(cut) = std::str::from_utf8(&b[..at]) {
                agrees(cut);
            }
            let mut without = b.to_vec();
            without.remove(at);
            if let Ok(s) = std::str::from_utf8(&without) {
                agrees(s);
            }
            for &x in BYTES {
                let mut changed = b.to_vec();
                changed[at] = x;
                if let Ok(s) = std::str::from_utf8(&changed) {
                    agrees(s);
                }
                changed.insert(at, x);
                if let Ok(s) = std::str::from_utf8(&changed) {
                    agrees(s);
                }
            }
        }
    }
}
