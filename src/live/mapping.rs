//! A stored API's mapping: an API entry of the config file without its `name` and `spec`
//! (selection, per-tool overrides, base URL, protection, downstream identity, mode). The admin
//! API reads and writes it in exactly this shape.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{
    ApiAuthConfig, ApiConfig, CallLimits, DownstreamConfig, Mode, ToolOverride, Toolsets,
};
use crate::mapping::Selector;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Backend base URL; default: the spec's first absolute server URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    #[serde(default)]
    pub include: Vec<Selector>,
    #[serde(default)]
    pub exclude: Vec<Selector>,
    #[serde(default)]
    pub tools: BTreeMap<String, ToolOverride>,
    #[serde(default = "yes")]
    pub output_schemas: bool,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Toolsets::is_empty")]
    pub toolsets: Toolsets,
    #[serde(default)]
    pub auth: ApiAuthConfig,
    #[serde(default)]
    pub downstream: DownstreamConfig,
    #[serde(default, skip_serializing_if = "CallLimits::is_default")]
    pub limits: CallLimits,
}

fn yes() -> bool {
    true
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping::of(&ApiConfig::default())
    }
}

impl Mapping {
    /// The mapping part of a config entry.
    pub fn of(api: &ApiConfig) -> Self {
        Mapping {
            base_url: api.base_url.clone(),
            include: api.include.clone(),
            exclude: api.exclude.clone(),
            tools: api.tools.clone(),
            output_schemas: api.output_schemas,
            mode: api.mode,
            toolsets: api.toolsets.clone(),
            auth: api.auth.clone(),
            downstream: api.downstream.clone(),
            limits: api.limits.clone(),
        }
    }

    /// A config entry with this mapping (`spec` is only a label for stored APIs, whose
    /// document comes from the store).
    pub fn to_api(&self, name: &str, spec: PathBuf) -> ApiConfig {
        ApiConfig {
            name: name.to_string(),
            spec,
            base_url: self.base_url.clone(),
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            tools: self.tools.clone(),
            output_schemas: self.output_schemas,
            mode: self.mode,
            toolsets: self.toolsets.clone(),
            auth: self.auth.clone(),
            downstream: self.downstream.clone(),
            limits: self.limits.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_it_writes_and_refuses_unknown_fields() {
        let m: Mapping = serde_json::from_value(serde_json::json!({
            "base_url": "http://127.0.0.1:18080",
            "exclude": [{"operation_id": "deletePet"}],
            "tools": {"getPet": {"name": "get_pet", "scopes": ["pets:read"]}}
        }))
        .unwrap();
        let back: Mapping = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(m, back);
        assert!(m.output_schemas);
        let e = serde_json::from_value::<Mapping>(serde_json::json!({"bse_url": "x"})).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }
}
