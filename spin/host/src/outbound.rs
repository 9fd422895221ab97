//! `allowed_outbound_hosts`, parsed and matched the way Spin's outbound-networking config does,
//! and the wasi:http hook that refuses every other destination with `HttpRequestDenied`.

use std::net::IpAddr;
use std::sync::Arc;

use anyhow::{Context as _, Result, bail, ensure};
use http_body_util::BodyExt;
use url::Host;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use crate::variables::{AppVariables, Template};

/// A component's allowed destinations; empty means no outbound HTTP at all (Spin's default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    hosts: Vec<AllowedHost>,
}

/// One `<scheme>://<host>[:<port>]` entry, `*` allowed in each part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.neon.tech` stored as `.neon.tech`.
    AnySubdomain(String),
    /// `self`: relative requests back to this app, which local-spin does not route.
    ToSelf,
    Literal(Host),
    Cidr {
        network: IpAddr,
        prefix: u8,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Port(u16),
    /// `8000..9000`: end exclusive, as Spin parses it.
    Range(u16, u16),
}

impl AllowedHosts {
    /// Parses the manifest entries, rendering `{{ var }}` templates with the app's variables.
    /// A template that renders empty (or to a bare scheme) is skipped: an optional endpoint.
    pub fn parse(entries: &[String], variables: &AppVariables) -> Result<Self> {
        if let [only] = entries
            && only == "insecure:allow-all"
        {
            bail!("'insecure:allow-all' is not allowed - use '*://*:*' to allow all outbound traffic");
        }
        let mut hosts = Vec::new();
        for entry in entries {
            if Template::parse(entry)?.is_literal() {
                hosts.push(AllowedHost::parse(entry)?);
                continue;
            }
            let rendered = variables.render(entry)?;
            if rendered.is_empty() || rendered == "http://" || rendered == "https://" {
                continue;
            }
            let host = AllowedHost::parse(&rendered).with_context(|| format!("{entry:?} resolved to {rendered:?}"))?;
            hosts.push(host);
        }
        Ok(Self { hosts })
    }

    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let Ok(host) = Host::parse(host) else {
            return false;
        };
        self.hosts.iter().any(|allowed| allowed.allows(scheme, &host, port))
    }

    /// Checks an absolute request URI; relative URIs are refused (no `self` routing here).
    pub fn allows_uri(&self, uri: &http::Uri) -> bool {
        match (uri.scheme_str(), uri.host()) {
            (Some(scheme), Some(host)) => self.allows(scheme, host, uri.port_u16()),
            _ => false,
        }
    }
}

impl AllowedHost {
    pub fn parse(entry: &str) -> Result<Self> {
        let url = entry.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            bail!(
                "{url:?} does not contain a scheme (e.g., 'http://' or '*://'); \
                 hosts must be in the form <scheme>://<host>[:<port>]"
            );
        };
        let (host, port) = match rest.rsplit_once(':') {
            None => (rest, ""),
            Some((host, "")) => (host, ""),
            // An IPv6 literal or network without a port also contains ':'.
            Some(_) if HostPattern::parse(rest).is_ok() => (rest, ""),
            Some((host, tail)) => match tail.split_once('/') {
                Some((_, path)) if !path.is_empty() => {
                    bail!("{url:?} has a path but is not allowed to")
                }
                Some((port, _)) => (host, port),
                None => (host, tail),
            },
        };
        let port = PortPattern::parse(port, scheme).with_context(|| format!("Invalid allowed host port {port:?}"))?;
        let scheme = parse_scheme(scheme).with_context(|| format!("Invalid allowed host scheme {scheme:?}"))?;
        let host = HostPattern::parse(host).with_context(|| format!("Invalid allowed host {host:?}"))?;
        Ok(Self { scheme, host, port })
    }

    fn allows(&self, scheme: &str, host: &Host, port: Option<u16>) -> bool {
        self.scheme.as_deref().is_none_or(|allowed| allowed == scheme)
            && self.host.allows(host)
            && self.port.allows(port, scheme)
    }
}

/// `*` → any scheme (`None`); otherwise one alphabetic scheme.
fn parse_scheme(scheme: &str) -> Result<Option<String>> {
    if scheme == "*" {
        return Ok(None);
    }
    ensure!(!scheme.starts_with('{'), "scheme lists are not supported");
    ensure!(!scheme.is_empty() && scheme.chars().all(char::is_alphabetic), "only alphabetic characters are allowed");
    Ok(Some(scheme.to_owned()))
}

