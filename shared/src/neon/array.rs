//! Postgres array literals (`{1,"a b",NULL}`): the text form of array params and results.
//!
//! Grammar as `array_in`/`array_out` (src/backend/utils/adt/arrayfuncs.c) implement it: elements
//! separated by `,`, double-quoted when needed, `\` escapes the next character anywhere,
//! unquoted `NULL` (any case) is SQL NULL while quoted `"NULL"` is the text, unescaped
//! whitespace around unquoted elements is ignored, and an optional `[lo:hi]=` prefix gives
//! non-default bounds.

use std::iter::Peekable;
use std::str::Chars;

/// One element of a parsed array literal, before it is decoded by element type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrayElement {
    Null,
    Text(String),
    /// A sub-array of a multi-dimensional array.
    Array(Vec<ArrayElement>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed array literal: {0}")]
pub struct ArrayParseError(pub String);

/// Parses a Postgres array literal into its (possibly nested) elements.
pub fn parse_array_literal(input: &str) -> Result<Vec<ArrayElement>, ArrayParseError> {
    let mut text = input.trim_start_matches(is_pg_space);
    if text.starts_with('[') {
        // Dimension decoration such as `[0:2]={…}`: the bounds carry no element data.
        let equals = text.find('=').ok_or_else(|| ArrayParseError("dimension decoration without '='".into()))?;
        text = text[equals + 1..].trim_start_matches(is_pg_space);
    }
    let mut parser = Parser { chars: text.chars().peekable() };
    let elements = parser.array()?;
    parser.skip_space();
    match parser.chars.next() {
        None => Ok(elements),
        Some(c) => Err(ArrayParseError(format!("unexpected {c:?} after the closing brace"))),
    }
}

/// Appends `text` as a double-quoted array element, escaping `"` and `\`.
pub fn push_quoted_element(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Postgres' `scanner_isspace`: the whitespace `array_in` skips.
fn is_pg_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0B' | '\x0C')
}

struct Parser<'a> {
    chars: Peekable<Chars<'a>>,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.chars.next_if(|c| is_pg_space(*c)).is_some() {}
    }

    fn array(&mut self) -> Result<Vec<ArrayElement>, ArrayParseError> {
        match self.chars.next() {
            Some('{') => {}
            other => return Err(ArrayParseError(format!("expected '{{', found {other:?}"))),
        }
        let mut elements = Vec::new();
        self.skip_space();
        if self.chars.next_if_eq(&'}').is_some() {
            return Ok(elements);
        }
        loop {
            self.skip_space();
            let element = match self.chars.peek() {
                Some('{') => ArrayElement::Array(self.array()?),
                Some('"') => ArrayElement::Text(self.quoted()?),
                _ => self.unquoted()?,
            };
            elements.push(element);
            self.skip_space();
            match self.chars.next() {
                Some(',') => continue,
                Some('}') => return Ok(elements),
                other => {
                    return Err(ArrayParseError(format!("expected ',' or '}}', found {other:?}")));
                }
            }
        }
    }

    fn quoted(&mut self) -> Result<String, ArrayParseError> {
        self.chars.next(); // the opening quote
        let mut text = String::new();
        loop {
            match self.chars.next() {
                Some('"') => return Ok(text),
                Some('\\') => text.push(self.escaped()?),
                Some(c) => text.push(c),
                None => return Err(ArrayParseError("unterminated quoted element".into())),
            }
        }
    }

    fn unquoted(&mut self) -> Result<ArrayElement, ArrayParseError> {
        let mut text = String::new();
        // Length up to the last character that is not unescaped whitespace: trailing blanks drop.
        let mut kept_len = 0;
        let mut escaped_any = false;
        loop {
            match self.chars.peek().copied() {
                Some(',' | '}') => break,
                Some(c @ ('"' | '{')) => {
                    return Err(ArrayParseError(format!("unexpected {c:?} in unquoted element")));
                }
                Some('\\') => {
                    self.chars.next();
                    text.push(self.escaped()?);
                    kept_len = text.len();
                    escaped_any = true;
                }
                Some(c) => {
                    self.chars.next();
                    text.push(c);
                    if !is_pg_space(c) {
                        kept_len = text.len();
                    }
                }
                None => return Err(ArrayParseError("unterminated array".into())),
            }
        }
        text.truncate(kept_len);
        if text.is_empty() {
            return Err(ArrayParseError("empty unquoted element".into()));
        }
        if !escaped_any && text.eq_ignore_ascii_case("NULL") {
            return Ok(ArrayElement::Null);
        }
        Ok(ArrayElement::Text(text))
    }

    fn escaped(&mut self) -> Result<char, ArrayParseError> {
        self.chars.next().ok_or_else(|| ArrayParseError("backslash at end of input".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::ArrayElement::{Array, Null, Text};
    use super::*;
    use proptest::prelude::*;

    fn text(s: &str) -> ArrayElement {
        Text(s.to_owned())
    }

    fn encode(elements: &[Option<String>]) -> String {
        let mut out = String::from("{");
        for (i, element) in elements.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match element {
                None => out.push_str("NULL"),
                Some(s) => push_quoted_element(&mut out, s),
            }
        }
        out.push('}');
        out
    }

    #[test]
    fn empty_braces_are_an_empty_array() {
        assert_eq!(parse_array_literal("{}").unwrap(), vec![]);
        assert_eq!(parse_array_literal(" { } ").unwrap(), vec![]);
    }

    #[test]
    fn unquoted_elements_are_split_on_commas() {
        assert_eq!(parse_array_literal("{1,-2,3.5}").unwrap(), vec![text("1"), text("-2"), text("3.5")]);
    }

    #[test]
    fn unquoted_null_in_any_case_is_sql_null() {
        assert_eq!(parse_array_literal("{NULL,null,NuLl}").unwrap(), vec![Null, Null, Null]);
    }

    #[test]
    fn quoted_null_is_the_text_null() {
        assert_eq!(parse_array_literal(r#"{"NULL",NULL}"#).unwrap(), vec![text("NULL"), Null]);
    }

    #[test]
    fn escaped_null_is_the_text_null() {
        assert_eq!(parse_array_literal(r"{\NULL}").unwrap(), vec![text("NULL")]);
    }

    #[test]
    fn quoted_elements_keep_commas_braces_spaces_and_escapes() {
        let parsed = parse_array_literal(r#"{"a,b","{x}"," padded ","say \"hi\"","back\\slash",""}"#).unwrap();
        assert_eq!(
            parsed,
            vec![text("a,b"), text("{x}"), text(" padded "), text(r#"say "hi""#), text(r"back\slash"), text(""),]
        );
    }

    #[test]
    fn whitespace_around_unquoted_elements_is_ignored_but_inner_kept() {
        assert_eq!(parse_array_literal("{  a b  , c\t}").unwrap(), vec![text("a b"), text("c")]);
    }

    #[test]
    fn escaped_trailing_whitespace_is_kept() {
        assert_eq!(parse_array_literal(r"{a\ }").unwrap(), vec![text("a ")]);
    }

    #[test]
    fn nested_arrays_parse_as_sub_arrays() {
        assert_eq!(
            parse_array_literal("{{1,2},{3,NULL}}").unwrap(),
            vec![Array(vec![text("1"), text("2")]), Array(vec![text("3"), Null])]
        );
    }

    #[test]
    fn dimension_decoration_is_skipped() {
        assert_eq!(parse_array_literal("[0:1]={7,8}").unwrap(), vec![text("7"), text("8")]);
    }

    #[test]
    fn unicode_elements_survive() {
        assert_eq!(parse_array_literal(r#"{café,"日本 語"}"#).unwrap(), vec![text("café"), text("日本 語")]);
    }

    #[test]
    fn malformed_literals_are_errors_not_panics() {
        for bad in
            ["", "{", "}", "1,2", "{1,2", "{1,,2}", "{\"a}", "{a\"b}", "{1} x", "{a\\", "[1:2]{1}", "{,}", "{1,}"]
        {
            assert!(parse_array_literal(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn quoting_escapes_only_quotes_and_backslashes() {
        let mut out = String::new();
        push_quoted_element(&mut out, r#"a"b\c,{}"#);
        assert_eq!(out, r#""a\"b\\c,{}""#);
    }

    fn tricky_string() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("NULL".to_owned()),
            Just("null".to_owned()),
            Just(String::new()),
            "[\"\\\\,{} NUL\t\na-z]{0,12}",
            any::<String>(),
        ]
    }

    proptest! {
        #[test]
        fn encoded_arrays_decode_to_the_same_elements(
            elements in prop::collection::vec(prop::option::of(tricky_string()), 0..8)
        ) {
            let literal = encode(&elements);
            let parsed = parse_array_literal(&literal).unwrap();
            let expected: Vec<ArrayElement> = elements
                .iter()
                .map(|e| e.as_ref().map_or(Null, |s| Text(s.clone())))
                .collect();
            prop_assert_eq!(parsed, expected);
        }

        #[test]
        fn arbitrary_input_never_panics(input in any::<String>()) {
            let _ = parse_array_literal(&input);
        }
    }
}
