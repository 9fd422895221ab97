//! The subset of Spin's manifest v2 (`spin.toml`) this host runs: application variables,
//! `[[trigger.http]]` routes and `[component.X]` with `source`, `environment`,
//! `allowed_outbound_hosts` and `variables`. Anything else Spin accepts is ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail, ensure};
use serde::Deserialize;

use crate::variables::{Template, validate_name};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub name: String,
    /// `[application.trigger.http] base`, sanitised: `""` for the root.
    pub base: String,
    pub variables: BTreeMap<String, Variable>,
    pub routes: Vec<HttpRoute>,
    pub components: BTreeMap<String, Component>,
}

/// An application variable: either `required` or with a `default`, never both (as Spin checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub default: Option<String>,
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    pub route: String,
    pub component: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Absolute, or relative to the manifest's directory as Spin resolves it.
    pub source: PathBuf,
    pub environment: Vec<(String, String)>,
    pub allowed_outbound_hosts: Vec<String>,
    pub variables: BTreeMap<String, Template>,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read manifest {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, dir).with_context(|| format!("invalid manifest {}", path.display()))
    }

    /// Parses manifest text; relative component sources are resolved against `dir`.
    pub fn parse(text: &str, dir: &Path) -> Result<Self> {
        let raw: RawManifest = toml::from_str(text)?;
        ensure!(
            raw.spin_manifest_version == 2,
            "spin_manifest_version must be 2 (found {})",
            raw.spin_manifest_version
        );

        let mut variables = BTreeMap::new();
        for (name, raw_var) in raw.variables {
            validate_name(&name).with_context(|| format!("variable {name:?}"))?;
            ensure!(
                raw_var.required ^ raw_var.default.is_some(),
                "variable {name:?} must be `required` OR have a `default`"
            );
            variables.insert(name, Variable { default: raw_var.default, secret: raw_var.secret });
        }

        let mut components = BTreeMap::new();
        for (id, raw_component) in raw.component {
            let component =
                raw_component.into_component(dir, &variables).with_context(|| format!("component {id:?}"))?;
            components.insert(id, component);
        }

        let mut routes = Vec::new();
        for (index, trigger) in raw.trigger.http.into_iter().enumerate() {
            let component = match trigger.component {
                Some(toml::Value::String(id)) => id,
                Some(_) => bail!(
                    "trigger.http #{index}: inline components are not supported by local-spin; \
                     reference a [component.<id>] by name"
                ),
                None => bail!("trigger.http #{index}: `component` is missing"),
            };
            ensure!(
                components.contains_key(&component),
                "trigger.http #{index} (route {:?}) names unknown component {component:?}",
                trigger.route
            );
            let route = match trigger.route {
                toml::Value::String(route) => route,
                // `route = { private = true }`: reachable only through service chaining.
                toml::Value::Table(_) => continue,
                other => bail!("trigger.http #{index}: route must be a string, found {other}"),
            };
            routes.push(HttpRoute { route, component });
        }

        let base = raw.application.trigger.http.and_then(|http| http.base).unwrap_or_default();
        Ok(Self { name: raw.application.name, base: crate::routes::sanitize(&base), variables, routes, components })
    }
}

#[derive(Deserialize)]
struct RawManifest {
    spin_manifest_version: i64,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, RawVariable>,
    #[serde(default)]
    trigger: RawTriggers,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize)]
struct RawApplication {
    name: String,
    #[serde(default)]
    trigger: RawAppTriggers,
}

#[derive(Deserialize, Default)]
struct RawAppTriggers {
    http: Option<RawAppHttp>,
}

