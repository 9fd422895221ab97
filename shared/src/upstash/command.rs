//! Commands as the REST API takes them: a JSON array of the command name and its arguments.

use serde_json::Value as Json;

use super::error::UpstashError;

/// One command argument.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Arg {
    Bytes(Vec<u8>),
    /// Sent as a JSON number, as Upstash's docs and SDK do (`["SET","k","v","EX",60]`).
    Int(i64),
}

impl Arg {
    fn to_json(&self, index: usize) -> Result<Json, UpstashError> {
        match self {
            Arg::Int(n) => Ok(Json::from(*n)),
            Arg::Bytes(bytes) => std::str::from_utf8(bytes)
                .map(|text| Json::String(text.to_owned()))
                .map_err(|_| UpstashError::NonUtf8Argument { index }),
        }
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Bytes(value.as_bytes().to_vec())
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Bytes(value.into_bytes())
    }
}

impl From<&String> for Arg {
    fn from(value: &String) -> Self {
        Arg::from(value.as_str())
    }
}

impl From<&[u8]> for Arg {
    fn from(value: &[u8]) -> Self {
        Arg::Bytes(value.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Arg {
    fn from(value: &[u8; N]) -> Self {
        Arg::Bytes(value.to_vec())
    }
}

impl From<Vec<u8>> for Arg {
    fn from(value: Vec<u8>) -> Self {
        Arg::Bytes(value)
    }
}

macro_rules! int_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(value: $t) -> Self {
                Arg::Int(i64::from(value))
            }
        }
    )*};
}
int_arg!(i8, i16, i32, i64, u8, u16, u32);

/// u64/usize past i64::MAX go as decimal text; Redis parses both the same way.
macro_rules! wide_int_arg {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(value: $t) -> Self {
                i64::try_from(value).map_or_else(|_| Arg::from(value.to_string()), Arg::Int)
            }
        }
    )*};
}
wide_int_arg!(u64, usize);

/// Floats go as text: Redis reads `inf`/`-inf` and decimal text; JSON has no infinities.
impl From<f64> for Arg {
    fn from(value: f64) -> Self {
        let text = if value == f64::INFINITY {
            "+inf".to_owned()
        } else if value == f64::NEG_INFINITY {
            "-inf".to_owned()
        } else {
            value.to_string()
        };
        Arg::from(text)
    }
}

/// A command built argument by argument: `Command::new("SET").arg("k").arg(b"v").arg(60)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Command {
    args: Vec<Arg>,
}

impl Command {
    pub fn new(name: &str) -> Self {
        Self { args: vec![Arg::from(name)] }
    }

    #[must_use]
    pub fn arg(mut self, arg: impl Into<Arg>) -> Self {
        self.args.push(arg.into());
        self
    }

    #[must_use]
    pub fn args<A: Into<Arg>>(mut self, args: impl IntoIterator<Item = A>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn as_args(&self) -> &[Arg] {
        &self.args
    }

    pub(crate) fn to_json(&self) -> Result<Json, UpstashError> {
        self.args
            .iter()
            .enumerate()
            .map(|(index, arg)| arg.to_json(index))
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Array)
    }
}

/// Anything that can be sent as one command: a `Command`, or a plain array such as
/// `["GET", "k"]` or `[Arg::from("SET"), Arg::from("n"), Arg::from(1)]`.
pub trait ToCommand {
    fn to_command_json(&self) -> Result<Json, UpstashError>;
}

impl ToCommand for Command {
    fn to_command_json(&self) -> Result<Json, UpstashError> {
        self.to_json()
    }
}

impl<A: Clone + Into<Arg>> ToCommand for [A] {
    fn to_command_json(&self) -> Result<Json, UpstashError> {
        self.iter()
            .enumerate()
            .map(|(index, arg)| arg.clone().into().to_json(index))
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Array)
    }
}

impl<A: Clone + Into<Arg>, const N: usize> ToCommand for [A; N] {
    fn to_command_json(&self) -> Result<Json, UpstashError> {
        self.as_slice().to_command_json()
    }
}

impl<A: Clone + Into<Arg>> ToCommand for Vec<A> {
    fn to_command_json(&self) -> Result<Json, UpstashError> {
        self.as_slice().to_command_json()
    }
}

/// Shorthand for `Command::new`.
pub fn cmd(name: &str) -> Command {
    Command::new(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_json_strings_and_integers_json_numbers() {
        let command = cmd("SET").arg("k").arg(b"v").arg(60).arg(7u64);
        assert_eq!(command.to_json().unwrap(), json!(["SET", "k", "v", 60, 7]));
    }

    #[test]
    fn integers_past_i64_go_as_text() {
        assert_eq!(cmd("X").arg(u64::MAX).to_json().unwrap(), json!(["X", "18446744073709551615"]));
    }

    #[test]
    fn floats_go_as_redis_float_text() {
        let command = cmd("ZADD").arg("z").arg(1.5).arg(f64::INFINITY).arg(f64::NEG_INFINITY);
        assert_eq!(command.to_json().unwrap(), json!(["ZADD", "z", "1.5", "+inf", "-inf"]));
    }

    #[test]
    fn non_utf8_bytes_are_refused_with_their_position() {
        let error = cmd("SET").arg("k").arg(vec![0xff, 0xfe]).to_json().unwrap_err();
        assert_eq!(error, UpstashError::NonUtf8Argument { index: 2 });
    }

    #[test]
    fn plain_arrays_are_commands_too() {
        assert_eq!(["GET", "k"].to_command_json().unwrap(), json!(["GET", "k"]));
        let mixed = vec![Arg::from("EXPIRE"), Arg::from("k"), Arg::from(60)];
        assert_eq!(mixed.to_command_json().unwrap(), json!(["EXPIRE", "k", 60]));
    }

    #[test]
    fn args_appends_many() {
        let command = cmd("DEL").args(["a", "b"]);
        assert_eq!(command.to_json().unwrap(), json!(["DEL", "a", "b"]));
    }
}
