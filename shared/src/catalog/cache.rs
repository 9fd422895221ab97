//! Caching of the public catalog reads (DESIGN §3, §10): the Workers Cache API first, Upstash
//! second, Neon last, with tag-based invalidation so a vendor's change is visible on the next read
//! of every list and page that showed the product.
//!
//! Upstash keeps, under `catalog:cache:v1:`
//! - `body:{key}`: a response body, for `STORE_TTL_SECS`;
//! - `tag:{tag}`: the set of cache keys whose response carries the tag (edge copies included);
//! - `version:{tag}`: a counter bumped by every invalidation of the tag.
//!
//! A fill reads the versions of its route's tags before reading Neon and stores only if none moved
//! (`STORE_SCRIPT`), so an answer read before a write can never be stored after that write's
//! invalidation. The protocol's remaining window (an invalidation between the store and the edge
//! put) is closed by the Worker re-reading the versions after the put. The Workers run this
//! protocol through one implementation, `worker_platform::tag_cache` (the catalog's reads and the
//! storefront's pages).
//!
//! Contract for writers: a change that can alter what any list shows (title, price, stock, status,
//! a new product) invalidates `product_change(id)`, i.e. the product's tag and `listings`.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::LazyLock;

use super::ids::ProductId;
use super::list_query::{LIST_PARAMS, SUGGEST_PARAMS};
use super::slug::Slug;
use crate::transport::HttpTransport;
use crate::upstash::{Command, RedisValue, Script, UpstashClient, UpstashError};

/// Edge copies live a minute: the Cache API is per data centre, so an invalidation reaches only the
/// colo it runs in, and elsewhere this bounds how long a changed product can still show.
pub const EDGE_TTL_SECS: u32 = 60;
/// Upstash bodies live five minutes: tag invalidation purges them precisely, so the TTL only bounds
/// memory (the free tier has 256 MB) and the damage of an invalidation that failed.
pub const STORE_TTL_SECS: u32 = 300;
/// A tag's member set outlives every body that joined it by one edge TTL, so an edge copy made
/// from a stored body (a hit in Upstash) is still listed when the tag is invalidated.
pub const TAG_SET_TTL_SECS: u32 = STORE_TTL_SECS + EDGE_TTL_SECS;
/// Version counters are refreshed by every store and invalidation; a week without either means no
/// fill can still hold a version read from it (every key needs a TTL, DESIGN §3).
pub const VERSION_TTL_SECS: u32 = 7 * 24 * 60 * 60;

/// Bump to orphan every entry at once when the shape of a cached response changes.
const PREFIX: &str = "catalog:cache:v1:";
const BODY: &str = "body:";

/// The edge cache's URLs use one fixed origin, so a key names the same entry whichever host the
/// request came in on, and invalidation can rebuild it from the key alone.
pub const EDGE_ORIGIN: &str = "https://catalog-cache.internal";

/// `x-cache` on every cached route's response, so tests and the benchmark can tell the layers apart.
pub const X_CACHE: &str = "x-cache";

/// Which layer answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheLayer {
    Edge,
    Upstash,
    /// Neither: Neon answered.
    Miss,
}

impl CacheLayer {
    pub fn header_value(self) -> &'static str {
        match self {
            CacheLayer::Edge => "hit-edge",
            CacheLayer::Upstash => "hit-upstash",
            CacheLayer::Miss => "miss",
        }
    }
}

/// What invalidation targets: the views a change can make stale.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tag {
    /// Every list, search and suggestion response.
    Listings,
    /// The category tree.
    Categories,
    /// The product's detail page and every list, search or suggestion that showed it.
    Product(ProductId),
}

impl Tag {
    /// What a change to a product invalidates: its own views, and every list (the change may move
    /// it into or out of one, by price, stock, status or text).
    pub fn product_change(id: &ProductId) -> [Tag; 2] {
        [Tag::Product(id.clone()), Tag::Listings]
    }

    fn version_key(&self) -> String {
        format!("{PREFIX}version:{self}")
    }

    fn set_key(&self) -> String {
        format!("{PREFIX}tag:{self}")
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tag::Listings => f.write_str("listings"),
            Tag::Categories => f.write_str("categories"),
            Tag::Product(id) => write!(f, "product:{id}"),
        }
    }
}

/// A cacheable public read: which path it is, which parameters matter and its tags known up front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachedRead {
    Products,
    Product(ProductId),
    Categories,
    Search,
    Suggest,
    /// A shop's public page data, by its slug.
    Vendor(Slug),
    /// A product by its readable address (product slugs are unique per shop only).
    VendorProduct {
        vendor: Slug,
        product: Slug,
    },
}

