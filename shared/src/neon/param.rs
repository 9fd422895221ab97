//! Query parameters: Neon takes each as a JSON string (the Postgres text input form) or `null`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;

use super::array::push_quoted_element;
use super::time::{self, MaybeInfinite};

/// One bound parameter: Postgres text input, or SQL NULL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Param(Option<String>);

impl Param {
    pub const NULL: Param = Param(None);

    pub fn text(text: impl Into<String>) -> Self {
        Param(Some(text.into()))
    }

    pub fn as_text(&self) -> Option<&str> {
        self.0.as_deref()
    }

    pub fn is_null(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        self.0.clone().map_or(serde_json::Value::Null, serde_json::Value::String)
    }
}

/// Rust values that can be bound as query parameters.
pub trait ToSql {
    fn to_param(&self) -> Param;

    /// Appends this value as one element of an array literal; arrays override it to nest.
    fn write_array_element(&self, out: &mut String) {
        match self.to_param().0 {
            None => out.push_str("NULL"),
            Some(text) => push_quoted_element(out, &text),
        }
    }
}

impl ToSql for Param {
    fn to_param(&self) -> Param {
        self.clone()
    }
}

impl<T: ToSql + ?Sized> ToSql for &T {
    fn to_param(&self) -> Param {
        (**self).to_param()
    }

    fn write_array_element(&self, out: &mut String) {
        (**self).write_array_element(out)
    }
}

impl<T: ToSql> ToSql for Option<T> {
    fn to_param(&self) -> Param {
        self.as_ref().map_or(Param::NULL, ToSql::to_param)
    }

    fn write_array_element(&self, out: &mut String) {
        match self {
            None => out.push_str("NULL"),
            Some(value) => value.write_array_element(out),
        }
    }
}

/// `true`/`false`: what `boolin` accepts and what node-postgres sends.
impl ToSql for bool {
    fn to_param(&self) -> Param {
        Param::text(if *self { "true" } else { "false" })
    }
}

macro_rules! to_sql_display {
    ($($t:ty),*) => {$(
        impl ToSql for $t {
            fn to_param(&self) -> Param {
                Param::text(self.to_string())
            }
        }
    )*};
}
// No u8: a `&[u8]` must not silently become a smallint array (use `Bytea`).
to_sql_display!(i8, i16, i32, i64, u16, u32, u64, str, String);

/// Postgres spells the specials `NaN`, `Infinity`, `-Infinity`; Rust's Display gives the
/// shortest text that round-trips, which `float8in` reads back exactly.
impl ToSql for f64 {
    fn to_param(&self) -> Param {
        Param::text(float_text(*self, |f| f.to_string()))
    }
}

impl ToSql for f32 {
    fn to_param(&self) -> Param {
        Param::text(float_text(f64::from(*self), |_| self.to_string()))
    }
}

fn float_text(value: f64, finite: impl FnOnce(f64) -> String) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value == f64::INFINITY {
        "Infinity".into()
    } else if value == f64::NEG_INFINITY {
        "-Infinity".into()
    } else {
        finite(value)
    }
}

/// json/jsonb as its JSON text.
impl ToSql for serde_json::Value {
    fn to_param(&self) -> Param {
        Param::text(self.to_string())
    }
}

/// A bytea parameter, sent in Postgres' hex input form `\x…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytea<'a>(pub &'a [u8]);

impl ToSql for Bytea<'_> {
    fn to_param(&self) -> Param {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(2 + self.0.len() * 2);
        text.push_str("\\x");
        for byte in self.0 {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Param::text(text)
    }
}

impl ToSql for DateTime<Utc> {
    fn to_param(&self) -> Param {
        Param::text(time::format_timestamptz(*self))
    }
}

impl ToSql for NaiveDateTime {
    fn to_param(&self) -> Param {
        Param::text(time::format_timestamp(*self))
    }
}

impl ToSql for NaiveDate {
    fn to_param(&self) -> Param {
        Param::text(time::format_date(*self))
    }
}

impl<T: ToSql> ToSql for MaybeInfinite<T> {
    fn to_param(&self) -> Param {
        match self {
            MaybeInfinite::NegInfinity => Param::text("-infinity"),
            MaybeInfinite::Finite(value) => value.to_param(),
            MaybeInfinite::Infinity => Param::text("infinity"),
        }
    }
}

/// Arrays as literals with every element quoted, so no element text needs inspecting.
impl<T: ToSql> ToSql for [T] {
    fn to_param(&self) -> Param {
        let mut literal = String::new();
        self.write_array_element(&mut literal);
        Param(Some(literal))
    }

    /// Sub-arrays of a multi-dimensional array are written bare, not quoted.
    fn write_array_element(&self, out: &mut String) {
        out.push('{');
        for (i, element) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            element.write_array_element(out);
        }
        out.push('}');
    }
}

impl<T: ToSql> ToSql for Vec<T> {
    fn to_param(&self) -> Param {
        self.as_slice().to_param()
    }

    fn write_array_element(&self, out: &mut String) {
        self.as_slice().write_array_element(out)
    }
}

impl<T: ToSql, const N: usize> ToSql for [T; N] {
    fn to_param(&self) -> Param {
        self.as_slice().to_param()
    }

