//! The model catalog: public id → provider, native id, prices and limits.
//!
//! The built-in list is `catalog/models.toml`, compiled into the binary; the config file adds
//! models and overrides fields by id (`Catalog::merge`).

use std::collections::HashMap;

use serde::Deserialize;

use crate::usage::Pricing;
use crate::usage::pricing::parse_usd;

const BUILTIN: &str = include_str!("../catalog/models.toml");

/// One model entry as written in TOML. Every field but `id` is optional so that an override in
/// the config file can name only what it changes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    pub id: String,
    /// The id the upstream knows, when it is not the part of `id` after the slash.
    pub native: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// Unix seconds.
    pub created: Option<i64>,
    pub context_length: Option<u64>,
    pub max_completion_tokens: Option<u64>,
    pub input_modalities: Option<Vec<String>>,
    pub output_modalities: Option<Vec<String>>,
    pub supported_parameters: Option<Vec<String>>,
    /// USD per million prompt tokens, as a decimal string (`"0.28"`) or a TOML number (`0.28`).
    #[serde(default, deserialize_with = "usd")]
    pub prompt: Option<String>,
    /// USD per million completion tokens, written like `prompt`.
    #[serde(default, deserialize_with = "usd")]
    pub completion: Option<String>,
    /// USD per million cached prompt tokens read; the prompt price when absent.
    #[serde(default, deserialize_with = "usd")]
    pub cache_read: Option<String>,
    /// USD per million prompt tokens written to the cache; the prompt price when absent.
    #[serde(default, deserialize_with = "usd")]
    pub cache_write: Option<String>,
}

/// A price written as a string or a number, kept as its decimal text so that `parse_usd` turns
/// it into nano-USD without floating-point arithmetic (a float prints as its shortest exact
/// decimal, so `0.28` stays "0.28").
fn usd<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Usd {
        Text(String),
        Integer(i64),
        Float(f64),
    }
    Ok(Some(match Usd::deserialize(deserializer)? {
        Usd::Text(text) => text,
        Usd::Integer(n) => n.to_string(),
        Usd::Float(f) => f.to_string(),
    }))
}

#[derive(Debug, Deserialize)]
struct RawCatalog {
    models: Vec<RawModel>,
}

/// A resolved catalog entry.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    /// `provider/model`.
    pub id: String,
    /// The slug before the slash in `id`, which picks the upstream.
    pub provider: String,
    /// The id the upstream knows.
    pub native: String,
    pub name: String,
    pub description: String,
    /// Unix seconds; 0 when the catalog does not say.
    pub created: i64,
    pub context_length: Option<u64>,
    /// Output-token ceiling: the default `max_tokens` for Anthropic, and a bound on a request's
    /// worst-case cost when the client sets none.
    pub max_completion_tokens: Option<u64>,
    pub input_modalities: Vec<String>,
    pub output_modalities: Vec<String>,
    pub supported_parameters: Vec<String>,
    /// `None` when the model has no known price.
    pub pricing: Option<Pricing>,
}

/// A catalog problem found while loading; names the model and field.
#[derive(Debug, thiserror::Error)]
#[error("model '{model}': {problem}")]
pub struct CatalogError {
    pub model: String,
    pub problem: String,
}

/// All known models, by public id.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    models: Vec<ModelInfo>,
    by_id: HashMap<String, usize>,
    /// `provider/native` → model, so a provider's own id (`anthropic/claude-sonnet-4-6`) finds
    /// the same entry as the public one (`anthropic/claude-sonnet-4.6`).
    by_native: HashMap<String, usize>,
}

impl Catalog {
    /// The built-in catalog.
    pub fn builtin() -> Self {
        let raw: RawCatalog = toml::from_str(BUILTIN).expect("built-in catalog parses");
        let mut catalog = Self::default();
        catalog.merge(raw.models).expect("built-in catalog is valid");
        catalog
    }

