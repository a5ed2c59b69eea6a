//! What a reply cost: a dated table of OpenAI's prices, overridable and extendable in the
//! config (`[prices."model-name"]`). A model with no price has no cost — never a guess.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::api::types::Usage;
use crate::text::thousands;

/// Prices in US dollars per 1 million tokens.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Prompt tokens.
    pub input: f64,
    /// Prompt tokens read from the prompt cache (`cached_tokens`); when absent, they cost
    /// `input`.
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// Completion tokens (reasoning tokens included: they are billed as output).
    pub output: f64,
}

/// When and where the built-in table comes from.
pub const TABLE_SOURCE: &str = "OpenAI API pricing, https://platform.openai.com/docs/pricing (Standard tier), as of 2025-08-07";

const fn p(input: f64, cached_input: Option<f64>, output: f64) -> Price {
    Price {
        input,
        cached_input,
        output,
    }
}

/// OpenAI's prices (USD per 1M tokens, Standard tier), from the pricing page
/// <https://platform.openai.com/docs/pricing> as of 2025-08-07 (the day gpt-5 was priced).
/// Prices change: `[prices."NAME"]` in the config overrides an entry or adds one.
/// Names are matched exactly, or with a `-YYYY-MM-DD` snapshot date removed.
pub const OPENAI_PRICES: &[(&str, Price)] = &[
    ("gpt-5", p(1.25, Some(0.125), 10.00)),
    ("gpt-5-mini", p(0.25, Some(0.025), 2.00)),
    ("gpt-5-nano", p(0.05, Some(0.005), 0.40)),
    ("gpt-5-chat-latest", p(1.25, Some(0.125), 10.00)),
    ("gpt-4.1", p(2.00, Some(0.50), 8.00)),
    ("gpt-4.1-mini", p(0.40, Some(0.10), 1.60)),
    ("gpt-4.1-nano", p(0.10, Some(0.025), 0.40)),
    ("gpt-4o", p(2.50, Some(1.25), 10.00)),
    // The first gpt-4o snapshot kept its launch price.
    ("gpt-4o-2024-05-13", p(5.00, None, 15.00)),
    ("gpt-4o-mini", p(0.15, Some(0.075), 0.60)),
    ("chatgpt-4o-latest", p(5.00, None, 15.00)),
    ("o1", p(15.00, Some(7.50), 60.00)),
    ("o1-mini", p(1.10, Some(0.55), 4.40)),
    ("o1-pro", p(150.00, None, 600.00)),
    ("o3", p(2.00, Some(0.50), 8.00)),
    ("o3-mini", p(1.10, Some(0.55), 4.40)),
    ("o3-pro", p(20.00, None, 80.00)),
    ("o4-mini", p(1.10, Some(0.275), 4.40)),
    ("gpt-4-turbo", p(10.00, None, 30.00)),
    ("gpt-4", p(30.00, None, 60.00)),
    ("gpt-4-32k", p(60.00, None, 120.00)),
    ("gpt-3.5-turbo", p(0.50, None, 1.50)),
    ("gpt-3.5-turbo-instruct", p(1.50, None, 2.00)),
    ("davinci-002", p(2.00, None, 2.00)),
    ("babbage-002", p(0.40, None, 0.40)),
];

/// The built-in table with the config's entries over it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prices {
    /// `[prices."NAME"]` from the config: win over the built-in table.
    pub overrides: BTreeMap<String, Price>,
}

/// `gpt-4o-mini-2024-07-18` → `gpt-4o-mini`.
fn without_date(model: &str) -> Option<&str> {
    let (head, tail) = model.split_at(model.len().checked_sub(11)?);
    let b = tail.as_bytes();
    let date = b[0] == b'-'
        && b[5] == b'-'
        && b[8] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 0 | 5 | 8) || c.is_ascii_digit());
    (date && !head.is_empty()).then_some(head)
}

impl Prices {
    pub fn new(overrides: BTreeMap<String, Price>) -> Self {
        Self { overrides }
    }

    /// The price of `model`: the config's, else the table's — the exact name first, then
    /// without a snapshot date. `None` when neither knows it.
    pub fn get(&self, model: &str) -> Option<Price> {
        let model = model.trim();
        let find = |name: &str| {
            self.overrides.get(name).copied().or_else(|| {
                OPENAI_PRICES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, p)| *p)
            })
        };
        find(model).or_else(|| without_date(model).and_then(find))
    }

    /// What `usage` cost with `model`'s price, in US dollars; `None` without a price.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        Some(cost(&self.get(model)?, usage))
    }
}