impl CachedRead {
    /// The normalised public URL: the path, and the route's own parameters, non-empty, sorted
    /// (a cursor is kept as sent). Unknown or empty parameters change nothing the parser sees, so
    /// they must not make a new entry (`?utm_source=…` would otherwise bypass the cache).
    pub fn key(&self, query: &str) -> CacheKey {
        let (path, known): (String, &[&str]) = match self {
            CachedRead::Products => ("/api/v1/products".into(), &LIST_PARAMS),
            CachedRead::Product(id) => (format!("/api/v1/products/{id}"), &[]),
            CachedRead::Categories => ("/api/v1/categories".into(), &[]),
            CachedRead::Search => ("/api/v1/search".into(), &LIST_PARAMS),
            CachedRead::Suggest => ("/api/v1/search/suggest".into(), &SUGGEST_PARAMS),
            CachedRead::Vendor(vendor) => (format!("/api/v1/vendors/{vendor}"), &[]),
            CachedRead::VendorProduct { vendor, product } => {
                (format!("/api/v1/vendors/{vendor}/products/{product}"), &[])
            }
        };
        let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
            .filter(|(name, value)| known.contains(&name.as_ref()) && !value.trim().is_empty())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        pairs.sort();
        if pairs.is_empty() {
            return CacheKey(path);
        }
        let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        CacheKey(format!("{path}?{query}"))
    }

    /// The tags whose versions a fill checks (read before Neon, compared when storing), so an
    /// answer read before a write is never kept after that write's invalidation.
    pub fn tags(&self) -> Vec<Tag> {
        match self {
            CachedRead::Products | CachedRead::Search | CachedRead::Suggest => vec![Tag::Listings],
            CachedRead::Product(id) => vec![Tag::Product(id.clone())],
            CachedRead::Categories => vec![Tag::Categories],
            // Which product a slug names is only known once read, and any product write can change
            // that (a new product, a renamed slug): every product change bumps `listings`.
            CachedRead::VendorProduct { .. } => vec![Tag::Listings],
            // Shops are created (admin API) and never edited yet: nothing invalidates them, so
            // there is nothing to check; the TTLs bound a future edit until it brings its own tag.
            CachedRead::Vendor(_) => Vec::new(),
        }
    }

    /// The tags the stored answer is listed under before it is read (lists add the products they
    /// show once read). A product by slug is listed only under its product's tag (added by the
    /// handler), not under `listings`, so other products' changes do not purge it.
    pub fn member_tags(&self) -> Vec<Tag> {
        match self {
            CachedRead::VendorProduct { .. } => Vec::new(),
            other => other.tags(),
        }
    }
}

/// A normalised public URL without its origin (`/api/v1/products?limit=5&sort=newest`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(String);

