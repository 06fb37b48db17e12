use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use super::*;
use crate::config::{parse, Config, Kind};
use crate::protocol::Api;

fn config(limits: &str) -> Config {
    let text = format!(
        "[providers.p]\nbase_url = \"http://h\"\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"x\"\n[[models.n.backends]]\nprovider = \"p\"\nmodel = \"y\"\n[users.u]\ntoken = \"t\"\n{limits}"
    );
    parse(&text, &|_| None).unwrap()
}

fn scopes(reg: &LimitRegistry, limits: &str, model: &str) -> Vec<Arc<Scope>> {
    reg.plans(&config(limits))["u"].scopes(model)
}

#[test]
fn exact_under_contention_from_many_threads() {
    let reg = LimitRegistry::default();
    let s = Arc::new(scopes(
        &reg,
        "[users.u.rate_limit]\nrequests_per_minute = 37\ntokens_per_minute = 100000",
        "m",
    ));
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (s, barrier) = (s.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                (0..20)
                    .filter(|_| memory::admit(&s, 10, 1000, true).refusal.is_none())
                    .count()
            })
        })
        .collect();
    let admitted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(admitted, 37);
    let peek = memory::admit(&s, 0, 1000, false);
    let tokens = peek
        .statuses
        .iter()
        .find(|st| st.window.kind == Kind::Tokens);
    assert_eq!(
        tokens.unwrap().remaining,
        100000 - 370,
        "refused requests took nothing"
    );
}

#[test]
fn all_windows_or_none() {
    let reg = LimitRegistry::default();
    let s = scopes(
        &reg,
        "[users.u.rate_limit]\nrequests_per_minute = 10\n[users.u.rate_limit.models.m]\ntokens_per_minute = 100",
        "m",
    );
    assert!(memory::admit(&s, 60, 0, true).refusal.is_none());
    let v = memory::admit(&s, 60, 0, true);
    let r = v.refusal.unwrap();
    assert_eq!(r.model.as_deref(), Some("m"));
    assert!(matches!(r.limited, Limited::Window(w) if w.kind == Kind::Tokens));
    let peek = memory::admit(&s, 0, 0, false);
    assert_eq!(
        peek.statuses[0].remaining, 9,
        "the refused request took no request cell"
    );
    let other = scopes(&reg, "[users.u.rate_limit]\nrequests_per_minute = 10\n[users.u.rate_limit.models.m]\ntokens_per_minute = 100", "n");
    assert_eq!(other.len(), 1, "model n has only the user-wide scope");
}

// The limiter reads the clock itself: these run paused, so windows refill
// only when a test advances time.

#[tokio::test(start_paused = true)]
async fn concurrency_slots_are_freed_by_the_admission() {
    let limiter = Limiter::new(None);
    let reg = LimitRegistry::default();
    let s = scopes(&reg, "[users.u.rate_limit]\nmax_concurrent = 2", "m");
    let a = limiter.admit(s.clone(), 1).await;
    let b = limiter.admit(s.clone(), 1).await;
    assert!(matches!(
        limiter.admit(s.clone(), 1).await,
        Decision::Refused(_)
    ));
    drop(a);
    let Decision::Admitted(_, c) = limiter.admit(s.clone(), 1).await else {
        panic!("a slot was freed")
    };
    c.finish(Some(5), true);
    drop(b);
    assert_eq!(s[0].inflight.load(Relaxed), 0);
}