/// The cost of `usage` at `price`: cached prompt tokens at the cached price (when there is
/// one), the rest of the prompt at the input price, the completion (reasoning included) at
/// the output price.
pub fn cost(price: &Price, usage: &Usage) -> f64 {
    let cached = usage.cached_tokens.unwrap_or(0).min(usage.prompt_tokens);
    let fresh = usage.prompt_tokens - cached;
    let per = |tokens: u64, usd: f64| tokens as f64 * usd / 1_000_000.0;
    per(fresh, price.input)
        + per(cached, price.cached_input.unwrap_or(price.input))
        + per(usage.completion_tokens, price.output)
}

/// Check a price from the config: finite, not negative.
pub fn check(name: &str, p: &Price) -> Result<(), String> {
    let ok = |x: f64| x.is_finite() && x >= 0.0;
    if ok(p.input) && ok(p.output) && p.cached_input.is_none_or(ok) {
        Ok(())
    } else {
        Err(format!(
            "[prices.\"{name}\"]: prices must be numbers of dollars per 1M tokens, 0 or more"
        ))
    }
}

/// Dollars for a person: `$0.00012`, `$0.0012`, `$0.0123`, `$1.23`, `$1,234.56`.
pub fn format_usd(usd: f64) -> String {
    if !usd.is_finite() {
        return "$?".into();
    }
    if usd == 0.0 {
        return "$0".into();
    }
    if usd < 0.01 {
        // Two significant digits.
        let digits = ((-usd.log10()).ceil() as usize + 1).min(12);
        return format!("${usd:.digits$}");
    }
    if usd < 1.0 {
        return format!("${usd:.4}");
    }
    let cents = (usd * 100.0).round() as u64;
    let whole = thousands(cents / 100);
    format!("${whole}.{:02}", cents % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(p: u64, c: u64, cached: Option<u64>) -> Usage {
        Usage {
            prompt_tokens: p,
            completion_tokens: c,
            total_tokens: p + c,
            cached_tokens: cached,
            ..Usage::default()
        }
    }

    #[test]
    fn known_models_and_snapshots_have_prices_others_none() {
        let prices = Prices::default();
        assert_eq!(prices.get("gpt-4o-mini").unwrap().input, 0.15);
        assert_eq!(prices.get("gpt-4o-mini-2024-07-18").unwrap().output, 0.60);
        assert_eq!(prices.get("gpt-4o-2024-05-13").unwrap().input, 5.00);
        assert_eq!(prices.get("gpt-4o-2024-08-06").unwrap().input, 2.50);
        for unknown in [
            "smollm2",
            "llama3.2",
            "gpt-4o-audio-preview",
            "openai/gpt-4o",
            "gpt-4o-mini-2024",
            "",
        ] {
            assert_eq!(prices.get(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn the_config_overrides_and_extends() {
        let mut o = BTreeMap::new();
        o.insert("gpt-4o".to_string(), p(1.0, None, 2.0));
        o.insert("smollm2".to_string(), p(0.0, None, 0.0));
        let prices = Prices::new(o);
        assert_eq!(prices.get("gpt-4o").unwrap().input, 1.0);
        assert_eq!(prices.get("gpt-4o-2024-08-06").unwrap().input, 1.0);
        assert_eq!(prices.cost("smollm2", &usage(100, 100, None)), Some(0.0));
    }

    #[test]
    fn cached_prompt_tokens_cost_less() {
        let price = p(2.50, Some(1.25), 10.00);
        // 1M prompt tokens of which 400k cached, 100k completion tokens.
        let c = cost(&price, &usage(1_000_000, 100_000, Some(400_000)));
        assert!(
            (c - (0.6 * 2.50 + 0.4 * 1.25 + 0.1 * 10.0)).abs() < 1e-9,
            "{c}"
        );
        // No cached price: cached tokens cost the input price.
        let c = cost(&p(1.0, None, 1.0), &usage(1_000_000, 0, Some(500_000)));
        assert!((c - 1.0).abs() < 1e-9);
        // More cached than prompt tokens (a server's mistake): never negative.
        let c = cost(&price, &usage(10, 0, Some(50)));
        assert!(c > 0.0);
    }

    #[test]
    fn dollars_read_well() {
        assert_eq!(format_usd(0.0), "$0");
        assert_eq!(format_usd(0.000_123_4), "$0.00012");
        assert_eq!(format_usd(0.000_006_9), "$0.0000069");
        assert_eq!(format_usd(0.001_234), "$0.0012");
        assert_eq!(format_usd(0.0123), "$0.0123");
        assert_eq!(format_usd(0.5), "$0.5000");
        assert_eq!(format_usd(1234.567), "$1,234.57");
        assert_eq!(format_usd(f64::NAN), "$?");
    }

    #[test]
    fn bad_config_prices_are_refused() {
        assert!(check("x", &p(1.0, Some(0.5), 2.0)).is_ok());
        assert!(check("x", &p(-1.0, None, 2.0)).is_err());
        assert!(check("x", &p(1.0, Some(f64::INFINITY), 2.0)).is_err());
    }
}
