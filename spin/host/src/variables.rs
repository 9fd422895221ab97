//! Application variables and `{{ name }}` templates, resolved as Spin's expressions crate and its
//! default providers do: `--variable name=value`, then `SPIN_VARIABLE_<NAME>` from the process
//! environment, then the same key from `./.env`, then the manifest `default`.
//! Values never change while the host runs, so everything is resolved once at startup.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Result, bail, ensure};

use crate::manifest::{Component, Variable};

/// Spin's env provider prefix: `neon_url` is read from `SPIN_VARIABLE_NEON_URL`.
const ENV_PREFIX: &str = "SPIN_VARIABLE";

/// A string with `{{ variable }}` expressions (Spin's `spin_expressions::Template`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Expr(String),
}

impl Template {
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after_open) = rest.strip_prefix("{{") {
                let Some((expr, after_close)) = after_open.split_once("}}") else {
                    bail!("invalid variable template {text:?}: unmatched '{{{{'");
                };
                parts.push(Part::Expr(expr.trim().to_owned()));
                rest = after_close;
            } else {
                let end = rest.find("{{").unwrap_or(rest.len());
                parts.push(Part::Lit(rest[..end].to_owned()));
                rest = &rest[end..];
            }
        }
        Ok(Self { parts })
    }

    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|part| matches!(part, Part::Lit(_)))
    }

    /// Every expression must name an application variable (checked at load, as Spin does).
    pub fn ensure_known(&self, is_known: impl Fn(&str) -> bool) -> Result<()> {
        for part in &self.parts {
            if let Part::Expr(name) = part {
                ensure!(is_known(name), "invalid variable template: unknown variable {name:?}");
            }
        }
        Ok(())
    }

    pub fn render(&self, values: &AppVariables) -> Result<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(lit) => out.push_str(lit),
                Part::Expr(name) => match values.values.get(name) {
                    Some(value) => out.push_str(value),
                    None => bail!("unknown variable {name:?}"),
                },
            }
        }
        Ok(out)
    }
}

/// Spin's variable-name rule: lower-case ASCII letters, digits and single underscores, starting
/// with a letter and ending with a letter or digit (so every name maps to one env var).
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "must not be empty".to_owned()
    } else if let Some(bad) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
        format!(
            "invalid character {bad:?}. Variable names may contain only lower-case letters, \
             numbers, and underscores."
        )
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        "must start with a lowercase ASCII letter".to_owned()
    } else if !name.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        "must end with a lowercase ASCII letter or digit".to_owned()
    } else if name.contains("__") {
        "must not contain multiple consecutive underscores".to_owned()
    } else {
        return Ok(());
    };
    bail!("invalid variable name {name:?}: {reason}")
}

/// The env var Spin's env provider reads for a variable.
pub fn env_var_name(name: &str) -> String {
    format!("{ENV_PREFIX}_{}", name.to_ascii_uppercase())
}

/// Where variable values come from, highest priority first.
pub struct Providers<'a> {
    /// `--variable name=value` on the command line (Spin's static provider).
    pub cli: &'a BTreeMap<String, String>,
    /// The process environment, looked up by env var name.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// `KEY=value` lines of `./.env`, consulted when the process environment lacks the key.
    pub dotenv: &'a HashMap<String, String>,
}

/// Resolved values of the application `[variables]`.
#[derive(Debug, Clone, Default)]
pub struct AppVariables {
    values: HashMap<String, String>,
}

impl AppVariables {
    /// Resolves every application variable; all missing required ones are reported at once.
    pub fn resolve(declared: &BTreeMap<String, Variable>, providers: &Providers) -> Result<Self> {
        for name in providers.cli.keys() {
            ensure!(declared.contains_key(name), "--variable {name}: no such variable in the manifest's [variables]");
        }
        let mut values = HashMap::new();
        let mut missing = Vec::new();
        for (name, variable) in declared {
            let env_key = env_var_name(name);
            let value = providers
                .cli
                .get(name)
                .cloned()
                .or_else(|| (providers.env)(&env_key))
                .or_else(|| providers.dotenv.get(&env_key).cloned())
                .or_else(|| variable.default.clone());
            match value {
                Some(value) => {
                    values.insert(name.clone(), value);
                }
                None => missing.push(format!("  {name}: set {env_key}=… (or pass --variable {name}=…)")),
            }
        }
        ensure!(missing.is_empty(), "required variable(s) have no value:\n{}", missing.join("\n"));
        Ok(Self { values })
    }

    /// The `[component.X.variables]` a guest may `get`, rendered from their templates.
    pub fn for_component(&self, component: &Component) -> Result<HashMap<String, String>> {
        component.variables.iter().map(|(name, template)| Ok((name.clone(), template.render(self)?))).collect()
    }

    /// Renders a template that may contain expressions (e.g. an allowed_outbound_hosts entry).
    pub fn render(&self, text: &str) -> Result<String> {
        Template::parse(text)?.render(self)
    }
}

