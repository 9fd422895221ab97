//! The one stylesheet and the one script, compiled in. Their URLs carry a hash of their content,
//! so browsers and the edge keep them for a year and a new build is fetched at once.

use super::errors::PageError;
use super::visit::Page;

const CSS: &str = include_str!("../../assets/site.css");
const JS: &str = include_str!("../../assets/site.js");

pub struct Asset {
    pub content_type: &'static str,
    pub body: &'static str,
    pub hash: u64,
    pub extension: &'static str,
}

pub const STYLESHEET: Asset =
    Asset { content_type: "text/css; charset=utf-8", body: CSS, hash: fnv1a(CSS), extension: "css" };
pub const SCRIPT: Asset =
    Asset { content_type: "text/javascript; charset=utf-8", body: JS, hash: fnv1a(JS), extension: "js" };

impl Asset {
    /// `/assets/site-<hash>.<ext>`
    pub fn url(&self) -> String {
        format!("/assets/site-{:016x}.{}", self.hash, self.extension)
    }
}

/// `name` is the path after `/assets/`; an old hash is a 404, never another build's file.
pub fn serve(name: &str) -> Result<Page, PageError> {
    [STYLESHEET, SCRIPT]
        .into_iter()
        .find(|asset| asset.url().strip_prefix("/assets/") == Some(name))
        .map(|asset| Page::Asset { content_type: asset.content_type, body: asset.body })
        .ok_or(PageError::NotFound)
}

const fn fnv1a(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut index = 0;
    while index < bytes.len() {
        hash ^= bytes[index] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        index += 1;
    }
    hash
}
