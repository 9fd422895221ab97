//! Result values: Neon's raw-text output decoded by the column's type OID.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::array::{ArrayElement, parse_array_literal};
use super::error::DecodeError;
use super::time::{self, MaybeInfinite};

/// Type OIDs from Postgres' `pg_type.dat` (stable across versions).
pub mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;

    pub const JSON_ARRAY: u32 = 199;
    pub const BOOL_ARRAY: u32 = 1000;
    pub const BYTEA_ARRAY: u32 = 1001;
    pub const NAME_ARRAY: u32 = 1003;
    pub const INT2_ARRAY: u32 = 1005;
    pub const INT4_ARRAY: u32 = 1007;
    pub const TEXT_ARRAY: u32 = 1009;
    pub const BPCHAR_ARRAY: u32 = 1014;
    pub const VARCHAR_ARRAY: u32 = 1015;
    pub const INT8_ARRAY: u32 = 1016;
    pub const FLOAT4_ARRAY: u32 = 1021;
    pub const FLOAT8_ARRAY: u32 = 1022;
    pub const OID_ARRAY: u32 = 1028;
    pub const TIMESTAMP_ARRAY: u32 = 1115;
    pub const DATE_ARRAY: u32 = 1182;
    pub const TIMESTAMPTZ_ARRAY: u32 = 1185;
    pub const NUMERIC_ARRAY: u32 = 1231;
    pub const UUID_ARRAY: u32 = 2951;
    pub const JSONB_ARRAY: u32 = 3807;

    /// The element type of a supported array type.
    pub fn array_element(array_oid: u32) -> Option<u32> {
        Some(match array_oid {
            JSON_ARRAY => JSON,
            BOOL_ARRAY => BOOL,
            BYTEA_ARRAY => BYTEA,
            NAME_ARRAY => NAME,
            INT2_ARRAY => INT2,
            INT4_ARRAY => INT4,
            TEXT_ARRAY => TEXT,
            BPCHAR_ARRAY => BPCHAR,
            VARCHAR_ARRAY => VARCHAR,
            INT8_ARRAY => INT8,
            FLOAT4_ARRAY => FLOAT4,
            FLOAT8_ARRAY => FLOAT8,
            OID_ARRAY => OID,
            TIMESTAMP_ARRAY => TIMESTAMP,
            DATE_ARRAY => DATE,
            TIMESTAMPTZ_ARRAY => TIMESTAMPTZ,
            NUMERIC_ARRAY => NUMERIC,
            UUID_ARRAY => UUID,
            JSONB_ARRAY => JSONB,
            _ => return None,
        })
    }
}

/// One decoded column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// int2, int4, int8 and oid.
    Int(i64),
    /// float4 and float8, including NaN and ±infinity.
    Float(f64),
    /// numeric kept as Postgres wrote it (exact; may be `NaN` or `±Infinity`).
    Numeric(String),
    /// text, varchar, bpchar, name, and every type this client does not know.
    Text(String),
    /// Lower-case hyphenated form.
    Uuid(String),
    Json(serde_json::Value),
    Bytea(Vec<u8>),
    Date(MaybeInfinite<NaiveDate>),
    Timestamp(MaybeInfinite<NaiveDateTime>),
    TimestampTz(MaybeInfinite<DateTime<Utc>>),
    Array(Vec<Value>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The variant's name, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "integer",
            Value::Float(_) => "float",
            Value::Numeric(_) => "numeric",
            Value::Text(_) => "text",
            Value::Uuid(_) => "uuid",
            Value::Json(_) => "json",
            Value::Bytea(_) => "bytea",
            Value::Date(_) => "date",
            Value::Timestamp(_) => "timestamp",
            Value::TimestampTz(_) => "timestamptz",
            Value::Array(_) => "array",
        }
    }
}

