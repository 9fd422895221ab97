//! Route matching as Spin's HTTP trigger does it (crates/routes over routefinder): exact routes beat
//! wildcards, the longest `/...` prefix wins, comparison is per path segment with leading and
//! trailing slashes ignored, and a later duplicate of the same route replaces an earlier one.

use anyhow::{Result, bail};

use crate::manifest::HttpRoute;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Router {
    routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    component: String,
    /// The route as written in the manifest (`/orders/...`).
    raw: String,
    /// The route with the application base prefixed, trailing slash removed (Spin's "based route").
    based: String,
    /// Path segments of the route without the wildcard marker.
    segments: Vec<String>,
    wildcard: bool,
}

/// What a request matched, with everything the `spin-*` request headers need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'r> {
    pub component: &'r str,
    pub based_route: &'r str,
    pub raw_route: &'r str,
    /// The path below a wildcard route (`/foo/...` + `/foo/bar` → `/bar`); empty for exact routes.
    pub path_info: String,
}

impl RouteMatch<'_> {
    /// The raw route without its wildcard suffix: Spin's `spin-component-route`.
    pub fn raw_route_or_prefix(&self) -> &str {
        self.raw_route.strip_suffix("/...").unwrap_or(self.raw_route)
    }
}

impl Router {
    pub fn build(base: &str, routes: &[HttpRoute]) -> Result<Self> {
        let mut built: Vec<Route> = Vec::new();
        for route in routes {
            let based = format!("{}{}", sanitize(base), sanitize(&absolutize(&route.route)));
            let (prefix, wildcard) = match based.strip_suffix("/...") {
                Some(prefix) => (prefix, true),
                None => match based.strip_suffix("/*") {
                    Some(prefix) => (prefix, true),
                    None => (based.as_str(), false),
                },
            };
            let segments = split_segments(prefix);
            if let Some(bad) = segments.iter().find(|s| s.starts_with(':') || s.contains('*')) {
                bail!(
                    "route {:?} (component {:?}): segment {bad:?} is not supported by local-spin \
                     (only exact routes and a trailing `/...`)",
                    route.route,
                    route.component
                );
            }
            let entry = Route {
                component: route.component.clone(),
                raw: route.route.clone(),
                based: based.clone(),
                segments,
                wildcard,
            };
            // Spin keeps the last of two identical routes, in the position of the first.
            match built.iter_mut().find(|existing| existing.raw == entry.raw) {
                Some(existing) => *existing = entry,
                None => built.push(entry),
            }
        }
        Ok(Self { routes: built })
    }

    /// The best route for a request path (no query): an exact match, else the longest wildcard.
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_>> {
        let path_segments = split_segments(path);
        let exact = self.routes.iter().find(|route| !route.wildcard && route.segments == path_segments);
        let best = exact.or_else(|| {
            self.routes
                .iter()
                .filter(|route| route.wildcard && path_segments.starts_with(&route.segments))
                .max_by_key(|route| route.segments.len())
        })?;
        let path_info = if best.wildcard {
            trailing_wildcard(&path_segments[best.segments.len()..], path.ends_with('/'))
        } else {
            String::new()
        };
        Some(RouteMatch { component: &best.component, based_route: &best.based, raw_route: &best.raw, path_info })
    }

    /// `(display route, component)` for the startup listing, in manifest order.
    pub fn describe(&self) -> impl Iterator<Item = (String, &str)> {
        self.routes.iter().map(|route| {
            let path = format!("/{}", route.segments.join("/"));
            let shown = if route.wildcard { format!("{path} (wildcard)") } else { path };
            (shown, route.component.as_str())
        })
    }
}

/// Spin's compatibility rule: a trailing slash on the request is kept in the path info.
fn trailing_wildcard(rest: &[String], trailing_slash: bool) -> String {
    match (rest.is_empty(), trailing_slash) {
        (true, false) => String::new(),
        (true, true) => "/".to_owned(),
        (false, false) => format!("/{}", rest.join("/")),
        (false, true) => format!("/{}/", rest.join("/")),
    }
}

