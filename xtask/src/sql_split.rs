//! Splits a migration file into statements. The Neon HTTP protocol runs one statement per query,
//! so `;` inside strings, quoted names, comments and `$tag$` bodies must not split.

pub fn statements(sql: &str) -> Vec<String> {
    let bytes = sql.as_bytes();
    let mut statements = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        i = match bytes[i] {
            b'\'' => skip_quoted(bytes, i, b'\'', escapes_with_backslash(bytes, i)),
            b'"' => skip_quoted(bytes, i, b'"', false),
            b'-' if bytes.get(i + 1) == Some(&b'-') => skip_line_comment(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => skip_block_comment(bytes, i),
            b'$' => skip_dollar_quoted(sql, i),
            b';' => {
                push_statement(&mut statements, &sql[start..i]);
                start = i + 1;
                i + 1
            }
            _ => i + 1,
        };
    }
    push_statement(&mut statements, &sql[start.min(sql.len())..]);
    statements
}

fn push_statement(statements: &mut Vec<String>, text: &str) {
    if has_code(text) {
        statements.push(text.trim().to_owned());
    }
}

/// True when something other than whitespace and comments is left.
fn has_code(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => i = skip_line_comment(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i),
            byte if byte.is_ascii_whitespace() => i += 1,
            _ => return true,
        }
    }
    false
}

/// `E'…'` strings treat backslash as an escape; standard strings do not.
fn escapes_with_backslash(bytes: &[u8], quote: usize) -> bool {
    quote > 0
        && matches!(bytes[quote - 1], b'E' | b'e')
        && (quote < 2 || !(bytes[quote - 2].is_ascii_alphanumeric() || bytes[quote - 2] == b'_'))
}

fn skip_quoted(bytes: &[u8], open: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        if backslash_escapes && bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i] == quote {
            // A doubled quote is an escaped quote, not the end.
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

fn skip_line_comment(bytes: &[u8], start: usize) -> usize {
    bytes[start..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |offset| start + offset + 1)
}

/// Postgres block comments nest.
fn skip_block_comment(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'/', b'*') => {
                depth += 1;
                i += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

/// `$$…$$` or `$tag$…$tag$`; a `$1` parameter is not a quote.
fn skip_dollar_quoted(sql: &str, start: usize) -> usize {
    let rest = &sql[start + 1..];
    let tag_len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    let is_tag =
        rest.as_bytes().get(tag_len) == Some(&b'$') && !rest.as_bytes().first().is_some_and(u8::is_ascii_digit);
    if !is_tag {
        return start + 1;
    }
    let delimiter = &sql[start..start + tag_len + 2];
    let body_start = start + delimiter.len();
    sql[body_start..].find(delimiter).map_or(sql.len(), |offset| body_start + offset + delimiter.len())
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn splits_plain_statements_and_drops_empty_ones() {
        assert_eq!(statements("create schema a;\n\n create schema b ;;\n"), ["create schema a", "create schema b"]);
    }

    #[test]
    fn semicolons_inside_strings_names_and_comments_do_not_split() {
        let sql = "insert into t values ('a;b', 'it''s;', E'x\\';y');\n\
                   select \"odd;name\" from t; -- trailing; comment\n\
                   /* block; /* nested; */ still; */ select 2;";
        assert_eq!(
            statements(sql),
            [
                "insert into t values ('a;b', 'it''s;', E'x\\';y')",
                "select \"odd;name\" from t",
                "-- trailing; comment\n/* block; /* nested; */ still; */ select 2",
            ]
        );
    }

    #[test]
    fn function_bodies_in_dollar_quotes_stay_whole() {
        let sql = "create function f() returns int language sql as $body$ select 1; select 2 $body$;\n\
                   create function g() returns int language plpgsql as $$ begin return 1; end $$;";
        let split = statements(sql);
        assert_eq!(split.len(), 2);
        assert!(split[0].ends_with("$body$"));
        assert!(split[1].ends_with("end $$"));
    }

    #[test]
    fn a_function_that_creates_functions_stays_whole_around_its_inner_tags() {
        // The shape of 0009's create_event_outbox: $fn$ holds $sql$ strings that hold $$ bodies.
        let sql = "create function make(s text) returns void language plpgsql as $fn$\n\
                   begin\n\
                   execute format($sql$ create function %1$I.f() returns int language sql as $$ select 1; $$ $sql$, s);\n\
                   execute format($sql$ create table %1$I.t (id text check (id ~ '^a;$')) $sql$, s);\n\
                   end\n\
                   $fn$;\n\
                   select make('a');";
        let split = statements(sql);
        assert_eq!(split.len(), 2, "{split:#?}");
        assert!(split[0].starts_with("create function make") && split[0].ends_with("end\n$fn$"));
        assert_eq!(split[1], "select make('a')");
    }

    #[test]
    fn positional_parameters_are_not_dollar_quotes() {
        assert_eq!(statements("select $1; select $2"), ["select $1", "select $2"]);
    }

    #[test]
    fn a_comment_only_file_has_no_statements() {
        assert!(statements("-- nothing here;\n/* nor; here */\n").is_empty());
    }
}
