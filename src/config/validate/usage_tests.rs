//! Prices as the config resolves them: the shipped table, a LiteLLM
//! `prices_file`, then `[prices."MODEL"]`, each over the one before.

use crate::config::{load, parse, Config};

fn backends(models: &[&str]) -> String {
    let mut text = "[usage]\nstore = \"off\"\n[users.u]\ntoken = \"t\"\n[providers.p]\nbase_url = \"http://x\"\n[models.m]\n"
        .to_string();
    for (i, model) in models.iter().enumerate() {
        text += &format!(
            "[[models.m.backends]]\nprovider = \"p\"\nid = \"b{i}\"\nmodel = \"{model}\"\n"
        );
    }
    text
}

/// (input, cached input, output) per million tokens of each priced backend.
fn prices(config: &Config) -> Vec<(f64, f64, f64)> {
    let price = |b: &std::sync::Arc<crate::config::Backend>| {
        let p = b.price.as_ref()?;
        Some((p.input, p.cached_input, p.output))
    };
    config.models["m"]
        .backends
        .iter()
        .filter_map(price)
        .collect()
}

/// Model names with dots are quoted keys in `prices.toml`: bare, TOML
/// reads `[gpt-5.4]` as a table `4` inside `gpt-5`.
#[test]
fn the_shipped_table_prices_current_models_with_dots_and_dates() {
    let text = backends(&[
        "gpt-5.4-mini",
        "claude-sonnet-4-5-20250929",
        "gemini-2.5-flash",
    ]);
    let config = parse(&text, &|_| None).unwrap();
    assert_eq!(config.usage.unpriced, Vec::<String>::new());
    let input: Vec<f64> = prices(&config).iter().map(|p| p.0).collect();
    assert_eq!(input, vec![0.75, 3.0, 0.30]);
}

const LITELLM: &str = r#"{
  "sample_spec": {"max_tokens": "set to max tokens", "input_cost_per_token": 0},
  "acme-1": {"input_cost_per_token": 1e-6, "output_cost_per_token": 4e-6,
             "cache_read_input_token_cost": 1e-7, "max_output_tokens": 8192},
  "openrouter/acme-2": {"input_cost_per_token": 2e-6, "output_cost_per_token": 8e-6},
  "gpt-4o": {"input_cost_per_token": 5e-6, "output_cost_per_token": 1.5e-5},
  "embedding-only": {"mode": "embedding"}
}"#;

#[test]
fn a_litellm_file_prices_over_the_shipped_table_and_under_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prices.json"), LITELLM).unwrap();
    let text = backends(&["acme-1", "acme-2", "gpt-4o", "embedding-only"]).replace(
        "store = \"off\"",
        "store = \"off\"\nprices_file = \"prices.json\"",
    ) + "[prices.\"gpt-4o\"]\noutput_per_mtok = 20.0\n";
    let path = dir.path().join("switchyard.toml");
    std::fs::write(&path, text).unwrap();
    let config = load(&path).unwrap();
    let mut got = prices(&config);
    for p in &mut got {
        // USD per token times a million: float noise in the last places.
        *p = (
            (p.0 * 1e6).round() / 1e6,
            (p.1 * 1e6).round() / 1e6,
            (p.2 * 1e6).round() / 1e6,
        );
    }
    assert_eq!(
        &got[..3],
        [(1.0, 0.1, 4.0), (2.0, 2.0, 8.0), (5.0, 5.0, 20.0)]
    );
    let acme = config.models["m"].backends[0].price.as_ref().unwrap();
    assert_eq!(acme.max_output_tokens, Some(8192));
    assert_eq!(config.usage.unpriced, vec!["embedding-only".to_string()]);
}

#[test]
fn a_missing_or_broken_prices_file_is_an_error_at_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.toml");
    let text = backends(&["gpt-4o"]).replace(
        "store = \"off\"",
        "store = \"off\"\nprices_file = \"nope.json\"",
    );
    std::fs::write(&path, &text).unwrap();
    let errors = load(&path).unwrap_err();
    assert_eq!(errors.0[0].path, "usage.prices_file", "{errors}");
    std::fs::write(dir.path().join("nope.json"), "[1, 2]").unwrap();
    let errors = load(&path).unwrap_err();
    assert!(
        errors.0[0].message.contains("is not LiteLLM's JSON"),
        "{errors}"
    );
}
