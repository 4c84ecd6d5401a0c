//! Prices per million tokens, held as integer nano-USD, and the cost of a `Usage`.

use super::Usage;

/// Prices of one model, each in nano-USD per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pricing {
    pub prompt: i64,
    pub completion: i64,
    /// Cached prompt tokens (cache read); defaults to the prompt price when unknown.
    pub cache_read: Option<i64>,
    /// Prompt tokens written to the cache; defaults to the prompt price when unknown.
    pub cache_write: Option<i64>,
}

impl Pricing {
    /// Cost in nano-USD, rounded half up once at the end so many small requests do not drift.
    pub fn cost(&self, usage: &Usage) -> i64 {
        let cached = usage.cached_tokens.min(usage.prompt_tokens);
        let written = usage.cache_write_tokens.min(usage.prompt_tokens - cached);
        let fresh = usage.prompt_tokens - cached - written;
        let per_million = i128::from(fresh) * i128::from(self.prompt)
            + i128::from(cached) * i128::from(self.cache_read.unwrap_or(self.prompt))
            + i128::from(written) * i128::from(self.cache_write.unwrap_or(self.prompt))
            + i128::from(usage.completion_tokens) * i128::from(self.completion);
        let nano = (per_million + 500_000) / 1_000_000;
        i64::try_from(nano).unwrap_or(i64::MAX)
    }
}

/// Output tokens assumed for a request that sets no `max_tokens`, when reserving budget.
pub const DEFAULT_OUTPUT_ESTIMATE: u64 = 4096;

impl Pricing {
    /// A request's worst-case cost, reserved against a key's limit before it is sent: the
    /// prompt estimated from its size (about four bytes a token) plus the output ceiling — the
    /// client's `max_tokens`, else the smaller of the model's limit and `DEFAULT_OUTPUT_ESTIMATE`.
    pub fn worst_case(&self, prompt_bytes: usize, max_tokens: Option<u64>, model_max: Option<u64>) -> i64 {
        let output =
            max_tokens.unwrap_or_else(|| model_max.unwrap_or(DEFAULT_OUTPUT_ESTIMATE).min(DEFAULT_OUTPUT_ESTIMATE));
        let usage = Usage {
            prompt_tokens: super::estimate_tokens(prompt_bytes),
            completion_tokens: output,
            ..Usage::default()
        };
        self.cost(&usage)
    }
}

/// Parses a decimal USD string ("2.50", "0.075") into nano-USD without floating point.
pub fn parse_usd(s: &str) -> Option<i64> {
    let s = s.trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 9 {
        return None;
    }
    if !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let frac_nano: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().ok()? };
    whole.checked_mul(1_000_000_000)?.checked_add(frac_nano)
}

/// Nano-USD per million tokens as OpenRouter's USD-per-token string ("0.0000025").
pub fn per_token_string(nano_per_million: i64) -> String {
    // nano-USD per million tokens == 1e-15 USD per token.
    let digits = format!("{:016}", nano_per_million);
    let (whole, frac) = digits.split_at(digits.len() - 15);
    let whole = whole.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    match (whole.is_empty(), frac.is_empty()) {
        (true, true) => "0".to_owned(),
        (_, true) => whole.to_owned(),
        (true, false) => format!("0.{frac}"),
        (false, false) => format!("{whole}.{frac}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_usd_strings_exactly() {
        assert_eq!(parse_usd("2.50"), Some(2_500_000_000));
        assert_eq!(parse_usd("0.075"), Some(75_000_000));
        assert_eq!(parse_usd("15"), Some(15_000_000_000));
        assert_eq!(parse_usd("1e3"), None);
        assert_eq!(parse_usd("-1"), None);
        assert_eq!(parse_usd("."), None);
    }

    #[test]
    fn cost_splits_cached_and_fresh_prompt_tokens() {
        let p = Pricing {
            prompt: parse_usd("3").unwrap(),
            completion: parse_usd("15").unwrap(),
            cache_read: Some(parse_usd("0.30").unwrap()),
            cache_write: Some(parse_usd("3.75").unwrap()),
        };
        let usage = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 100_000,
            cached_tokens: 500_000,
            cache_write_tokens: 100_000,
            reasoning_tokens: 0,
        };
        // 400k fresh * $3 + 500k cached * $0.30 + 100k written * $3.75 + 100k out * $15
        let expected = 1_200_000_000 + 150_000_000 + 375_000_000 + 1_500_000_000;
        assert_eq!(p.cost(&usage), expected);
    }

    #[test]
    fn per_token_strings_match_openrouter() {
        assert_eq!(per_token_string(parse_usd("2.50").unwrap()), "0.0000025");
        assert_eq!(per_token_string(parse_usd("0.02").unwrap()), "0.00000002");
        assert_eq!(per_token_string(0), "0");
    }
}