    /// Adds models, or overrides the named fields of models already present.
    pub fn merge(&mut self, models: Vec<RawModel>) -> Result<(), CatalogError> {
        for raw in models {
            let err = |problem: String| CatalogError { model: raw.id.clone(), problem };
            let Some((provider, rest)) = raw.id.split_once('/') else {
                return Err(err("id must be 'provider/model'".into()));
            };
            if provider.is_empty() || rest.is_empty() {
                return Err(err("id must be 'provider/model'".into()));
            }
            let price = |field: &str, value: &Option<String>| -> Result<Option<i64>, CatalogError> {
                value
                    .as_deref()
                    .map(|s| {
                        parse_usd(s).ok_or_else(|| err(format!("{field} must be a decimal USD amount, got '{s}'")))
                    })
                    .transpose()
            };
            let (prompt, completion) = (price("prompt", &raw.prompt)?, price("completion", &raw.completion)?);
            let (cache_read, cache_write) =
                (price("cache_read", &raw.cache_read)?, price("cache_write", &raw.cache_write)?);

            let index = match self.by_id.get(&raw.id) {
                Some(&i) => i,
                None => {
                    self.models.push(ModelInfo {
                        id: raw.id.clone(),
                        provider: provider.to_owned(),
                        native: rest.to_owned(),
                        name: raw.id.clone(),
                        description: String::new(),
                        created: 0,
                        context_length: None,
                        max_completion_tokens: None,
                        input_modalities: vec!["text".into()],
                        output_modalities: vec!["text".into()],
                        supported_parameters: Vec::new(),
                        pricing: None,
                    });
                    self.by_id.insert(raw.id.clone(), self.models.len() - 1);
                    self.models.len() - 1
                }
            };
            let m = &mut self.models[index];
            if let Some(v) = raw.native {
                self.by_native.remove(&format!("{}/{}", m.provider, m.native));
                m.native = v;
            }
            self.by_native.insert(format!("{}/{}", m.provider, m.native), index);
            if let Some(v) = raw.name {
                m.name = v
            }
            if let Some(v) = raw.description {
                m.description = v
            }
            if let Some(v) = raw.created {
                m.created = v
            }
            if let Some(v) = raw.context_length {
                m.context_length = Some(v)
            }
            if let Some(v) = raw.max_completion_tokens {
                m.max_completion_tokens = Some(v)
            }
            if let Some(v) = raw.input_modalities {
                m.input_modalities = v
            }
            if let Some(v) = raw.output_modalities {
                m.output_modalities = v
            }
            if let Some(v) = raw.supported_parameters {
                m.supported_parameters = v
            }
            if prompt.is_some() || completion.is_some() || cache_read.is_some() || cache_write.is_some() {
                let old = m.pricing.unwrap_or_default();
                m.pricing = Some(Pricing {
                    prompt: prompt.unwrap_or(old.prompt),
                    completion: completion.unwrap_or(old.completion),
                    cache_read: cache_read.or(old.cache_read),
                    cache_write: cache_write.or(old.cache_write),
                });
            }
        }
        Ok(())
    }

    /// The model with exactly this public id (`find` also takes the provider's own id).
    pub fn get(&self, id: &str) -> Option<&ModelInfo> {
        self.by_id.get(id).map(|&i| &self.models[i])
    }

    /// The model with this public id, or else with this `provider/native` id.
    pub fn find(&self, id: &str) -> Option<&ModelInfo> {
        self.get(id).or_else(|| self.by_native.get(id).map(|&i| &self.models[i]))
    }

    /// Every model in the order it was first added (built-ins first), as `/v1/models` lists them.
    pub fn models(&self) -> &[ModelInfo] {
        &self.models
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_the_documented_ids_with_prices() {
        let c = Catalog::builtin();
        for id in [
            "openai/gpt-5.4",
            "anthropic/claude-sonnet-4.6",
            "google/gemini-2.5-flash",
            "openai/text-embedding-3-small",
        ] {
            let m = c.get(id).unwrap_or_else(|| panic!("{id} missing"));
            assert!(m.pricing.is_some(), "{id} has no price");
        }
        assert_eq!(c.get("anthropic/claude-sonnet-4.6").unwrap().native, "claude-sonnet-4-6");
        assert_eq!(c.get("openai/gpt-5.4").unwrap().native, "gpt-5.4");
    }

    #[test]
    fn overrides_change_only_named_fields() {
        let mut c = Catalog::builtin();
        let before = c.get("openai/gpt-5.4").unwrap().clone();
        c.merge(vec![RawModel { id: "openai/gpt-5.4".into(), completion: Some("20".into()), ..Default::default() }])
            .unwrap();
        let after = c.get("openai/gpt-5.4").unwrap();
        assert_eq!(after.pricing.unwrap().completion, 20_000_000_000);
        assert_eq!(after.pricing.unwrap().prompt, before.pricing.unwrap().prompt);
        assert_eq!(after.name, before.name);
        let bad = c.merge(vec![RawModel { id: "x/y".into(), prompt: Some("abc".into()), ..Default::default() }]);
        assert!(bad.unwrap_err().to_string().contains("prompt"));
    }

    #[test]
    fn prices_may_be_numbers_or_strings() {
        let raw: RawCatalog = toml::from_str(
            "[[models]]\nid = \"x/a\"\nprompt = 0.28\ncompletion = 2\ncache_read = \"0.028\"\n\n\
             [[models]]\nid = \"x/b\"\nprompt = -1",
        )
        .unwrap();
        let mut c = Catalog::default();
        let bad = c.merge(raw.models.clone()).unwrap_err();
        assert!(bad.to_string().contains("'-1'"), "{bad}");
        c.merge(raw.models[..1].to_vec()).unwrap();
        let p = c.get("x/a").unwrap().pricing.unwrap();
        assert_eq!((p.prompt, p.completion, p.cache_read), (280_000_000, 2_000_000_000, Some(28_000_000)));
    }
}
