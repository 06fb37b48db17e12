//! The fields read as the map of owned values they replaced read them:
//! same names, order, raw text and errors.

use indexmap::IndexMap;
use serde_json::value::RawValue;

use super::*;

type Map = IndexMap<String, Box<RawValue>>;

fn pairs(f: &RawFields) -> Vec<(String, String)> {
    f.iter()
        .map(|(k, v)| (k.to_string(), v.get().to_string()))
        .collect()
}

fn as_map(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let map: Map = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(map
        .iter()
        .map(|(k, v)| (k.clone(), v.get().to_string()))
        .collect())
}

#[test]
fn reads_as_a_map_of_raw_values_did() {
    let many: String = (0..40)
        .map(|i| format!("\"k{}\":{i},", i % 23))
        .collect::<String>();
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"x": {"a" : [1, 2.50]}}"#
            .to_vec(),
        b" {\n \"a\" : 1 , \"b\\u0061\":\"\\u00e9\" ,\"c\":null } ".to_vec(),
        br#"{"a":1,"b":2,"a":3,"c":4,"b":5}"#.to_vec(),
        format!("{{{many}\"end\":true}}").into_bytes(),
        "{\"é\":\"ü\"}".as_bytes().to_vec(),
        b"{}".to_vec(),
        b"[1]".to_vec(),
        b"not json".to_vec(),
        b"{\"a\":1} x".to_vec(),
        b"{\"a\":\"\xff\"}".to_vec(),
        b"{\"a\xfe\":1}".to_vec(),
        b"{\"a\":1}\xff".to_vec(),
        b"{\"a\":tru".to_vec(),
        b"".to_vec(),
    ];
    for body in bodies {
        let got = RawFields::parse(Bytes::from(body.clone()))
            .map(|f| pairs(&f))
            .map_err(|e| e.to_string());
        assert_eq!(got, as_map(&body), "{}", String::from_utf8_lossy(&body));
    }
}

#[test]
fn a_repeated_name_keeps_its_first_place_and_last_value() {
    let f = RawFields::collect([("a", "1"), ("b", "2"), ("a", "3")]);
    let want = [("a", "3"), ("b", "2")].map(|(k, v)| (k.to_string(), v.to_string()));
    assert_eq!(pairs(&f), want);
    assert_eq!(f.len(), 2);
}

#[test]
fn looks_up_and_removes_in_order() {
    let mut f = RawFields::parse(Bytes::from_static(br#"{"a":1,"b\"q":"x","c":[ ]}"#)).unwrap();
    assert_eq!(f.get("b\"q").map(Raw::get), Some(r#""x""#));
    assert_eq!(f.remove("a").map(Raw::get), Some("1"));
    assert_eq!(f.remove("a"), None);
    assert_eq!(f.keys().collect::<Vec<_>>(), ["b\"q", "c"]);
    assert_eq!(f.get("c").map(Raw::get), Some("[ ]"));
    f.push("d", "{}");
    assert_eq!(format!("{f:?}"), r#"{"b\"q": "x", "c": [ ], "d": {}}"#);
}

#[test]
fn the_first_repeat_is_found_among_few_and_many() {
    let few = ["a", "b", "c", "b", "a"];
    assert_eq!(first_repeat(few.len(), |i| few[i]), Some(3));
    let many: Vec<String> = (0..100).map(|i| format!("k{}", i.min(60))).collect();
    assert_eq!(first_repeat(many.len(), |i| &many[i]), Some(61));
    assert_eq!(first_repeat(60, |i| &many[i]), None);
}
