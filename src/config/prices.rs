//! What tokens cost: a price per upstream model, in USD per million tokens.
//! The table is the shipped defaults (`prices.toml`), then a LiteLLM
//! `prices_file`, then `[prices."MODEL"]`, each over the one before; a
//! backend's own `price` replaces its model's. Resolved per backend when
//! the config is validated, so pricing a request is arithmetic only.

use std::collections::HashMap;
use std::sync::Arc;

use crate::protocol::Usage;

/// USD per million tokens of each kind, or per request.
#[derive(Debug, Clone, PartialEq)]
pub struct Price {
    pub input: f64,
    /// Input read from the prompt cache.
    pub cached_input: f64,
    /// Input written to the prompt cache (Anthropic's cache creation).
    pub cache_write: f64,
    pub output: f64,
    pub reasoning: f64,
    /// `billing_mode = "per_request"`: this much per answered request, whatever its tokens.
    pub per_request: Option<f64>,
    /// The model's longest answer, reserved by budgets when a request sets no `max_tokens`.
    pub max_output_tokens: Option<u64>,
}

const MTOK: f64 = 1_000_000.0;

impl Price {
    /// The cost of one answer: each token at its own kind's price, once.
    pub fn cost(&self, u: &Usage) -> f64 {
        if let Some(each) = self.per_request {
            return each;
        }
        let cached = u.cached_tokens.min(u.prompt_tokens);
        let written = u.cache_write_tokens.min(u.prompt_tokens - cached);
        let fresh = u.prompt_tokens - cached - written;
        let reasoning = u.reasoning_tokens.min(u.completion_tokens);
        let visible = u.completion_tokens - reasoning;
        (fresh as f64 * self.input
            + cached as f64 * self.cached_input
            + written as f64 * self.cache_write
            + visible as f64 * self.output
            + reasoning as f64 * self.reasoning)
            / MTOK
    }

    /// The most a request of `prompt` input and `output` output tokens can
    /// cost, whatever kinds the upstream reports them as.
    pub fn ceiling(&self, prompt: u64, output: u64) -> f64 {
        if let Some(each) = self.per_request {
            return each;
        }
        let input = self.input.max(self.cached_input).max(self.cache_write);
        let out = self.output.max(self.reasoning);
        (prompt as f64 * input + output as f64 * out) / MTOK
    }
}

/// Prices by upstream model name.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    by_model: HashMap<String, Arc<Price>>,
}

impl PriceTable {
    pub fn insert(&mut self, model: &str, price: Price) {
        self.by_model.insert(model.to_string(), Arc::new(price));
    }

    pub fn get(&self, model: &str) -> Option<&Arc<Price>> {
        self.by_model.get(model)
    }

    /// The price of `model`: its own entry, else the longest entry it
    /// extends with a `-` (dated ids: `claude-sonnet-4-5-20250929` takes
    /// `claude-sonnet-4-5`'s price, `gpt-4o-mini-2024-07-18` `gpt-4o-mini`'s).
    pub fn lookup(&self, model: &str) -> Option<Arc<Price>> {
        if let Some(p) = self.by_model.get(model) {
            return Some(p.clone());
        }
        let mut end = model.len();
        while let Some(dash) = model[..end].rfind('-') {
            if let Some(p) = self.by_model.get(&model[..dash]) {
                return Some(p.clone());
            }
            end = dash;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price() -> Price {
        Price {
            input: 2.0,
            cached_input: 0.5,
            cache_write: 2.5,
            output: 8.0,
            reasoning: 8.0,
            per_request: None,
            max_output_tokens: None,
        }
    }

    #[test]
    fn cached_and_written_input_are_priced_once_at_their_own_price() {
        let u = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 500_000,
            cached_tokens: 600_000,
            cache_write_tokens: 100_000,
            reasoning_tokens: 200_000,
        };
        // 300k fresh at 2 + 600k cached at 0.5 + 100k written at 2.5 + 500k output at 8.
        let want = 0.6 + 0.3 + 0.25 + 4.0;
        assert!(
            (price().cost(&u) - want).abs() < 1e-9,
            "{}",
            price().cost(&u)
        );
        let mut p = price();
        p.reasoning = 20.0;
        // 300k visible at 8 + 200k reasoning at 20.
        assert!((p.cost(&u) - (0.6 + 0.3 + 0.25 + 2.4 + 4.0)).abs() < 1e-9);
        p.per_request = Some(0.04);
        assert_eq!(p.cost(&u), 0.04);
    }

    #[test]
    fn counts_beyond_their_totals_never_go_negative() {
        let u = Usage {
            prompt_tokens: 10,
            cached_tokens: 50,
            ..Usage::default()
        };
        assert!((price().cost(&u) - 10.0 * 0.5 / MTOK).abs() < 1e-15);
    }

    #[test]
    fn the_ceiling_covers_every_kind() {
        let p = price();
        let u = Usage {
            prompt_tokens: 1000,
            completion_tokens: 100,
            cache_write_tokens: 1000,
            ..Usage::default()
        };
        assert!(p.cost(&u) <= p.ceiling(1000, 100));
    }

    #[test]
    fn dated_ids_take_the_longest_listed_prefix() {
        let mut t = PriceTable::default();
        t.insert("gpt-4o", price());
        let mut mini = price();
        mini.input = 0.15;
        t.insert("gpt-4o-mini", mini);
        assert_eq!(t.lookup("gpt-4o-mini-2024-07-18").unwrap().input, 0.15);
        assert_eq!(t.lookup("gpt-4o-2024-08-06").unwrap().input, 2.0);
        assert!(t.lookup("gpt-4").is_none());
        assert!(t.lookup("gpt-4omni").is_none());
    }
}
