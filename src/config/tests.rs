use super::*;

fn env(k: &str) -> Option<String> {
    (k == "OPENAI_API_KEY").then(|| "sk-test".to_string())
}

fn errors(text: &str) -> Vec<String> {
    match parse(text, &env) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

const GOOD: &str = r#"
[providers.openai]
base_url = "https://api.openai.com/v1/"
api_key = "${OPENAI_API_KEY}"
first_token_timeout = "2s"

[providers.relay]
base_url = "http://127.0.0.1:9000"

[models.gpt-4o]
strategy = "failover"
[[models.gpt-4o.backends]]
provider = "openai"
model = "gpt-4o-2024"
priority = 1
[[models.gpt-4o.backends]]
provider = "relay"
model = "gpt-4o"
weight = 0.5
tags = ["vip"]

[users.alice]
token = "tok-a"
allowed_models = ["gpt-4o"]
"#;

#[test]
fn parses_a_good_config_with_defaults() {
    let c = parse(GOOD, &env).unwrap();
    assert_eq!(c.server.listen, "127.0.0.1:3000");
    assert_eq!(c.server.max_body_bytes, 10 * 1024 * 1024);
    assert_eq!(c.settings.max_attempts, 3);
    let openai = &c.providers["openai"];
    assert_eq!(openai.base_url, "https://api.openai.com/v1");
    assert_eq!(openai.api_key.as_ref().unwrap().expose(), "sk-test");
    assert_eq!(
        openai.timeouts.first_token,
        std::time::Duration::from_secs(2)
    );
    assert_eq!(openai.timeouts.connect, Timeouts::default().connect);
    assert_eq!(c.providers["relay"].base_url, "http://127.0.0.1:9000/v1");
    let m = &c.models["gpt-4o"];
    assert_eq!(m.strategy, Strategy::Failover);
    assert_eq!(m.backends[1].id, "relay");
    assert_eq!(m.backends[1].weight, 0.5);
    assert!(
        !format!("{c:?}").contains("sk-test"),
        "secrets must not reach Debug output"
    );
}

#[test]
fn errors_name_their_toml_path() {
    let bad = GOOD.replace("provider = \"relay\"", "provider = \"x\"");
    assert_eq!(
        errors(&bad),
        vec![r#"models.gpt-4o.backends[1].provider: unknown provider "x""#]
    );
    let bad = GOOD.replace("weight = 0.5", "weight = 0");
    assert!(errors(&bad)[0]
        .starts_with("models.gpt-4o.backends[1].weight: must be a number greater than 0"));
    let bad = GOOD.replace("${OPENAI_API_KEY}", "${NOPE}");
    assert_eq!(
        errors(&bad),
        vec!["providers.openai.api_key: environment variable NOPE is not set"]
    );
    let bad = GOOD.replace(
        "first_token_timeout = \"2s\"",
        "first_token_timeout = \"soon\"",
    );
    assert!(errors(&bad)[0].starts_with("providers.openai.first_token_timeout: invalid duration"));
}

#[test]
fn unknown_keys_are_rejected_with_their_path() {
    let bad = GOOD.replace("weight = 0.5", "wieght = 0.5");
    let e = errors(&bad);
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("models.gpt-4o.backends[1].wieght: unknown field `wieght`"),
        "{e:?}"
    );
}

#[test]
fn reports_every_error_at_once() {
    let bad = format!(
        "{GOOD}\n[users.bob]\ntoken = \"tok-a\"\nallowed_models = [\"nope\"]\n[models.empty]\nstrategy = \"fastest\"\n"
    );
    let e = errors(&bad);
    assert!(
        e.contains(&"users.bob.token: this token is already used by another user".to_string()),
        "{e:?}"
    );
    assert!(
        e.contains(&r#"users.bob.allowed_models[0]: unknown model "nope""#.to_string()),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("models.empty.strategy: unknown strategy \"fastest\"")),
        "{e:?}"
    );
    assert!(
        e.contains(&"models.empty.backends: a model needs at least one backend".to_string()),
        "{e:?}"
    );
    assert!(
        !e.iter().any(|m| m.contains("tok-a")),
        "a duplicate token must not be echoed"
    );
}

#[test]
fn duplicate_backend_ids_need_an_explicit_id() {
    let dup = GOOD.replace("provider = \"relay\"", "provider = \"openai\"");
    assert!(errors(&dup)[0]
        .starts_with(r#"models.gpt-4o.backends[1].id: duplicate backend id "openai""#));
    let fixed = dup.replace("weight = 0.5", "weight = 0.5\nid = \"openai_b\"");
    assert_eq!(errors(&fixed), Vec::<String>::new());
}

#[test]
fn every_strategy_name_round_trips() {
    for name in Strategy::NAMES {
        assert_eq!(Strategy::parse(name).unwrap().name(), *name);
    }
}

#[test]
fn health_defaults_and_overrides() {
    let c = parse(GOOD, &env).unwrap();
    assert_eq!(c.health, HealthConfig::default());
    assert_eq!(c.settings.all_backends_down, AllDownPolicy::TryAnyway);
    assert_eq!(
        c.settings.shutdown_grace,
        std::time::Duration::from_secs(30)
    );
    let text = format!(
        "{GOOD}
[settings]
all_backends_down = \"fail\"
shutdown_grace = \"5s\"
[health]
failure_threshold = 2
open_cooldown = \"200ms\"
[health.probe]
kind = \"chat\"
interval = \"10s\"
[health.smart]
explore_ratio = 0.2
[health.smart.penalties]
timeout = 0.4
[providers.relay.probe]
kind = \"none\"
"
    );
    let c = parse(&text, &env).unwrap();
    let ms = std::time::Duration::from_millis;
    assert_eq!(c.settings.all_backends_down, AllDownPolicy::Fail);
    assert_eq!(c.health.failure_threshold, 2);
    assert_eq!(c.health.open_cooldown, ms(200));
    assert_eq!(c.health.probe.kind, ProbeKind::Chat);
    assert_eq!(c.health.smart.explore_ratio, 0.2);
    assert_eq!(c.health.smart.penalties.timeout, 0.4);
    assert_eq!(c.health.smart.penalties.auth, 0.5);
    let relay = c.health.probe_for("relay");
    assert_eq!(
        (relay.kind, relay.interval),
        (ProbeKind::None, ms(10_000)),
        "inherits the rest"
    );
    assert_eq!(c.health.probe_for("openai").kind, ProbeKind::Chat);
}

#[test]
fn health_errors_name_their_path() {
    let bad = format!(
        "{GOOD}
[settings]
all_backends_down = \"panic\"
[health]
failure_threshold = 0
error_rate_threshold = 1.5
open_cooldown = \"10m\"
max_open_cooldown = \"1m\"
[health.probe]
kind = \"ping\"
[health.smart]
min_confidence = 0
"
    );
    let e = errors(&bad);
    let expected = [
        "settings.all_backends_down: unknown policy \"panic\"",
        "health.failure_threshold: must be at least 1",
        "health.error_rate_threshold: must be a number greater than 0 and at most 1, got 1.5",
        "health.max_open_cooldown: must not be shorter than open_cooldown",
        "health.probe.kind: unknown probe kind \"ping\"",
        "health.smart.min_confidence: must be a number greater than 0 and at most 1, got 0",
    ];
    for want in expected {
        assert!(
            e.iter().any(|m| m.starts_with(want)),
            "missing {want:?} in {e:?}"
        );
    }
    let typo = GOOD.replace(
        "[users.alice]",
        "[health.probe]\nintervall = \"1s\"\n[users.alice]",
    );
    assert!(
        errors(&typo)[0].starts_with("health.probe.intervall: unknown field"),
        "{:?}",
        errors(&typo)
    );
}

#[test]
fn the_example_config_is_valid() {
    let text = include_str!("example.toml").replace("@TOKEN@", "tok");
    let c = parse(&text, &|_| None).unwrap();
    assert_eq!(c.health, {
        let mut h = HealthConfig::default();
        h.provider_probes.insert(
            "relay".into(),
            ProbeConfig {
                interval: std::time::Duration::from_secs(60),
                ..ProbeConfig::default()
            },
        );
        h
    });
}

fn one_provider(provider: &str, backend: &str) -> Result<Config, Vec<String>> {
    let text = format!(
        "[providers.p]\n{provider}\n[models.m]\n[[models.m.backends]]\nprovider = \"p\"\n{backend}\n{USER}"
    );
    parse(&text, &env).map_err(|e| e.0.iter().map(ToString::to_string).collect())
}

#[test]
fn base_url_is_normalised_per_protocol() {
    let cases = [
        (
            "openai",
            "https://api.openai.com",
            "https://api.openai.com/v1",
        ),
        (
            "openai",
            "https://api.openai.com/v1/",
            "https://api.openai.com/v1",
        ),
        (
            "anthropic",
            "https://api.anthropic.com/v1/",
            "https://api.anthropic.com",
        ),
        (
            "claude",
            "https://api.anthropic.com",
            "https://api.anthropic.com",
        ),
        (
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta",
            "https://generativelanguage.googleapis.com",
        ),
        ("gemini", "https://g.example/", "https://g.example"),
        (
            "azure",
            "https://r.openai.azure.com/",
            "https://r.openai.azure.com",
        ),
    ];
    for (kind, raw, want) in cases {
        let c = one_provider(
            &format!("backend_type = \"{kind}\"\nbase_url = \"{raw}\""),
            "model = \"x\"",
        )
        .unwrap();
        assert_eq!(c.providers["p"].base_url, want, "{kind} {raw}");
    }
    let c = one_provider(
        "backend_type = \"claude\"\nbase_url = \"https://a\"",
        "model = \"x\"",
    )
    .unwrap();
    assert_eq!(c.providers["p"].protocol.name(), "anthropic");
}

#[test]
fn protocol_options_have_defaults_and_overrides() {
    let c = one_provider(
        "backend_type = \"anthropic\"\nbase_url = \"https://a\"",
        "model = \"x\"",
    )
    .unwrap();
    // The protocol holds its options; its Debug form shows them.
    let options = |c: &Config| format!("{:?}", c.providers["p"].protocol);
    assert_eq!(
        options(&c),
        r#"Anthropic { version: "2023-06-01", default_max_tokens: 4096, thinking: Budget }"#
    );
    let c = one_provider(
        "backend_type = \"anthropic\"\nbase_url = \"https://a\"\nanthropic_version = \"2024-01-01\"\ndefault_max_tokens = 1000\nanthropic_thinking = \"adaptive\"",
        "model = \"x\"",
    )
    .unwrap();
    assert_eq!(
        options(&c),
        r#"Anthropic { version: "2024-01-01", default_max_tokens: 1000, thinking: Adaptive }"#
    );
    let e = one_provider(
        "backend_type = \"anthropic\"\nbase_url = \"https://a\"\nanthropic_thinking = \"lots\"",
        "model = \"x\"",
    )
    .unwrap_err()
    .join("\n");
    assert!(
        e.contains("anthropic_thinking") && e.contains("adaptive"),
        "{e}"
    );
    let c = one_provider(
        "backend_type = \"azure\"\nbase_url = \"https://a\"\napi_version = \"2025-01-01-preview\"",
        "model = \"gpt-4o\"\ndeployment = \"prod\"",
    )
    .unwrap();
    assert_eq!(
        options(&c),
        r#"Azure { api_version: "2025-01-01-preview", openai: OpenAi { responses: false } }"#
    );
    assert_eq!(c.models["m"].backends[0].address, "prod");
}

#[test]
fn protocol_keys_are_rejected_on_other_protocols() {
    let e = one_provider(
        "base_url = \"https://a\"\nanthropic_version = \"2023-06-01\"\napi_version = \"v\"",
        "model = \"x\"\ndeployment = \"d\"",
    )
    .unwrap_err();
    assert_eq!(
        e,
        vec![
            r#"providers.p.anthropic_version: only applies to providers with backend_type = "anthropic" (this one is "openai")"#,
            r#"providers.p.api_version: only applies to providers with backend_type = "azure" (this one is "openai")"#,
            r#"models.m.backends[0].deployment: only applies to backends of providers with backend_type = "azure" (this one is "openai")"#,
        ]
    );
    let e = one_provider(
        "backend_type = \"gemini\"\nbase_url = \"https://a\"\ndefault_max_tokens = 5",
        "model = \"x\"",
    )
    .unwrap_err();
    assert_eq!(
        e,
        vec![
            r#"providers.p.default_max_tokens: only applies to providers with backend_type = "anthropic" (this one is "gemini")"#
        ]
    );
    let e = one_provider(
        "backend_type = \"gemini\"\nbase_url = \"https://a\"\nresponses = true",
        "model = \"x\"",
    )
    .unwrap_err();
    assert_eq!(
        e,
        vec![
            r#"providers.p.responses: only applies to providers with backend_type = "openai" or "azure" (this one is "gemini")"#
        ]
    );
    let e = one_provider(
        "base_url = \"https://a\"\nresponses = \"yes\"",
        "model = \"x\"",
    )
    .unwrap_err();
    assert_eq!(
        e,
        vec!["providers.p.responses: invalid type: string, expected a boolean"]
    );
    let e = one_provider(
        "backend_type = \"anthropic\"\nbase_url = \"https://a\"\ndefault_max_tokens = 0",
        "model = \"x\"",
    )
    .unwrap_err();
    assert_eq!(
        e,
        vec!["providers.p.default_max_tokens: must be at least 1"]
    );
}

#[test]
fn names_in_url_paths_are_checked() {
    let e = one_provider(
        "backend_type = \"azure\"\nbase_url = \"https://a\"",
        "model = \"a/b\"",
    )
    .unwrap_err();
    assert!(
        e[0].starts_with(r#"models.m.backends[0].model: "a/b" is used as the Azure deployment"#),
        "{e:?}"
    );
    assert!(one_provider(
        "backend_type = \"azure\"\nbase_url = \"https://a\"",
        "model = \"a/b\"\ndeployment = \"ok-1\""
    )
    .is_ok());
    let e = one_provider(
        "backend_type = \"azure\"\nbase_url = \"https://a\"\napi_version = \"x&y=1\"",
        "model = \"m\"",
    )
    .unwrap_err();
    assert!(
        e[0].starts_with("providers.p.api_version: invalid api version"),
        "{e:?}"
    );
    let e = one_provider(
        "backend_type = \"gemini\"\nbase_url = \"https://a\"",
        "model = \"x:y?z\"",
    )
    .unwrap_err();
    assert!(
        e[0].starts_with("models.m.backends[0].model: invalid Gemini model"),
        "{e:?}"
    );
    for ok in [
        "gemini-2.5-flash",
        "models/gemini-2.0-flash",
        "tunedModels/t-1",
    ] {
        assert!(
            one_provider(
                "backend_type = \"gemini\"\nbase_url = \"https://a\"",
                &format!("model = \"{ok}\"")
            )
            .is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn an_empty_api_key_sends_no_credentials() {
    let c = one_provider(
        "base_url = \"https://a\"\napi_key = \"${NOPE:-}\"",
        "model = \"x\"",
    )
    .unwrap();
    assert!(c.providers["p"].api_key.is_none());
}

#[test]
fn syntax_errors_do_not_quote_the_line() {
    let e = errors("[users.a]\ntoken = \"sk-secret-value\nx = 1\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("(toml): TOML parse error at line 2"),
        "{e:?}"
    );
    assert!(!e[0].contains("sk-secret"), "{e:?}");
}

const MODELS: &str = "[providers.p]\nbase_url = \"http://h\"\n[[models.m.backends]]\nprovider = \"p\"\nmodel = \"x\"\n";
const USER: &str = "[users.u]\ntoken = \"t-u\"\n";

/// An empty or half-written file must not take the gateway from everyone.
#[test]
fn a_config_without_users_or_models_is_invalid() {
    let e = errors("");
    assert!(
        e.iter()
            .any(|x| x.starts_with("models: no models to serve")),
        "{e:?}"
    );
    assert!(e.iter().any(|x| x.starts_with("users: no users")), "{e:?}");
    assert_eq!(errors(MODELS).len(), 1, "{:?}", errors(MODELS));
    assert!(errors(MODELS)[0].starts_with("users: no users"));
    let off = MODELS.replace("[[models.m", "[models.m]\nenabled = false\n[[models.m");
    assert!(errors(&format!("{off}{USER}"))[0].starts_with("models: no models"));
    assert!(errors(&format!("{MODELS}{USER}")).is_empty());
}

#[test]
fn tokens_by_digest_and_rate_limits() {
    let digest = hex(&token_digest("tok-b"));
    let text = format!(
        "{MODELS}[users.a]\ntoken = \"tok-a\"\n[users.a.rate_limit]\nrequests_per_minute = 5\ntokens_per_day = 1000\n[users.a.rate_limit.models.m]\nmax_concurrent = 2\n[users.b]\ntoken_sha256 = \"{}\"\n",
        digest.to_uppercase()
    );
    let c = parse(&text, &env).unwrap();
    assert_eq!(c.users["a"].token_digest, token_digest("tok-a"));
    assert_eq!(c.users["b"].token_digest, token_digest("tok-b"));
    let rl = &c.users["a"].rate_limit;
    assert_eq!(rl.all.requests_per_minute, Some(5));
    assert_eq!(rl.all.windows().len(), 2);
    assert_eq!(rl.models["m"].max_concurrent, Some(2));
    assert!(c.users["b"].rate_limit.is_empty());
    assert_eq!(c.state, StateConfig::default());
    assert_eq!(c.reload, ReloadConfig::default());
}

#[test]
fn token_and_limit_errors_name_their_paths() {
    let digest = hex(&token_digest("same"));
    let text = format!(
        "{MODELS}[users.a]\ntoken = \"same\"\n[users.b]\ntoken_sha256 = \"{digest}\"\n[users.c]\n[users.d]\ntoken = \"t\"\ntoken_sha256 = \"{digest}\"\n[users.e]\ntoken_sha256 = \"abc\"\n[users.f]\ntoken = \"f\"\n[users.f.rate_limit]\nrequests_per_day = 0\n[users.f.rate_limit.models.nope]\nmax_concurrent = 1\n"
    );
    let e = errors(&text);
    for want in [
        "users.b.token_sha256: this token is already used by another user",
        "users.c: set exactly one of `token` or `token_sha256`",
        "users.d: set exactly one of `token` or `token_sha256`",
        "users.f.rate_limit.requests_per_day: must be at least 1",
        "users.f.rate_limit.models.nope: unknown model \"nope\"",
    ] {
        assert!(
            e.iter().any(|x| x.starts_with(want)),
            "{want} not in {e:#?}"
        );
    }
    assert!(e
        .iter()
        .any(|x| x.starts_with("users.e.token_sha256: must be 64 hexadecimal")));
}

#[test]
fn state_section() {
    let c = parse(
        &format!("{MODELS}{USER}[state]\nbackend = \"redis\"\nurl = \"redis://:pw@127.0.0.1:6379/2\"\ntimeout = \"50ms\"\non_error = \"fail_closed\"\n"),
        &env,
    )
    .unwrap();
    assert_eq!(c.state.on_error, OnError::FailClosed);
    assert_eq!(c.state.timeout, std::time::Duration::from_millis(50));
    assert!(!format!("{:?}", c.state).contains("pw"));
    let e = errors(&format!(
        "{MODELS}[state]\nbackend = \"redis\"\nurl = \"rediss://:pw@h\"\non_error = \"maybe\"\n"
    ));
    assert!(
        e.iter()
            .any(|x| x.starts_with("state.url: must start with redis://")),
        "{e:?}"
    );
    assert!(e.iter().all(|x| !x.contains("pw")), "{e:?}");
    assert!(e
        .iter()
        .any(|x| x.starts_with("state.on_error: unknown policy")));
    let e = errors(&format!("{MODELS}{USER}[state]\nbackend = \"redis\"\n"));
    assert_eq!(
        e,
        vec!["state.url: required with backend = \"redis\"".to_string()]
    );
}

#[test]
fn state_limits_mode() {
    use crate::config::LimitsMode;
    let redis = "[state]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n";
    let c = parse(&format!("{MODELS}{USER}{redis}"), &env).unwrap();
    assert_eq!(c.state.limits, LimitsMode::Exact, "the default");
    let c = parse(&format!("{MODELS}{USER}{redis}limits = \"synced\"\n"), &env).unwrap();
    let interval = std::time::Duration::from_millis(100);
    assert_eq!(c.state.limits, LimitsMode::Synced { interval });
    let text = format!("{MODELS}{USER}{redis}limits = \"synced\"\nlimits_interval = \"20ms\"\n");
    let interval = std::time::Duration::from_millis(20);
    assert_eq!(
        parse(&text, &env).unwrap().state.limits,
        LimitsMode::Synced { interval }
    );
    for (extra, want) in [
        (
            "limits = \"loose\"\n",
            "state.limits: unknown mode \"loose\" (known: exact, synced)",
        ),
        (
            "limits_interval = \"1s\"\n",
            "state.limits_interval: only used with limits = \"synced\"",
        ),
        (
            "limits = \"synced\"\nlimits_interval = \"0s\"\n",
            "state.limits_interval: must be greater than zero",
        ),
    ] {
        let e = errors(&format!("{MODELS}{USER}{redis}{extra}"));
        assert_eq!(e, vec![want.to_string()], "{extra}");
    }
    let e = errors(&format!("{MODELS}{USER}[state]\nlimits = \"synced\"\n"));
    assert_eq!(
        e,
        vec!["state.limits: only used with backend = \"redis\"".to_string()]
    );
}

#[test]
fn pool_idle_timeout_defaults_and_overrides_per_provider() {
    let secs = std::time::Duration::from_secs;
    let c = parse(GOOD, &env).unwrap();
    assert_eq!(c.providers["relay"].timeouts.pool_idle, secs(30));
    let text = GOOD.replace(
        "[providers.relay]",
        "[settings]\npool_idle_timeout = \"90s\"\n[providers.relay]\npool_idle_timeout = \"5s\"",
    );
    let c = parse(&text, &env).unwrap();
    assert_eq!(c.providers["relay"].timeouts.pool_idle, secs(5));
    assert_eq!(c.providers["openai"].timeouts.pool_idle, secs(90));
    let bad = GOOD.replace(
        "[providers.relay]",
        "[providers.relay]\npool_idle_timeout = \"soon\"",
    );
    assert!(errors(&bad)[0].starts_with("providers.relay.pool_idle_timeout:"));
}

#[test]
fn base_urls_with_credentials_or_non_ascii_hosts_are_refused() {
    let with_user = GOOD.replace("http://127.0.0.1:9000", "http://user:pw@127.0.0.1:9000");
    let e = errors(&with_user);
    assert!(
        e[0].starts_with("providers.relay.base_url: credentials in the URL"),
        "{e:?}"
    );
    assert!(!e[0].contains("pw"));
    let idn = GOOD.replace("http://127.0.0.1:9000", "https://bücher.example/v1");
    assert!(errors(&idn)[0].starts_with("providers.relay.base_url: write the host in its ASCII"));
    let at_in_path = GOOD.replace("http://127.0.0.1:9000", "http://127.0.0.1:9000/v1/@team");
    assert_eq!(errors(&at_in_path), Vec::<String>::new());
}

#[test]
fn embeddings_models_need_backends_with_embeddings() {
    let text = |kind: &str, backend_type: &str| {
        format!(
            "[providers.p]\nbackend_type = \"{backend_type}\"\nbase_url = \"https://a\"\n[models.e]\nkind = \"{kind}\"\n[[models.e.backends]]\nprovider = \"p\"\nmodel = \"x\"\n[users.u]\ntoken = \"t\"\n"
        )
    };
    let errors = |t: String| {
        parse(&t, &env).map_err(|e| e.0.iter().map(ToString::to_string).collect::<Vec<_>>())
    };
    for ok in ["openai", "azure", "gemini"] {
        let c = errors(text("embeddings", ok)).unwrap();
        assert_eq!(c.models["e"].kind, ModelKind::Embeddings, "{ok}");
    }
    assert_eq!(
        errors(text("embeddings", "anthropic")).unwrap_err(),
        vec![
            r#"models.e.backends[0].provider: provider "p" speaks anthropic, which has no embeddings API; an embeddings model cannot use it"#
        ]
    );
    assert_eq!(
        errors(text("chat", "anthropic")).unwrap().models["e"].kind,
        ModelKind::Chat
    );
    assert_eq!(
        errors(text("vectors", "openai")).unwrap_err(),
        vec![r#"models.e.kind: unknown model kind "vectors" (known: chat, embeddings)"#]
    );
}