/// Reads `KEY=value` pairs from a dotenv file; a missing file is empty (as Spin treats it).
pub fn load_dotenv(path: &Path) -> Result<HashMap<String, String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_dotenv(&text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(error) => bail!("cannot read {}: {error}", path.display()),
    }
}

/// The common dotenv subset: `#` comments, optional `export `, optional matching quotes.
fn parse_dotenv(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let unquoted = [('"', '"'), ('\'', '\'')]
                .iter()
                .find_map(|(open, close)| value.strip_prefix(*open)?.strip_suffix(*close))
                .unwrap_or(value);
            Some((key.trim().to_owned(), unquoted.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> BTreeMap<String, Variable> {
        BTreeMap::from([
            ("neon_url".to_owned(), Variable { default: None, secret: false }),
            ("webhook_key_next".to_owned(), Variable { default: Some(String::new()), secret: true }),
            ("region".to_owned(), Variable { default: Some("eu".to_owned()), secret: false }),
        ])
    }

    fn resolve(cli: &[(&str, &str)], env: &[(&str, &str)], dotenv: &[(&str, &str)]) -> Result<AppVariables> {
        let cli: BTreeMap<String, String> = cli.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let env: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let dotenv: HashMap<String, String> = dotenv.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let lookup = move |key: &str| env.get(key).cloned();
        AppVariables::resolve(&declared(), &Providers { cli: &cli, env: &lookup, dotenv: &dotenv })
    }

    #[test]
    fn template_splits_literals_and_expressions() {
        let template = Template::parse("a-{{ expr }}-b{{x}}").unwrap();
        assert_eq!(
            template.parts,
            vec![Part::Lit("a-".into()), Part::Expr("expr".into()), Part::Lit("-b".into()), Part::Expr("x".into())]
        );
        assert!(!template.is_literal());
        assert!(Template::parse("https://x.neon.tech").unwrap().is_literal());
        assert!(Template::parse("{{ ok }} {{ unmatched").is_err());
    }

    #[test]
    fn spin_variable_env_overrides_default() {
        let values =
            resolve(&[], &[("SPIN_VARIABLE_NEON_URL", "http://n"), ("SPIN_VARIABLE_REGION", "us")], &[]).unwrap();
        assert_eq!(values.render("{{ region }}").unwrap(), "us");
        assert_eq!(values.render("{{ webhook_key_next }}").unwrap(), "");
    }

    #[test]
    fn cli_beats_env_beats_dotenv_beats_default() {
        let values = resolve(
            &[("region", "cli")],
            &[("SPIN_VARIABLE_NEON_URL", "env"), ("SPIN_VARIABLE_REGION", "env")],
            &[("SPIN_VARIABLE_NEON_URL", "dotenv"), ("SPIN_VARIABLE_WEBHOOK_KEY_NEXT", "dotenv")],
        )
        .unwrap();
        assert_eq!(values.render("{{ region }}").unwrap(), "cli");
        assert_eq!(values.render("{{ neon_url }}").unwrap(), "env");
        assert_eq!(values.render("{{ webhook_key_next }}").unwrap(), "dotenv");
    }

    #[test]
    fn missing_required_variable_names_the_env_var() {
        let error = resolve(&[], &[], &[]).unwrap_err().to_string();
        assert!(error.contains("neon_url"), "{error}");
        assert!(error.contains("SPIN_VARIABLE_NEON_URL"), "{error}");
    }

    #[test]
    fn unknown_cli_variable_is_an_error() {
        assert!(resolve(&[("nope", "x")], &[("SPIN_VARIABLE_NEON_URL", "n")], &[]).is_err());
    }

    #[test]
    fn component_templates_mix_literals_and_variables() {
        let values = resolve(&[], &[("SPIN_VARIABLE_NEON_URL", "http://127.0.0.1:4444")], &[]).unwrap();
        let component = Component {
            source: "x.wasm".into(),
            environment: Vec::new(),
            allowed_outbound_hosts: Vec::new(),
            variables: BTreeMap::from([
                ("neon_url".to_owned(), Template::parse("{{ neon_url }}/sql").unwrap()),
                ("plain".to_owned(), Template::parse("literal").unwrap()),
            ]),
        };
        let resolved = values.for_component(&component).unwrap();
        assert_eq!(resolved["neon_url"], "http://127.0.0.1:4444/sql");
        assert_eq!(resolved["plain"], "literal");
    }

    #[test]
    fn names_follow_spins_key_rules() {
        for good in ["a", "abc", "a1b2c3", "a_1", "neon_connection_string"] {
            validate_name(good).unwrap();
        }
        for bad in ["", "aX", "1bc", "_x", "x.y", "x_", "a__b", "x-y"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert_eq!(env_var_name("neon_url"), "SPIN_VARIABLE_NEON_URL");
    }

    #[test]
    fn dotenv_lines_are_parsed() {
        let parsed = parse_dotenv("# c\nexport A=1\nB = \"two\"\nC='3'\n\nnot a pair\n");
        assert_eq!(parsed["A"], "1");
        assert_eq!(parsed["B"], "two");
        assert_eq!(parsed["C"], "3");
        assert_eq!(parsed.len(), 3);
    }
}