fn split_segments(path: &str) -> Vec<String> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    if trimmed.is_empty() { Vec::new() } else { trimmed.split('/').map(str::to_owned).collect() }
}

fn absolutize(route: &str) -> String {
    if route.starts_with('/') { route.to_owned() } else { format!("/{route}") }
}

/// Strips one trailing slash, as Spin does for the base and each route.
pub fn sanitize(path: &str) -> String {
    path.strip_suffix('/').unwrap_or(path).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let routes: Vec<HttpRoute> = routes
            .iter()
            .map(|(route, component)| HttpRoute { route: (*route).to_owned(), component: (*component).to_owned() })
            .collect();
        Router::build("", &routes).unwrap()
    }

    fn component(router: &Router, path: &str) -> Option<String> {
        router.route(path).map(|m| m.component.to_owned())
    }

    #[test]
    fn exact_routes_match_whole_paths_only() {
        let r = router(&[("/foo", "foo"), ("/foo/bar", "foobar")]);
        assert_eq!(component(&r, "/foo").as_deref(), Some("foo"));
        assert_eq!(component(&r, "/foo/").as_deref(), Some("foo"));
        assert_eq!(component(&r, "/foo/bar").as_deref(), Some("foobar"));
        assert_eq!(component(&r, "/foo/baz"), None);
        assert_eq!(component(&r, "/foobar"), None);
    }

    #[test]
    fn longest_wildcard_prefix_wins_regardless_of_order() {
        let r = router(&[("/one/two/three/...", "three"), ("/one/...", "one"), ("/one/two/...", "two")]);
        assert_eq!(component(&r, "/one/two/three/four").as_deref(), Some("three"));
        assert_eq!(component(&r, "/one/two/x").as_deref(), Some("two"));
        assert_eq!(component(&r, "/one").as_deref(), Some("one"));
        assert_eq!(component(&r, "/onex"), None);
    }

    #[test]
    fn exact_beats_wildcard_and_root_wildcard_catches_all() {
        let r = router(&[("/...", "all"), ("/one", "exact")]);
        assert_eq!(component(&r, "/one").as_deref(), Some("exact"));
        assert_eq!(component(&r, "/").as_deref(), Some("all"));
        assert_eq!(component(&r, "/a/b/c").as_deref(), Some("all"));
    }

    #[test]
    fn path_info_keeps_spins_trailing_slash_rules() {
        let r = router(&[("/orders/...", "orders")]);
        let info = |path: &str| r.route(path).unwrap().path_info;
        assert_eq!(info("/orders"), "");
        assert_eq!(info("/orders/"), "/");
        assert_eq!(info("/orders/health"), "/health");
        assert_eq!(info("/orders/a/b/"), "/a/b/");
    }

    #[test]
    fn match_reports_routes_for_spin_headers() {
        let r = router(&[("/orders/...", "orders")]);
        let m = r.route("/orders/health").unwrap();
        assert_eq!(m.based_route, "/orders/...");
        assert_eq!(m.raw_route, "/orders/...");
        assert_eq!(m.raw_route_or_prefix(), "/orders");
    }

    #[test]
    fn base_prefixes_every_route() {
        let routes = vec![HttpRoute { route: "/orders/...".into(), component: "orders".into() }];
        let r = Router::build("/api", &routes).unwrap();
        assert_eq!(r.route("/api/orders/x").unwrap().based_route, "/api/orders/...");
        assert!(r.route("/orders/x").is_none());
    }

    #[test]
    fn later_duplicate_route_replaces_earlier() {
        let r = router(&[("/foo", "first"), ("/foo", "second")]);
        assert_eq!(component(&r, "/foo").as_deref(), Some("second"));
        assert_eq!(r.describe().count(), 1);
    }

    #[test]
    fn named_segments_are_refused_not_misrouted() {
        let routes = vec![HttpRoute { route: "/users/:id".into(), component: "users".into() }];
        assert!(Router::build("", &routes).is_err());
    }
}
