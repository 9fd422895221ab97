//! JSON in and out of the Neon protocol: params to Postgres text, Postgres text to JSON.

use postgres_types::{Kind, Type};
use serde_json::Value;

/// Request params become text parameters: strings as they are, `null` as SQL NULL, numbers,
/// booleans and objects as their JSON text, arrays as Postgres array literals (the proxy's rules).
pub fn param_to_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Bool(_) | Value::Number(_) | Value::Object(_) => Some(value.to_string()),
        Value::Array(_) => Some(array_literal(value)),
    }
}

/// `[1,"a",null,[2]]` → `{1,"a",NULL,{2}}`; strings inside are quoted and escaped, objects become
/// quoted JSON text.
fn array_literal(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_owned(),
        Value::Bool(_) | Value::Number(_) | Value::String(_) => value.to_string(),
        Value::Object(_) => Value::String(value.to_string()).to_string(),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(array_literal).collect();
            format!("{{{}}}", inner.join(","))
        }
    }
}

/// Appends `text` as a JSON string literal.
pub fn push_string(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    for &byte in text.as_bytes() {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x00..=0x1f => {
                out.extend_from_slice(format!("\\u{byte:04x}").as_bytes());
            }
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

/// A value the server sent that is not what its type promises.
#[derive(Debug)]
pub struct ConversionError;

/// Without `Neon-Raw-Text-Output: true` the proxy types a few values itself: bool, int2/int4,
/// float4/float8 (non-finite stay strings), json/jsonb (inlined) and arrays of anything; the rest
/// stay strings. Types unknown to `postgres-types` (user-defined) stay strings here.
pub fn push_typed(out: &mut Vec<u8>, text: &str, type_oid: u32) -> Result<(), ConversionError> {
    match Type::from_oid(type_oid) {
        Some(ty) => push_value(out, text, &ty),
        None => {
            push_string(out, text);
            Ok(())
        }
    }
}

fn push_value(out: &mut Vec<u8>, text: &str, ty: &Type) -> Result<(), ConversionError> {
    if let Kind::Array(element) = ty.kind() {
        // Every built-in type but box uses ',' between elements.
        let delimiter = if *element == Type::BOX { ';' } else { ',' };
        return ArrayParser { rest: text, element, delimiter }.parse(out);
    }
    match *ty {
        Type::BOOL => out.extend_from_slice(if text == "t" { b"true" } else { b"false" }),
        Type::INT2 | Type::INT4 => {
            let number: i32 = text.parse().map_err(|_| ConversionError)?;
            out.extend_from_slice(number.to_string().as_bytes());
        }
        Type::FLOAT4 | Type::FLOAT8 => {
            let number: f64 = text.parse().map_err(|_| ConversionError)?;
            match serde_json::Number::from_f64(number) {
                Some(number) => out.extend_from_slice(number.to_string().as_bytes()),
                None => push_string(out, text), // NaN and ±Infinity
            }
        }
        Type::JSON | Type::JSONB => out.extend_from_slice(text.as_bytes()),
        _ => push_string(out, text),
    }
    Ok(())
}

/// Postgres array text (`{1,NULL,"a b",{2,3}}`, optionally `[1:2]=` bounds first) to JSON.
struct ArrayParser<'a> {
    rest: &'a str,
    element: &'a Type,
    delimiter: char,
}

impl ArrayParser<'_> {
    fn parse(mut self, out: &mut Vec<u8>) -> Result<(), ConversionError> {
        if self.rest.starts_with('[') {
            // Dimension bounds cannot be represented in JSON; skip them like the proxy does.
            let (_, array) = self.rest.split_once('=').ok_or(ConversionError)?;
            self.rest = array;
        }
        self.rest = self.rest.trim_start();
        self.array(out)?;
        if !self.rest.trim().is_empty() {
            return Err(ConversionError);
        }
        Ok(())
    }

    fn array(&mut self, out: &mut Vec<u8>) -> Result<(), ConversionError> {
        self.rest = self.rest.strip_prefix('{').ok_or(ConversionError)?;
        out.push(b'[');
        self.rest = self.rest.trim_start();
        if let Some(rest) = self.rest.strip_prefix('}') {
            self.rest = rest.trim_start();
            out.push(b']');
            return Ok(());
        }
        let mut first = true;
        loop {
            if !first {
                out.push(b',');
            }
            first = false;
            self.item(out)?;
            self.rest = self.rest.trim_start();
            if let Some(rest) = self.rest.strip_prefix(self.delimiter) {
                self.rest = rest;
                continue;
            }
            self.rest = self.rest.strip_prefix('}').ok_or(ConversionError)?;
            self.rest = self.rest.trim_start();
            out.push(b']');
            return Ok(());
        }
    }

    fn item(&mut self, out: &mut Vec<u8>) -> Result<(), ConversionError> {
        self.rest = self.rest.trim_start();
        if self.rest.starts_with('{') {
            return self.array(out);
        }
        if let Some(quoted) = self.rest.strip_prefix('"') {
            let mut text = String::new();
            let mut chars = quoted.char_indices();
            loop {
                match chars.next() {
                    Some((_, '\\')) => text.push(chars.next().ok_or(ConversionError)?.1),
                    Some((at, '"')) => {
                        self.rest = &quoted[at + 1..];
                        break;
                    }
                    Some((_, c)) => text.push(c),
                    None => return Err(ConversionError),
                }
            }
            return push_value(out, &text, self.element);
        }
        let end = self.rest.find([self.delimiter, '}']).ok_or(ConversionError)?;
        let (raw, rest) = self.rest.split_at(end);
        self.rest = rest;
        let raw = raw.trim_end();
        if raw == "NULL" {
            out.extend_from_slice(b"null");
            Ok(())
        } else {
            push_value(out, raw, self.element)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn typed(text: &str, ty: Type) -> Value {
        let mut out = Vec::new();
        push_value(&mut out, text, &ty).expect("valid");
        serde_json::from_slice(&out).expect("json")
    }

    #[test]
    fn params_follow_the_proxy_text_rules() {
        assert_eq!(param_to_text(&json!(null)), None);
        assert_eq!(param_to_text(&json!("a\"b")).as_deref(), Some("a\"b"));
        assert_eq!(param_to_text(&json!(42)).as_deref(), Some("42"));
        assert_eq!(param_to_text(&json!(true)).as_deref(), Some("true"));
        assert_eq!(param_to_text(&json!({"a":1})).as_deref(), Some("{\"a\":1}"));
        assert_eq!(param_to_text(&json!([1, "x y", null, [2, 3]])).as_deref(), Some("{1,\"x y\",NULL,{2,3}}"));
    }

    #[test]
    fn typed_output_parses_scalars_json_and_nested_arrays() {
        assert_eq!(typed("t", Type::BOOL), json!(true));
        assert_eq!(typed("-7", Type::INT4), json!(-7));
        assert_eq!(typed("1.5", Type::FLOAT8), json!(1.5));
        assert_eq!(typed("NaN", Type::FLOAT8), json!("NaN"));
        assert_eq!(typed("9007199254740993", Type::INT8), json!("9007199254740993"));
        assert_eq!(typed("{\"a\": [1]}", Type::JSONB), json!({"a": [1]}));
        assert_eq!(typed("{{1,2},{NULL,4}}", Type::INT4_ARRAY), json!([[1, 2], [null, 4]]));
        assert_eq!(
            typed(r#"{"a,b","c\"d",NULL,"NULL",e}"#, Type::TEXT_ARRAY),
            json!(["a,b", "c\"d", null, "NULL", "e"])
        );
        assert_eq!(typed("[0:1]={t,f}", Type::BOOL_ARRAY), json!([true, false]));
        assert_eq!(typed("{}", Type::INT4_ARRAY), json!([]));
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        push_string(&mut out, "a\"b\\c\n\u{1}é");
        let back: String = serde_json::from_slice(&out).expect("json");
        assert_eq!(back, "a\"b\\c\n\u{1}é");
    }
}