#[tokio::test(start_paused = true)]
async fn corrections_refund_or_charge_tokens() {
    let limiter = Limiter::new(None);
    let reg = LimitRegistry::default();
    let s = scopes(&reg, "[users.u.rate_limit]\ntokens_per_day = 1000", "m");
    let left = |s: &[Arc<Scope>]| memory::admit(s, 0, clock::now_ms(), false).statuses[0].remaining;
    let Decision::Admitted(_, a) = limiter.admit(s.clone(), 400).await else {
        panic!()
    };
    assert_eq!(left(&s), 600);
    a.finish(Some(100), true);
    assert_eq!(left(&s), 900);
    let Decision::Admitted(_, b) = limiter.admit(s.clone(), 100).await else {
        panic!()
    };
    b.finish(None, false);
    assert_eq!(
        left(&s),
        900,
        "a failed request without usage gives its tokens back"
    );
    let Decision::Admitted(_, c) = limiter.admit(s.clone(), 100).await else {
        panic!()
    };
    c.finish(Some(500), true);
    assert_eq!(left(&s), 400);
    tokio::time::advance(Duration::from_secs(86_400)).await;
    assert_eq!(left(&s), 1000, "a day refills the whole window");
}

#[tokio::test(start_paused = true)]
async fn a_refused_request_passes_once_its_retry_after_has_passed() {
    let limiter = Limiter::new(None);
    let reg = LimitRegistry::default();
    let s = scopes(&reg, "[users.u.rate_limit]\nrequests_per_minute = 2", "m");
    for _ in 0..2 {
        let admitted = limiter.admit(s.clone(), 0).await;
        assert!(matches!(admitted, Decision::Admitted(..)));
    }
    let Decision::Refused(v) = limiter.admit(s.clone(), 0).await else {
        panic!("the window is spent")
    };
    let wait = v.refusal.unwrap().retry_after_ms;
    assert_eq!(wait, 30_000, "one request frees up every 60s / 2");
    tokio::time::advance(Duration::from_millis(wait - 1)).await;
    let early = limiter.admit(s.clone(), 0).await;
    assert!(matches!(early, Decision::Refused(_)), "1 ms early");
    tokio::time::advance(Duration::from_millis(1)).await;
    let on_time = limiter.admit(s.clone(), 0).await;
    assert!(matches!(on_time, Decision::Admitted(..)));
}

#[test]
fn counters_survive_a_reload_unless_the_windows_change() {
    let reg = LimitRegistry::default();
    let text = "[users.u.rate_limit]\nrequests_per_minute = 3";
    let s = scopes(&reg, text, "m");
    for _ in 0..3 {
        assert!(memory::admit(&s, 1, 0, true).refusal.is_none());
    }
    let again = scopes(&reg, text, "m");
    assert!(
        memory::admit(&again, 1, 0, true).refusal.is_some(),
        "same limits: same counters"
    );
    let raised = scopes(&reg, "[users.u.rate_limit]\nrequests_per_minute = 4", "m");
    assert!(
        memory::admit(&raised, 1, 0, true).refusal.is_none(),
        "new windows start full"
    );
}

#[test]
fn estimates_prompt_and_completion() {
    let req = |body: &str| crate::protocol::Request::chat(body.as_bytes()).unwrap();
    let body = r#"{"model":"m","messages":[],"max_tokens":100,"n":2}"#;
    assert_eq!(estimate_tokens(&req(body), 400), 100 + 200);
    let body = r#"{"model":"m","messages":[],"max_completion_tokens":7,"max_tokens":100}"#;
    assert_eq!(estimate_tokens(&req(body), 40), 10 + 7);
    let body = r#"{"model":"m","messages":[]}"#;
    assert_eq!(estimate_tokens(&req(body), 0), DEFAULT_COMPLETION_ALLOWANCE);
    let other = |api, body: &str| {
        crate::protocol::Request::parse(api, None, bytes::Bytes::from(body.to_string())).unwrap()
    };
    let embed = other(
        Api::Embeddings,
        r#"{"model":"m","input":"x","max_tokens":9}"#,
    );
    assert_eq!(
        estimate_tokens(&embed, 40),
        10,
        "embeddings complete nothing"
    );
    let resp = other(Api::Responses, r#"{"model":"m","max_output_tokens":5}"#);
    assert_eq!(estimate_tokens(&resp, 40), 10 + 5);
}