impl HostPattern {
    fn parse(host: &str) -> Result<Self> {
        let host = host.trim();
        match host {
            "*" => return Ok(Self::Any),
            "self" | "self.alt" => return Ok(Self::ToSelf),
            _ => {}
        }
        ensure!(!host.starts_with('{'), "host lists are not yet supported");
        if let Some(cidr) = parse_cidr(host) {
            return Ok(cidr);
        }
        let host = host.strip_suffix('/').unwrap_or(host);
        ensure!(!host.contains('/'), "must not include a path");
        if let Some(domain) = host.strip_prefix("*.") {
            ensure!(!domain.contains('*'), "wildcards are allowed only as prefixes");
            let Host::Domain(domain) =
                Host::parse(domain).with_context(|| format!("invalid wildcard host \"*.{domain}\""))?
            else {
                bail!("wildcard suffix must be a domain");
            };
            return Ok(Self::AnySubdomain(format!(".{domain}")));
        }
        ensure!(!host.contains('*'), "wildcards are allowed only as subdomains");
        Ok(Self::Literal(Host::parse(host)?))
    }

    fn allows(&self, host: &Host) -> bool {
        match (self, host) {
            (Self::Any, _) => true,
            (Self::AnySubdomain(suffix), Host::Domain(domain)) => domain.ends_with(suffix.as_str()),
            (Self::Literal(literal), host) => literal == host,
            (Self::Cidr { network, prefix }, Host::Ipv4(ip)) => in_network(*network, *prefix, IpAddr::V4(*ip)),
            (Self::Cidr { network, prefix }, Host::Ipv6(ip)) => in_network(*network, *prefix, IpAddr::V6(*ip)),
            _ => false,
        }
    }
}

/// `10.0.0.0/8`, `127.0.0.1/24`, `ff00::/8`: host bits are truncated, as ip_network does.
fn parse_cidr(text: &str) -> Option<HostPattern> {
    let (ip, prefix) = text.split_once('/')?;
    let network: IpAddr = ip.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    let max = if network.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some(HostPattern::Cidr { network, prefix })
}

fn in_network(network: IpAddr, prefix: u8, ip: IpAddr) -> bool {
    match (network, ip) {
        (IpAddr::V4(net), IpAddr::V4(ip)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(net) & mask == u32::from(ip) & mask
        }
        (IpAddr::V6(net), IpAddr::V6(ip)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(net) & mask == u128::from(ip) & mask
        }
        _ => false,
    }
}

impl PortPattern {
    fn parse(port: &str, scheme: &str) -> Result<Self> {
        if port.is_empty() {
            return well_known_port(scheme).map(Self::Port).with_context(|| {
                format!("no port was provided and the scheme {scheme:?} does not have a known default port number")
            });
        }
        if port == "*" {
            return Ok(Self::Any);
        }
        ensure!(!port.starts_with('{'), "port lists are not yet supported");
        if let Some((start, end)) = port.split_once("..") {
            let start = start.parse().with_context(|| format!("port range {port:?} contains non-number"))?;
            let end = end.parse().with_context(|| format!("port range {port:?} contains non-number"))?;
            return Ok(Self::Range(start, end));
        }
        Ok(Self::Port(port.parse().with_context(|| format!("port {port:?} is not a number"))?))
    }

    fn allows(&self, port: Option<u16>, scheme: &str) -> bool {
        let Some(port) = port.or_else(|| well_known_port(scheme)) else {
            return matches!(self, Self::Any);
        };
        match self {
            Self::Any => true,
            Self::Port(allowed) => *allowed == port,
            Self::Range(start, end) => (*start..*end).contains(&port),
        }
    }
}

fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// The per-store wasi:http hooks: every outgoing request passes the component's allow list first.
pub struct OutboundHooks {
    pub component: Arc<str>,
    pub allowed: Arc<AllowedHosts>,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_result: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        if !self.allowed.allows_uri(request.uri()) {
            eprintln!(
                "local-spin: {}: outbound request to {} denied: not in allowed_outbound_hosts",
                self.component,
                request.uri()
            );
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::collections::HashMap;

    use super::*;
    use crate::manifest::Variable;
    use crate::variables::Providers;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        let entries: Vec<String> = entries.iter().map(|e| (*e).to_owned()).collect();
        AllowedHosts::parse(&entries, &AppVariables::default()).unwrap()
    }

