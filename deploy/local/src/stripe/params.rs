//! Request parameters as Stripe reads them: form pairs whose names nest with brackets
//! (`metadata[k]`, `card[number]`, `enabled_events[0]` or `enabled_events[]`). Each endpoint names
//! the parameters it knows first ([`Params::only`]), so a typo is `parameter_unknown` before
//! anything else is looked at, then takes typed values out with Stripe's error for a bad one.

use std::collections::BTreeMap;

use super::error::ApiError;

/// One `name=value` pair, its name split into segments (`card[number]` → `card`, `number`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pair {
    name: String,
    segments: Vec<String>,
    value: String,
}

/// The decoded parameters of one request, in arrival order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<Pair>,
}

/// A pattern for a known parameter: literal segments, `*` for any one segment
/// (`metadata[*]`, `capabilities[*][requested]`, `enabled_events[*]`).
pub type Known<'a> = &'a [&'a str];

impl Params {
    /// Decodes `application/x-www-form-urlencoded` (a body or a query string).
    pub fn parse(form: &[u8]) -> Self {
        let pairs = url::form_urlencoded::parse(form)
            .map(|(name, value)| Pair { segments: segments(&name), name: name.into_owned(), value: value.into_owned() })
            .collect();
        Self { pairs }
    }

    /// The canonical form idempotency compares: pairs sorted by name.
    pub fn canonical(&self) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = self.pairs.iter().map(|p| (p.name.clone(), p.value.clone())).collect();
        pairs.sort();
        pairs
    }

    /// `parameter_unknown` for the first parameter no pattern in `known` matches.
    pub fn only(&self, known: &[Known<'_>]) -> Result<(), ApiError> {
        let unknown = self.pairs.iter().find(|pair| {
            !known.iter().any(|pattern| {
                pattern.len() == pair.segments.len()
                    && pattern.iter().zip(&pair.segments).all(|(want, got)| *want == "*" || want == got)
            })
        });
        match unknown {
            Some(pair) => Err(ApiError::unknown_parameter(&pair.name)),
            None => Ok(()),
        }
    }

    /// The last value of a plain parameter or nested path; empty values count as absent, as
    /// Stripe treats `param=` as "unset".
    pub fn get(&self, path: &[&str]) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|pair| pair.segments.iter().map(String::as_str).eq(path.iter().copied()))
            .map(|pair| pair.value.as_str())
            .filter(|value| !value.is_empty())
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.get(&[name]).map(str::to_owned)
    }

    pub fn required(&self, name: &str) -> Result<String, ApiError> {
        self.string(name).ok_or_else(|| ApiError::missing_parameter(name))
    }

    pub fn integer(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(&[name]).map(|text| text.parse::<i64>().map_err(|_| ApiError::invalid_integer(name, text))).transpose()
    }

    pub fn required_integer(&self, name: &str) -> Result<i64, ApiError> {
        self.integer(name)?.ok_or_else(|| ApiError::missing_parameter(name))
    }

    /// `true`/`false` as Stripe's libraries send them.
    pub fn boolean(&self, path: &[&str]) -> Result<Option<bool>, ApiError> {
        match self.get(path) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid_boolean(&display_name(path), other)),
        }
    }

    /// One of `allowed`, or Stripe's "Invalid x: must be one of …".
    pub fn one_of(&self, name: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        match self.get(&[name]) {
            None => Ok(None),
            Some(value) if allowed.contains(&value) => Ok(Some(value.to_owned())),
            Some(_) => Err(ApiError::invalid_enum(name, allowed)),
        }
    }

    /// `prefix[key]=value` pairs; an empty value removes the key (Stripe's "unset").
    pub fn map(&self, prefix: &str) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for pair in self.pairs.iter().filter(|pair| pair.segments.len() == 2 && pair.segments[0] == prefix) {
            if pair.value.is_empty() {
                map.remove(&pair.segments[1]);
            } else {
                map.insert(pair.segments[1].clone(), pair.value.clone());
            }
        }
        map
    }

    /// Array values, `prefix[0]`…`prefix[n]` in index order or `prefix[]` in arrival order.
    pub fn list(&self, prefix: &str) -> Vec<String> {
        let mut items: Vec<(Option<usize>, usize, &str)> = self
            .pairs
            .iter()
            .enumerate()
            .filter(|(_, pair)| pair.segments.len() == 2 && pair.segments[0] == prefix)
            .map(|(arrival, pair)| (pair.segments[1].parse::<usize>().ok(), arrival, pair.value.as_str()))
            .collect();
        items.sort_by_key(|(index, arrival, _)| (*index, *arrival));
        items.into_iter().map(|(_, _, value)| value.to_owned()).collect()
    }
}