impl CacheKey {
    /// A storefront page's key: its path and normalised query (`shared::storefront::page_key`).
    /// Pages live beside the API's answers, under the same tags, so the catalog's invalidation
    /// deletes their edge copies too; page paths never start with `/api/`, so they cannot collide.
    pub fn page(path_and_query: &str) -> Self {
        CacheKey(path_and_query.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL the Workers Cache API stores it under.
    pub fn edge_url(&self) -> String {
        format!("{EDGE_ORIGIN}{}", self.0)
    }

    fn body_key(&self) -> String {
        format!("{PREFIX}{BODY}{}", self.0)
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The version counters of some tags, in the order asked; an absent counter is 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions(Vec<i64>);

impl Versions {
    /// A counter only ever grows while it exists, so any difference means an invalidation ran.
    /// Counts that differ (a malformed reply) also count as moved: not caching is the safe side.
    pub fn moved_since(&self, earlier: &Versions) -> bool {
        self != earlier
    }

    fn from_replies(replies: &[RedisValue]) -> Result<Self, UpstashError> {
        replies
            .iter()
            .map(|reply| match reply {
                RedisValue::Nil => Ok(0),
                other => other.as_i64().ok_or_else(|| UpstashError::Decode(format!("a version is {other:?}"))),
            })
            .collect::<Result<_, _>>()
            .map(Versions)
    }
}

/// What the lookup found: a stored body, and the route's tag versions as they were before Neon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub body: Option<String>,
    pub versions: Versions,
}

/// KEYS[1] the body, KEYS[2..1+n] the version counters of the route's tags, KEYS[2+n..] the member
/// sets of every tag of the response. ARGV: the body, the member (the cache key), the body, set and
/// version TTLs, then the n versions seen before reading Neon. Stores nothing and answers 0 if any
/// of them moved: a writer invalidated while this answer was being read.
pub const STORE_SCRIPT: &str = r"
local seen = #ARGV - 5
for i = 1, seen do
  if tonumber(redis.call('GET', KEYS[1 + i]) or '0') ~= tonumber(ARGV[5 + i]) then
    return 0
  end
  redis.call('EXPIRE', KEYS[1 + i], ARGV[5])
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
for i = 2 + seen, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[2])
  redis.call('EXPIRE', KEYS[i], ARGV[4])
end
return 1
";

/// KEYS: per tag, its version counter then its member set. ARGV[1] the version TTL, ARGV[2] the
/// body key prefix. Bumps every version, deletes every member's body and the sets, and answers the
/// members, whose edge copies the caller then deletes. Members' body keys are not in KEYS: they
/// are only known inside the script, which is what makes the purge atomic (one Redis, no cluster).
pub const INVALIDATE_SCRIPT: &str = r"
local members, seen = {}, {}
for i = 1, #KEYS, 2 do
  redis.call('INCR', KEYS[i])
  redis.call('EXPIRE', KEYS[i], ARGV[1])
  for _, member in ipairs(redis.call('SMEMBERS', KEYS[i + 1])) do
    if not seen[member] then
      seen[member] = true
      members[#members + 1] = member
      redis.call('DEL', ARGV[2] .. member)
    end
  end
  redis.call('DEL', KEYS[i + 1])
end
return members
";

static STORE: LazyLock<Script> = LazyLock::new(|| Script::new(STORE_SCRIPT));
static INVALIDATE: LazyLock<Script> = LazyLock::new(|| Script::new(INVALIDATE_SCRIPT));

/// The Upstash layer. Bodies are UTF-8 JSON, so a client without base64 replies is the cheaper one.
pub struct CatalogCache<'a, T> {
    upstash: &'a UpstashClient<T>,
}

impl<'a, T: HttpTransport> CatalogCache<'a, T> {
    pub fn new(upstash: &'a UpstashClient<T>) -> Self {
        Self { upstash }
    }

    /// One `MGET`: the body, if stored, and the versions of `tags` (the route's), read atomically.
    pub async fn lookup(&self, key: &CacheKey, tags: &[Tag]) -> Result<Lookup, UpstashError> {
        let command = Command::new("MGET").arg(key.body_key()).args(tags.iter().map(Tag::version_key));
        let reply = self.upstash.command(&command).await?;
        let Some((body, versions)) = reply.as_array().and_then(<[RedisValue]>::split_first) else {
            return Err(UpstashError::Decode(format!("MGET answered {reply:?}")));
        };
        let body = match body {
            RedisValue::Nil => None,
            other => {
                Some(other.clone().into_string().ok_or_else(|| UpstashError::Decode("a body is not UTF-8".into()))?)
            }
        };
        Ok(Lookup { body, versions: Versions::from_replies(versions)? })
    }

    /// The versions of `tags` now: one `MGET`, run after an edge put to see whether it raced a writer.
    pub async fn versions(&self, tags: &[Tag]) -> Result<Versions, UpstashError> {
        if tags.is_empty() {
            return Ok(Versions(Vec::new()));
        }
        let reply = self.upstash.command(&Command::new("MGET").args(tags.iter().map(Tag::version_key))).await?;
        Versions::from_replies(reply.as_array().unwrap_or_default())
    }

    /// Stores `body` under `key` and lists the key under every one of `tags`, if the versions of
    /// `route_tags` are still `seen`. `Ok(false)`: they moved, nothing was stored.
    pub async fn store(
        &self,
        key: &CacheKey,
        body: &str,
        route_tags: &[Tag],
        seen: &Versions,
        tags: &[Tag],
    ) -> Result<bool, UpstashError> {
        let members: Vec<Tag> = route_tags.iter().chain(tags).cloned().collect();
        self.store_listed(key, body, route_tags, seen, &members).await
    }

    /// As `store`, but listed only under `members`: the versions of `checked` guard the fill
    /// without the answer joining their sets (a product found by slug checks `listings`, since any
    /// product write can change what a slug names, but is purged only with its own product).
    pub async fn store_listed(
        &self,
        key: &CacheKey,
        body: &str,
        checked: &[Tag],
        seen: &Versions,
        members: &[Tag],
    ) -> Result<bool, UpstashError> {
        let route_tags = checked;
        let tags: BTreeSet<&Tag> = members.iter().collect();
        let keys = std::iter::once(key.body_key())
            .chain(route_tags.iter().map(Tag::version_key))
            .chain(tags.into_iter().map(Tag::set_key));
        let args = [body.to_owned(), key.as_str().to_owned()]
            .into_iter()
            .chain([STORE_TTL_SECS, TAG_SET_TTL_SECS, VERSION_TTL_SECS].map(|ttl| ttl.to_string()))
            .chain(seen.0.iter().map(i64::to_string));
        let stored = STORE.run(self.upstash, keys, args).await?;
        Ok(stored.as_i64() == Some(1))
    }

    /// Bumps the tags' versions and purges every body listed under them, atomically; answers the
    /// keys that were listed, whose edge copies the caller must delete.
    pub async fn invalidate(&self, tags: &[Tag]) -> Result<Vec<CacheKey>, UpstashError> {
        if tags.is_empty() {
            return Ok(Vec::new());
        }
        let keys = tags.iter().flat_map(|tag| [tag.version_key(), tag.set_key()]);
        let args = [VERSION_TTL_SECS.to_string(), format!("{PREFIX}{BODY}")];
        let reply = INVALIDATE.run(self.upstash, keys, args).await?;
        reply
            .into_array()
            .unwrap_or_default()
            .into_iter()
            .map(|member| {
                member.into_string().map(CacheKey).ok_or_else(|| UpstashError::Decode("a member is not UTF-8".into()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
