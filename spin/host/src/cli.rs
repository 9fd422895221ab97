//! Command-line flags, named like `spin up`'s where they overlap.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

pub const USAGE: &str = "\
usage: local-spin [--manifest spin.toml] [--listen 127.0.0.1:3000] [--variable name=value]...

Runs the HTTP components of a Spin manifest (v2) on a local wasi:http host.

  -f, --manifest <path>       manifest to run (default: spin.toml)
      --listen <addr:port>    address to serve on (default: 127.0.0.1:3000; port 0 picks one)
      --variable <name=value> set an application variable (repeatable; beats SPIN_VARIABLE_<NAME>)
      --compile-cache <dir>   keep compiled components here, so an unchanged one starts without recompiling
  -h, --help                  print this help

Variables resolve as in Spin: --variable, then SPIN_VARIABLE_<NAME> from the environment,
then the same key in ./.env, then the manifest default.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub manifest: PathBuf,
    pub listen: SocketAddr,
    pub variables: BTreeMap<String, String>,
    pub compile_cache: Option<PathBuf>,
}

/// `None` means help was asked for.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>> {
    let mut parsed = Args {
        manifest: PathBuf::from("spin.toml"),
        listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
        variables: BTreeMap::new(),
        compile_cache: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String> {
            match inline.clone() {
                Some(value) => Ok(value),
                None => args.next().with_context(|| format!("{name} needs a value")),
            }
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "-f" | "--manifest" => parsed.manifest = PathBuf::from(value(&flag)?),
            "--listen" => {
                let text = value(&flag)?;
                parsed.listen = text
                    .parse()
                    .with_context(|| format!("--listen {text:?}: expected ip:port, e.g. 127.0.0.1:3000"))?;
            }
            "--variable" => {
                let text = value(&flag)?;
                let Some((name, val)) = text.split_once('=') else {
                    bail!("--variable {text:?}: expected name=value");
                };
                parsed.variables.insert(name.to_owned(), val.to_owned());
            }
            "--compile-cache" => parsed.compile_cache = Some(PathBuf::from(value(&flag)?)),
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    Ok(Some(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Option<Args>> {
        parse(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn defaults_match_spin_up() {
        let args = parse_args(&[]).unwrap().unwrap();
        assert_eq!(args.manifest, PathBuf::from("spin.toml"));
        assert_eq!(args.listen.to_string(), "127.0.0.1:3000");
    }

    #[test]
    fn flags_take_separate_or_inline_values() {
        let args =
            parse_args(&["--manifest", "app/spin.toml", "--listen=127.0.0.1:0", "--variable", "neon_url=http://x?a=b"])
                .unwrap()
                .unwrap();
        assert_eq!(args.manifest, PathBuf::from("app/spin.toml"));
        assert_eq!(args.listen.port(), 0);
        assert_eq!(args.variables["neon_url"], "http://x?a=b");
        assert_eq!(args.compile_cache, None);
        let cached = parse_args(&["--compile-cache", "target/cache"]).unwrap().unwrap();
        assert_eq!(cached.compile_cache, Some(PathBuf::from("target/cache")));
    }

    #[test]
    fn bad_input_is_an_error_and_help_is_none() {
        assert!(parse_args(&["--listen", "nope"]).is_err());
        assert!(parse_args(&["--bogus"]).is_err());
        assert!(parse_args(&["--variable"]).is_err());
        assert_eq!(parse_args(&["--help"]).unwrap(), None);
    }
}