/// `a[b][c]` → `a`, `b`, `c`. A name whose brackets do not close is one opaque segment, so it
/// can only ever be unknown.
fn segments(name: &str) -> Vec<String> {
    let Some(open) = name.find('[') else { return vec![name.to_owned()] };
    let mut segments = vec![name[..open].to_owned()];
    let mut rest = &name[open..];
    while let Some(inner) = rest.strip_prefix('[') {
        let Some(close) = inner.find(']') else { return vec![name.to_owned()] };
        segments.push(inner[..close].to_owned());
        rest = &inner[close + 1..];
    }
    if rest.is_empty() { segments } else { vec![name.to_owned()] }
}

fn display_name(path: &[&str]) -> String {
    let mut name = path.first().map(|first| (*first).to_owned()).unwrap_or_default();
    for segment in path.iter().skip(1) {
        name.push('[');
        name.push_str(segment);
        name.push(']');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_nest_whether_escaped_or_literal() {
        let params =
            Params::parse(b"metadata%5Border%5D=o_1&card[number]=4242&capabilities[transfers][requested]=true");
        assert_eq!(params.map("metadata").get("order").map(String::as_str), Some("o_1"));
        assert_eq!(params.get(&["card", "number"]), Some("4242"));
        assert_eq!(params.boolean(&["capabilities", "transfers", "requested"]), Ok(Some(true)));
        assert_eq!(segments("a[b"), ["a[b"]);
        assert_eq!(segments("a[b]c"), ["a[b]c"]);
        assert_eq!(segments("a[]"), ["a", ""]);
    }

    #[test]
    fn unknown_parameters_are_named_exactly_as_sent() {
        let params = Params::parse(b"amount=1&metadata[x]=y&card[nmber]=1");
        assert!(params.only(&[&["amount"], &["metadata", "*"], &["card", "number"]]).is_err());
        let error = params.only(&[&["amount"], &["metadata", "*"], &["card", "number"]]).unwrap_err();
        assert_eq!(error.param.as_deref(), Some("card[nmber]"));
        assert!(Params::parse(b"amount=1&metadata[x]=y").only(&[&["amount"], &["metadata", "*"]]).is_ok());
    }

    #[test]
    fn lists_take_indexed_or_empty_brackets_and_maps_unset_empty_values() {
        let indexed = Params::parse(b"e[1]=b&e[0]=a");
        assert_eq!(indexed.list("e"), ["a", "b"]);
        let pushed = Params::parse(b"e[]=x&e[]=y");
        assert_eq!(pushed.list("e"), ["x", "y"]);
        let map = Params::parse(b"metadata[a]=1&metadata[b]=2&metadata[a]=").map("metadata");
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn typed_values_fail_the_way_stripe_says() {
        let params = Params::parse(b"amount=12a&confirm=yes&capture_method=later&empty=");
        assert_eq!(params.integer("amount").unwrap_err().message, "Invalid integer: 12a");
        assert_eq!(params.boolean(&["confirm"]).unwrap_err().message, "Invalid boolean: yes");
        assert_eq!(
            params.one_of("capture_method", &["automatic", "automatic_async", "manual"]).unwrap_err().message,
            "Invalid capture_method: must be one of automatic, automatic_async, or manual"
        );
        assert_eq!(params.required("empty").unwrap_err().message, "Missing required param: empty.");
        assert_eq!(params.required_integer("nothing").unwrap_err().code.as_deref(), Some("parameter_missing"));
    }
}