/// Decodes one non-null raw-text value of type `type_oid`.
pub fn decode(type_oid: u32, text: &str) -> Result<Value, DecodeError> {
    match oid::array_element(type_oid) {
        Some(element_oid) => decode_array(type_oid, element_oid, text),
        None => decode_scalar(type_oid, text),
    }
}

fn decode_array(array_oid: u32, element_oid: u32, text: &str) -> Result<Value, DecodeError> {
    let elements = parse_array_literal(text).map_err(|error| DecodeError::value(array_oid, text, error.to_string()))?;
    decode_elements(element_oid, elements)
}

fn decode_elements(element_oid: u32, elements: Vec<ArrayElement>) -> Result<Value, DecodeError> {
    elements
        .into_iter()
        .map(|element| match element {
            ArrayElement::Null => Ok(Value::Null),
            ArrayElement::Text(text) => decode_scalar(element_oid, &text),
            ArrayElement::Array(nested) => decode_elements(element_oid, nested),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

fn decode_scalar(type_oid: u32, text: &str) -> Result<Value, DecodeError> {
    let fail = |reason: &str| DecodeError::value(type_oid, text, reason);
    Ok(match type_oid {
        oid::BOOL => match text {
            "t" => Value::Bool(true),
            "f" => Value::Bool(false),
            _ => return Err(fail("expected t or f")),
        },
        oid::INT2 | oid::INT4 | oid::INT8 | oid::OID => Value::Int(text.parse().map_err(|_| fail("not an integer"))?),
        oid::FLOAT4 | oid::FLOAT8 => Value::Float(parse_float(text).ok_or_else(|| fail("not a float"))?),
        oid::NUMERIC => Value::Numeric(text.to_owned()),
        oid::UUID => Value::Uuid(parse_uuid(text).ok_or_else(|| fail("not a uuid"))?),
        oid::JSON | oid::JSONB => Value::Json(serde_json::from_str(text).map_err(|error| fail(&error.to_string()))?),
        oid::BYTEA => Value::Bytea(parse_bytea_hex(text).ok_or_else(|| fail("expected \\x hex"))?),
        oid::DATE => Value::Date(time::parse_date(text).map_err(|reason| fail(&reason))?),
        oid::TIMESTAMP => Value::Timestamp(time::parse_timestamp(text).map_err(|reason| fail(&reason))?),
        oid::TIMESTAMPTZ => Value::TimestampTz(time::parse_timestamptz(text).map_err(|reason| fail(&reason))?),
        _ => Value::Text(text.to_owned()),
    })
}

/// Postgres writes `NaN`, `Infinity`, `-Infinity`; Rust's parser spells them differently.
fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        // Rust would also accept "inf"/"nan" spellings that Postgres never writes.
        _ if text.bytes().any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E')) => None,
        _ => text.parse().ok(),
    }
}

fn parse_uuid(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let well_formed = bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    well_formed.then(|| text.to_ascii_lowercase())
}

/// bytea in the `hex` output format (Postgres' default since 9.0, and Neon's).
fn parse_bytea_hex(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?.as_bytes();
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.chunks_exact(2).map(|pair| Some((hex_digit(pair[0])? << 4) | hex_digit(pair[1])?)).collect()
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn ok(type_oid: u32, text: &str) -> Value {
        decode(type_oid, text).unwrap_or_else(|e| panic!("{type_oid} {text:?}: {e}"))
    }

    #[test]
    fn bool_is_t_or_f() {
        assert_eq!(ok(oid::BOOL, "t"), Value::Bool(true));
        assert_eq!(ok(oid::BOOL, "f"), Value::Bool(false));
        assert!(decode(oid::BOOL, "true").is_err());
    }

    #[test]
    fn integers_of_every_width() {
        assert_eq!(ok(oid::INT2, "-32768"), Value::Int(-32768));
        assert_eq!(ok(oid::INT4, "2147483647"), Value::Int(2_147_483_647));
        assert_eq!(ok(oid::INT8, "-9223372036854775808"), Value::Int(i64::MIN));
        assert_eq!(ok(oid::OID, "16384"), Value::Int(16384));
        assert!(decode(oid::INT8, "9223372036854775808").is_err());
        assert!(decode(oid::INT4, "1.5").is_err());
    }

    #[test]
    fn floats_including_nan_and_infinities() {
        assert_eq!(ok(oid::FLOAT8, "1.5e-07"), Value::Float(1.5e-7));
        assert_eq!(ok(oid::FLOAT4, "-0.25"), Value::Float(-0.25));
        assert_eq!(ok(oid::FLOAT8, "Infinity"), Value::Float(f64::INFINITY));
        assert_eq!(ok(oid::FLOAT8, "-Infinity"), Value::Float(f64::NEG_INFINITY));
        assert!(matches!(ok(oid::FLOAT4, "NaN"), Value::Float(f) if f.is_nan()));
        assert!(decode(oid::FLOAT8, "inf").is_err());
        assert!(decode(oid::FLOAT8, "abc").is_err());
    }

    #[test]
    fn numeric_stays_exact_text() {
        assert_eq!(
            ok(oid::NUMERIC, "12345678901234567890.000000000000000001"),
            Value::Numeric("12345678901234567890.000000000000000001".into())
        );
        assert_eq!(ok(oid::NUMERIC, "NaN"), Value::Numeric("NaN".into()));
    }

    #[test]
    fn text_types_and_unknown_oids_are_text() {
        for type_oid in [oid::TEXT, oid::VARCHAR, oid::BPCHAR, oid::NAME, 1186, 869, 99_999] {
            assert_eq!(ok(type_oid, "a b"), Value::Text("a b".into()));
        }
    }

    #[test]
    fn uuid_is_validated_and_lowercased() {
        assert_eq!(
            ok(oid::UUID, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"),
            Value::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into())
        );
        assert!(decode(oid::UUID, "a0eebc999c0b4ef8bb6d6bb9bd380a11").is_err());
    }

    #[test]
    fn json_and_jsonb_are_parsed() {
        assert_eq!(ok(oid::JSONB, r#"{"a": [1, null]}"#), Value::Json(json!({"a": [1, null]})));
        assert_eq!(ok(oid::JSON, "\"s\""), Value::Json(json!("s")));
        assert!(decode(oid::JSON, "{").is_err());
    }

    #[test]
    fn bytea_hex_is_decoded() {
        assert_eq!(ok(oid::BYTEA, "\\x00ff10Ab"), Value::Bytea(vec![0, 255, 16, 171]));
        assert_eq!(ok(oid::BYTEA, "\\x"), Value::Bytea(vec![]));
        assert!(decode(oid::BYTEA, "\\x0").is_err());
        assert!(decode(oid::BYTEA, "\\000").is_err());
    }

    #[test]
    fn date_and_time_types() {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 6, 33, 7).unwrap();
        assert_eq!(ok(oid::TIMESTAMPTZ, "2026-11-21 07:33:07+01"), Value::TimestampTz(MaybeInfinite::Finite(at)));
        assert_eq!(ok(oid::TIMESTAMP, "2026-11-21 06:33:07"), Value::Timestamp(MaybeInfinite::Finite(at.naive_utc())));
        assert_eq!(ok(oid::DATE, "2026-11-21"), Value::Date(MaybeInfinite::Finite(at.date_naive())));
        assert_eq!(ok(oid::TIMESTAMPTZ, "infinity"), Value::TimestampTz(MaybeInfinite::Infinity));
    }

    #[test]
    fn int_and_bool_arrays_with_nulls() {
        assert_eq!(ok(oid::INT4_ARRAY, "{1,NULL,-3}"), Value::Array(vec![Value::Int(1), Value::Null, Value::Int(-3)]));
        assert_eq!(ok(oid::INT2_ARRAY, "{}"), Value::Array(vec![]));
        assert_eq!(ok(oid::INT8_ARRAY, "{9223372036854775807}"), Value::Array(vec![Value::Int(i64::MAX)]));
        assert_eq!(ok(oid::BOOL_ARRAY, "{t,f}"), Value::Array(vec![Value::Bool(true), Value::Bool(false)]));
    }

    #[test]
    fn text_arrays_distinguish_null_from_quoted_null() {
        assert_eq!(
            ok(oid::TEXT_ARRAY, r#"{NULL,"NULL","a,b","q\"uote"}"#),
            Value::Array(vec![
                Value::Null,
                Value::Text("NULL".into()),
                Value::Text("a,b".into()),
                Value::Text("q\"uote".into()),
            ])
        );
        assert_eq!(ok(oid::VARCHAR_ARRAY, "{x}"), Value::Array(vec![Value::Text("x".into())]));
    }

    #[test]
    fn float_numeric_uuid_and_date_arrays() {
        assert_eq!(
            ok(oid::FLOAT8_ARRAY, "{1.5,Infinity}"),
            Value::Array(vec![Value::Float(1.5), Value::Float(f64::INFINITY)])
        );
        assert_eq!(ok(oid::FLOAT4_ARRAY, "{2}"), Value::Array(vec![Value::Float(2.0)]));
        assert_eq!(
            ok(oid::NUMERIC_ARRAY, "{1.10,NaN}"),
            Value::Array(vec![Value::Numeric("1.10".into()), Value::Numeric("NaN".into())])
        );
        assert_eq!(
            ok(oid::UUID_ARRAY, "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}"),
            Value::Array(vec![Value::Uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11".into())])
        );
        assert_eq!(
            ok(oid::DATE_ARRAY, "{2026-01-02,infinity}"),
            Value::Array(vec![
                Value::Date(MaybeInfinite::Finite(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap())),
                Value::Date(MaybeInfinite::Infinity),
            ])
        );
    }

    #[test]
    fn timestamptz_array_elements_are_quoted_by_postgres() {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 6, 33, 7).unwrap();
        assert_eq!(
            ok(oid::TIMESTAMPTZ_ARRAY, r#"{"2026-11-21 06:33:07+00",NULL}"#),
            Value::Array(vec![Value::TimestampTz(MaybeInfinite::Finite(at)), Value::Null])
        );
    }

    #[test]
    fn json_arrays_unescape_before_parsing() {
        assert_eq!(
            ok(oid::JSONB_ARRAY, r#"{"{\"a\": 1}","[1, 2]",NULL}"#),
            Value::Array(vec![Value::Json(json!({"a": 1})), Value::Json(json!([1, 2])), Value::Null])
        );
        assert_eq!(ok(oid::JSON_ARRAY, r#"{"\"x\""}"#), Value::Array(vec![Value::Json(json!("x"))]));
    }

    #[test]
    fn bytea_arrays_decode_each_element() {
        assert_eq!(ok(oid::BYTEA_ARRAY, r#"{"\\x0102"}"#), Value::Array(vec![Value::Bytea(vec![1, 2])]));
    }

    #[test]
    fn two_dimensional_arrays_nest() {
        assert_eq!(
            ok(oid::INT4_ARRAY, "{{1,2},{3,4}}"),
            Value::Array(vec![
                Value::Array(vec![Value::Int(1), Value::Int(2)]),
                Value::Array(vec![Value::Int(3), Value::Int(4)]),
            ])
        );
    }

    #[test]
    fn a_bad_element_fails_the_whole_array_with_the_element_type() {
        let error = decode(oid::INT4_ARRAY, "{1,x}").unwrap_err();
        assert!(matches!(error, DecodeError::Value { type_oid: oid::INT4, .. }), "{error:?}");
        assert!(decode(oid::INT4_ARRAY, "{1,2").is_err());
    }
}