    fn write_array_element(&self, out: &mut String) {
        self.as_slice().write_array_element(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::array::{ArrayElement, parse_array_literal};
    use super::super::value::{Value, decode, oid};
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use serde_json::json;

    fn text(value: &dyn ToSql) -> Option<String> {
        value.to_param().0
    }

    #[test]
    fn bools_are_true_and_false() {
        assert_eq!(text(&true).as_deref(), Some("true"));
        assert_eq!(text(&false).as_deref(), Some("false"));
    }

    #[test]
    fn integers_are_decimal_text() {
        assert_eq!(text(&-42i32).as_deref(), Some("-42"));
        assert_eq!(text(&i64::MIN).as_deref(), Some("-9223372036854775808"));
        assert_eq!(text(&7u16).as_deref(), Some("7"));
    }

    #[test]
    fn floats_use_postgres_spellings_for_specials() {
        assert_eq!(text(&f64::NAN).as_deref(), Some("NaN"));
        assert_eq!(text(&f64::INFINITY).as_deref(), Some("Infinity"));
        assert_eq!(text(&f32::NEG_INFINITY).as_deref(), Some("-Infinity"));
        assert_eq!(text(&0.1f64).as_deref(), Some("0.1"));
        assert_eq!(text(&0.1f32).as_deref(), Some("0.1"));
        assert_eq!(text(&1e300f64).map(|t| t.parse::<f64>().unwrap()), Some(1e300));
    }

    #[test]
    fn none_is_null_and_some_is_the_value() {
        assert_eq!(text(&None::<i32>), None);
        assert_eq!(text(&Some("x")).as_deref(), Some("x"));
    }

    #[test]
    fn json_is_sent_as_its_text() {
        assert_eq!(text(&json!({"a": [1, "b"]})).as_deref(), Some(r#"{"a":[1,"b"]}"#));
    }

    #[test]
    fn bytea_is_hex_with_backslash_x() {
        assert_eq!(text(&Bytea(&[0, 15, 255])).as_deref(), Some("\\x000fff"));
        assert_eq!(text(&Bytea(&[])).as_deref(), Some("\\x"));
    }

    #[test]
    fn times_are_sent_in_postgres_iso_form() {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 6, 33, 7).unwrap();
        assert_eq!(text(&at).as_deref(), Some("2026-11-21 06:33:07+00"));
        assert_eq!(text(&at.date_naive()).as_deref(), Some("2026-11-21"));
        assert_eq!(text(&MaybeInfinite::<NaiveDate>::Infinity).as_deref(), Some("infinity"));
    }

    #[test]
    fn arrays_quote_every_element_and_escape_quotes_and_backslashes() {
        assert_eq!(text(&[1, 2, 3]).as_deref(), Some(r#"{"1","2","3"}"#));
        assert_eq!(
            text(&vec!["a,b", "say \"hi\"", r"back\slash", "NULL", "{}"]).as_deref(),
            Some(r#"{"a,b","say \"hi\"","back\\slash","NULL","{}"}"#)
        );
        assert_eq!(text(&Vec::<i32>::new()).as_deref(), Some("{}"));
    }

    #[test]
    fn null_array_elements_are_bare_null() {
        assert_eq!(text(&[Some("x"), None]).as_deref(), Some(r#"{"x",NULL}"#));
    }

    #[test]
    fn nested_arrays_are_multi_dimensional_not_quoted() {
        assert_eq!(text(&vec![vec![1, 2], vec![3, 4]]).as_deref(), Some(r#"{{"1","2"},{"3","4"}}"#));
    }

    #[test]
    fn bytea_arrays_escape_the_backslash() {
        assert_eq!(text(&[Bytea(&[1])]).as_deref(), Some(r#"{"\\x01"}"#));
        assert_eq!(
            decode(oid::BYTEA_ARRAY, &text(&[Bytea(&[1])]).unwrap()).unwrap(),
            Value::Array(vec![Value::Bytea(vec![1])])
        );
    }

    #[test]
    fn params_serialize_as_json_strings_or_null() {
        let params = [1.to_param(), Param::NULL];
        assert_eq!(serde_json::to_value(params).unwrap(), json!(["1", null]));
    }

    proptest! {
        #[test]
        fn text_arrays_round_trip_through_the_literal(
            elements in prop::collection::vec(
                prop::option::of(prop_oneof![
                    Just("NULL".to_owned()),
                    "[\"\\\\,{} NUL]{0,10}",
                    any::<String>(),
                ]),
                0..8,
            )
        ) {
            let literal = text(&elements).unwrap();
            let parsed = parse_array_literal(&literal).unwrap();
            let expected: Vec<ArrayElement> = elements
                .iter()
                .map(|e| e.clone().map_or(ArrayElement::Null, ArrayElement::Text))
                .collect();
            prop_assert_eq!(parsed, expected);
        }

        #[test]
        fn float_params_decode_to_the_same_float(value in any::<f64>()) {
            let decoded = decode(oid::FLOAT8, &text(&value).unwrap()).unwrap();
            match decoded {
                Value::Float(f) if value.is_nan() => prop_assert!(f.is_nan()),
                Value::Float(f) => prop_assert_eq!(f.to_bits(), value.to_bits()),
                other => prop_assert!(false, "decoded {other:?}"),
            }
        }

        #[test]
        fn int_arrays_decode_to_the_same_ints(values in prop::collection::vec(any::<i64>(), 0..10)) {
            let decoded = decode(oid::INT8_ARRAY, &text(&values).unwrap()).unwrap();
            prop_assert_eq!(decoded, Value::Array(values.into_iter().map(Value::Int).collect()));
        }
    }
}