#[derive(Deserialize)]
struct RawAppHttp {
    base: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    #[serde(default)]
    required: bool,
    default: Option<String>,
    #[serde(default)]
    secret: bool,
    #[serde(default, rename = "description")]
    _description: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawTriggers {
    #[serde(default)]
    http: Vec<RawHttpTrigger>,
}

#[derive(Deserialize)]
struct RawHttpTrigger {
    route: toml::Value,
    component: Option<toml::Value>,
}

#[derive(Deserialize)]
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

impl RawComponent {
    fn into_component(self, dir: &Path, app_vars: &BTreeMap<String, Variable>) -> Result<Component> {
        let source = match self.source {
            toml::Value::String(path) => dir.join(path),
            _ => bail!("only a local file `source` is supported (no url/registry sources)"),
        };
        let mut variables = BTreeMap::new();
        for (name, value) in self.variables {
            validate_name(&name).with_context(|| format!("component variable {name:?}"))?;
            let template = Template::parse(&value).with_context(|| format!("component variable {name:?}"))?;
            template.ensure_known(|var| app_vars.contains_key(var))?;
            variables.insert(name, template);
        }
        for host in &self.allowed_outbound_hosts {
            Template::parse(host)
                .and_then(|template| template.ensure_known(|var| app_vars.contains_key(var)))
                .with_context(|| format!("allowed_outbound_hosts entry {host:?}"))?;
        }
        Ok(Component {
            source,
            environment: self.environment.into_iter().collect(),
            allowed_outbound_hosts: self.allowed_outbound_hosts,
            variables,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
spin_manifest_version = 2

[application]
name = "marketplace"

[variables]
neon_url = { required = true }
webhook_key_next = { default = "" }
token = { required = true, secret = true }

[[trigger.http]]
route = "/orders/..."
component = "orders"

[[trigger.http]]
route = { private = true }
component = "orders"

[component.orders]
source = "target/wasm32-wasip2/release/orders.wasm"
environment = { RUST_LOG = "info" }
allowed_outbound_hosts = ["{{ neon_url }}"]
[component.orders.variables]
neon_url = "{{ neon_url }}/sql"
[component.orders.build]
command = "cargo build"
"#;

    #[test]
    fn parses_variables_routes_and_components() {
        let manifest = Manifest::parse(MANIFEST, Path::new("/app")).unwrap();
        assert_eq!(manifest.name, "marketplace");
        assert_eq!(manifest.base, "");
        assert_eq!(manifest.variables["neon_url"].default, None);
        assert_eq!(manifest.variables["webhook_key_next"].default.as_deref(), Some(""));
        assert!(manifest.variables["token"].secret);
        assert_eq!(manifest.routes, vec![HttpRoute { route: "/orders/...".into(), component: "orders".into() }]);
        let orders = &manifest.components["orders"];
        assert_eq!(orders.source, Path::new("/app/target/wasm32-wasip2/release/orders.wasm"));
        assert_eq!(orders.environment, vec![("RUST_LOG".to_owned(), "info".to_owned())]);
        assert_eq!(orders.allowed_outbound_hosts, vec!["{{ neon_url }}".to_owned()]);
        assert!(orders.variables.contains_key("neon_url"));
    }

    #[test]
    fn variable_must_be_required_or_defaulted() {
        let text = MANIFEST.replace(r#"{ default = "" }"#, r#"{ required = true, default = "" }"#);
        let error = Manifest::parse(&text, Path::new("/app")).unwrap_err();
        assert!(format!("{error:#}").contains("must be `required` OR have a `default`"));
    }

    #[test]
    fn component_variable_must_reference_a_known_app_variable() {
        let text = MANIFEST.replace(r#""{{ neon_url }}/sql""#, r#""{{ nope }}""#);
        let error = Manifest::parse(&text, Path::new("/app")).unwrap_err();
        assert!(format!("{error:#}").contains("unknown variable \"nope\""), "{error:#}");
    }

    #[test]
    fn trigger_must_name_a_known_component() {
        let text = MANIFEST.replace(r#"component = "orders""#, r#"component = "payments""#);
        let error = Manifest::parse(&text, Path::new("/app")).unwrap_err();
        assert!(format!("{error:#}").contains("unknown component \"payments\""));
    }

    #[test]
    fn rejects_manifest_v1() {
        let text = MANIFEST.replace("spin_manifest_version = 2", "spin_manifest_version = 1");
        assert!(Manifest::parse(&text, Path::new("/app")).is_err());
    }

    #[test]
    fn reads_application_base() {
        let text = MANIFEST
            .replace("name = \"marketplace\"", "name = \"marketplace\"\n[application.trigger.http]\nbase = \"/api/\"");
        assert_eq!(Manifest::parse(&text, Path::new("/app")).unwrap().base, "/api");
    }
}