    fn allows(hosts: &AllowedHosts, url: &str) -> bool {
        hosts.allows_uri(&url.parse::<http::Uri>().unwrap())
    }

    #[test]
    fn exact_scheme_host_and_port() {
        let allowed = hosts(&["http://127.0.0.1:4444"]);
        assert!(allows(&allowed, "http://127.0.0.1:4444/sql"));
        assert!(!allows(&allowed, "http://127.0.0.1:4445/sql"));
        assert!(!allows(&allowed, "https://127.0.0.1:4444/sql"));
        assert!(!allows(&allowed, "http://localhost:4444/sql"));
        assert!(!allows(&allowed, "http://127.0.0.1/sql"));
    }

    #[test]
    fn missing_port_means_the_schemes_default() {
        let allowed = hosts(&["https://api.example.com"]);
        assert!(allows(&allowed, "https://api.example.com/x"));
        assert!(allows(&allowed, "https://api.example.com:443/x"));
        assert!(!allows(&allowed, "https://api.example.com:8443/x"));
        assert!(!allows(&allowed, "http://api.example.com/x"));
    }

    #[test]
    fn subdomain_wildcard_matches_subdomains_only() {
        let allowed = hosts(&["https://*.neon.tech"]);
        assert!(allows(&allowed, "https://ep-1.eu-central-1.aws.neon.tech/sql"));
        assert!(allows(&allowed, "https://API.Neon.Tech/sql"));
        assert!(!allows(&allowed, "https://neon.tech/sql"));
        assert!(!allows(&allowed, "https://evilneon.tech/sql"));
    }

    #[test]
    fn any_scheme_and_any_port() {
        let allowed = hosts(&["*://localhost:*"]);
        assert!(allows(&allowed, "http://localhost:1234/"));
        assert!(allows(&allowed, "https://localhost/"));
        assert!(!allows(&allowed, "http://127.0.0.1:1234/"));
    }

    #[test]
    fn port_ranges_and_cidr() {
        let allowed = hosts(&["http://10.0.0.0/8:8000..9000"]);
        assert!(allows(&allowed, "http://10.1.2.3:8000/"));
        assert!(!allows(&allowed, "http://10.1.2.3:9000/"));
        assert!(!allows(&allowed, "http://11.1.2.3:8000/"));
    }

    #[test]
    fn ipv6_literal_without_port() {
        let allowed = hosts(&["http://[::1]"]);
        assert!(allows(&allowed, "http://[::1]/x"));
        assert!(!allows(&allowed, "http://[::1]:81/x"));
    }

    #[test]
    fn empty_list_denies_everything_and_relative_urls_are_denied() {
        assert!(!allows(&hosts(&[]), "https://example.com/"));
        assert!(!hosts(&["*://*:*"]).allows_uri(&"/relative".parse().unwrap()));
        assert!(allows(&hosts(&["*://*:*"]), "https://example.com:9/"));
    }

    #[test]
    fn rejects_malformed_entries() {
        for bad in [
            "example.com",
            "*",
            "http://example.com:notaport",
            "http://example.com:8080/p",
            "http://*.example.com/p",
            "http://exa*mple.com",
            "http://*.127.0.0.1",
            "ftp://example.com",
        ] {
            assert!(AllowedHost::parse(bad).is_err(), "{bad}");
        }
        let entries = vec!["insecure:allow-all".to_owned()];
        assert!(AllowedHosts::parse(&entries, &AppVariables::default()).is_err());
    }

    #[test]
    fn templates_resolve_from_variables_and_empty_ones_are_skipped() {
        let declared = BTreeMap::from([
            ("neon_origin".to_owned(), Variable { default: None, secret: false }),
            ("optional".to_owned(), Variable { default: Some(String::new()), secret: false }),
        ]);
        let env = |key: &str| (key == "SPIN_VARIABLE_NEON_ORIGIN").then(|| "http://127.0.0.1:4444".to_owned());
        let cli = BTreeMap::new();
        let dotenv = HashMap::new();
        let variables = AppVariables::resolve(&declared, &Providers { cli: &cli, env: &env, dotenv: &dotenv }).unwrap();
        let entries = vec!["{{ neon_origin }}".to_owned(), "https://{{ optional }}".to_owned()];
        let allowed = AllowedHosts::parse(&entries, &variables).unwrap();
        assert!(allows(&allowed, "http://127.0.0.1:4444/sql"));
        assert!(!allows(&allowed, "https://example.com/"));
        assert_eq!(allowed.hosts.len(), 1);
    }
}
