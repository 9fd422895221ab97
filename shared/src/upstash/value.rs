//! Replies: the JSON `result` turned back into Redis' reply types.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value as Json;

use super::error::UpstashError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisValue {
    Nil,
    /// The status reply `OK`: the one string Upstash never base64-encodes.
    Ok,
    Integer(i64),
    /// Bulk strings, as raw bytes.
    Bulk(Vec<u8>),
    Array(Vec<RedisValue>),
}

impl RedisValue {
    pub fn is_nil(&self) -> bool {
        matches!(self, RedisValue::Nil)
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, RedisValue::Ok)
    }

    /// Bulk bytes; `OK` reads as `b"OK"` so callers need not care how it arrived.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            RedisValue::Bulk(bytes) => Some(bytes),
            RedisValue::Ok => Some(b"OK"),
            _ => None,
        }
    }

    /// Bulk bytes that are UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        self.as_bytes().and_then(|bytes| std::str::from_utf8(bytes).ok())
    }

    /// Integer replies, and bulk strings holding an integer (`GET` of an `INCR`ed key).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            RedisValue::Integer(n) => Some(*n),
            RedisValue::Bulk(_) => self.as_str()?.parse().ok(),
            _ => None,
        }
    }

    /// Integers, and bulk strings holding a float (`ZSCORE`, `INCRBYFLOAT`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            RedisValue::Integer(n) => Some(*n as f64),
            RedisValue::Bulk(_) => match self.as_str()? {
                "inf" | "+inf" => Some(f64::INFINITY),
                "-inf" => Some(f64::NEG_INFINITY),
                text => text.parse().ok(),
            },
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[RedisValue]> {
        match self {
            RedisValue::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            RedisValue::Bulk(bytes) => Some(bytes),
            RedisValue::Ok => Some(b"OK".to_vec()),
            _ => None,
        }
    }

    pub fn into_string(self) -> Option<String> {
        self.into_bytes().and_then(|bytes| String::from_utf8(bytes).ok())
    }

    pub fn into_array(self) -> Option<Vec<RedisValue>> {
        match self {
            RedisValue::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// Turns a JSON `result` into a reply. With `Upstash-Encoding: base64` every string is base64
/// except a bare `"OK"`, which is also never valid padded base64, so the two cannot be confused.
pub(crate) fn decode_result(json: Json, base64: bool) -> Result<RedisValue, UpstashError> {
    Ok(match json {
        Json::Null => RedisValue::Nil,
        Json::String(text) if text == "OK" => RedisValue::Ok,
        Json::String(text) if base64 => RedisValue::Bulk(
            STANDARD
                .decode(text.as_bytes())
                .map_err(|error| UpstashError::Decode(format!("bad base64 {text:?}: {error}")))?,
        ),
        Json::String(text) => RedisValue::Bulk(text.into_bytes()),
        Json::Number(number) => match number.as_i64() {
            Some(n) => RedisValue::Integer(n),
            // RESP2 has no doubles; keep any such number readable through `as_f64`.
            None => RedisValue::Bulk(number.to_string().into_bytes()),
        },
        Json::Array(items) => {
            RedisValue::Array(items.into_iter().map(|item| decode_result(item, base64)).collect::<Result<_, _>>()?)
        }
        other => return Err(UpstashError::Decode(format!("unexpected result {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(value: Json) -> RedisValue {
        decode_result(value, true).unwrap()
    }

    #[test]
    fn base64_strings_decode_to_bytes() {
        assert_eq!(b64(json!("aGVsbG8=")), RedisValue::Bulk(b"hello".to_vec()));
        assert_eq!(b64(json!("")), RedisValue::Bulk(vec![]));
    }

    #[test]
    fn bare_ok_is_not_base64_decoded() {
        assert_eq!(b64(json!("OK")), RedisValue::Ok);
    }

    #[test]
    fn the_value_ok_stored_by_a_user_arrives_encoded_and_decodes_to_bytes() {
        assert_eq!(b64(json!("T0s=")), RedisValue::Bulk(b"OK".to_vec()));
    }

    #[test]
    fn binary_values_survive_base64() {
        assert_eq!(b64(json!("AP/+gA==")), RedisValue::Bulk(vec![0x00, 0xff, 0xfe, 0x80]));
    }

    #[test]
    fn integers_and_nil_are_not_encoded() {
        assert_eq!(b64(json!(42)), RedisValue::Integer(42));
        assert_eq!(b64(json!(-1)), RedisValue::Integer(-1));
        assert_eq!(b64(json!(null)), RedisValue::Nil);
    }

    #[test]
    fn nested_arrays_decode_element_by_element() {
        assert_eq!(
            b64(json!(["YQ==", null, 3, ["Yg==", "OK"]])),
            RedisValue::Array(vec![
                RedisValue::Bulk(b"a".to_vec()),
                RedisValue::Nil,
                RedisValue::Integer(3),
                RedisValue::Array(vec![RedisValue::Bulk(b"b".to_vec()), RedisValue::Ok]),
            ])
        );
    }

    #[test]
    fn invalid_base64_is_a_decode_error() {
        assert!(matches!(decode_result(json!("not base64!"), true), Err(UpstashError::Decode(_))));
    }

    #[test]
    fn without_base64_strings_are_taken_verbatim() {
        assert_eq!(decode_result(json!("aGVsbG8="), false).unwrap(), RedisValue::Bulk(b"aGVsbG8=".to_vec()));
        assert_eq!(decode_result(json!("OK"), false).unwrap(), RedisValue::Ok);
    }

    #[test]
    fn objects_and_booleans_are_decode_errors() {
        assert!(decode_result(json!({"a": 1}), true).is_err());
        assert!(decode_result(json!(true), true).is_err());
    }

    #[test]
    fn helpers_read_the_common_shapes() {
        assert_eq!(RedisValue::Bulk(b"12".to_vec()).as_i64(), Some(12));
        assert_eq!(RedisValue::Integer(12).as_i64(), Some(12));
        assert_eq!(RedisValue::Bulk(b"1.5".to_vec()).as_f64(), Some(1.5));
        assert_eq!(RedisValue::Bulk(b"-inf".to_vec()).as_f64(), Some(f64::NEG_INFINITY));
        assert_eq!(RedisValue::Ok.as_str(), Some("OK"));
        assert_eq!(RedisValue::Bulk(vec![0xff]).as_str(), None);
        assert_eq!(RedisValue::Bulk(vec![0xff]).into_bytes(), Some(vec![0xff]));
        assert_eq!(RedisValue::Nil.as_bytes(), None);
        assert!(RedisValue::Nil.is_nil());
        assert_eq!(RedisValue::Bulk(b"x".to_vec()).as_i64(), None);
        assert_eq!(RedisValue::Array(vec![RedisValue::Nil]).into_array(), Some(vec![RedisValue::Nil]));
        assert_eq!(RedisValue::Bulk(b"s".to_vec()).into_string().as_deref(), Some("s"));
    }
}
