//! Query results and typed access to their columns.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;
use thiserror::Error;

use super::time::MaybeInfinite;
use super::value::Value;

/// Column metadata as Neon reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Field {
    pub name: String,
    #[serde(rename = "dataTypeID")]
    pub data_type_id: u32,
    #[serde(rename = "tableID", default)]
    pub table_id: u32,
    #[serde(rename = "columnID", default)]
    pub column_id: i16,
    #[serde(rename = "dataTypeSize", default)]
    pub data_type_size: i16,
    #[serde(rename = "dataTypeModifier", default)]
    pub data_type_modifier: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub fields: Vec<Field>,
    pub rows: Vec<Vec<Value>>,
    /// Command tag name: `SELECT`, `INSERT`, `UPDATE`, …
    pub command: String,
    /// Rows returned or affected; absent for commands whose tag carries no count (`CREATE …`).
    pub row_count: Option<u64>,
}

impl QueryResult {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn row(&self, index: usize) -> Option<Row<'_>> {
        self.rows.get(index).map(|values| Row { fields: &self.fields, values })
    }

    pub fn first(&self) -> Option<Row<'_>> {
        self.row(0)
    }

    /// The only row: for lookups by key and `INSERT … RETURNING`.
    pub fn one(&self) -> Result<Row<'_>, RowError> {
        match self.rows.as_slice() {
            [values] => Ok(Row { fields: &self.fields, values }),
            rows => Err(RowError::NotOneRow(rows.len())),
        }
    }

    /// The first column of the only row, JSON the statement built (`json_agg`, `row_to_json`, a
    /// function answering jsonb) read as `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, RowError> {
        let value: serde_json::Value = self.one()?.get(0)?;
        serde_json::from_value(value).map_err(|error| RowError::Json(error.to_string()))
    }

    pub fn iter(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(|values| Row { fields: &self.fields, values })
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|field| field.name == name)
    }
}

/// A borrowed row with its column metadata.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    fields: &'a [Field],
    values: &'a [Value],
}

impl<'a> Row<'a> {
    /// The column converted to `T`; an index (`0`) or a column name (`"id"`).
    pub fn get<T: FromValue>(&self, column: impl ColumnIndex) -> Result<T, RowError> {
        let index = column.index_in(self.fields)?;
        T::from_value(self.value_at(index)?)
            .map_err(|source| RowError::Value { column: self.fields[index].name.clone(), source })
    }

    pub fn value(&self, column: impl ColumnIndex) -> Result<&'a Value, RowError> {
        self.value_at(column.index_in(self.fields)?)
    }

    /// Checked because `QueryResult`'s fields are public and may be built by hand.
    fn value_at(&self, index: usize) -> Result<&'a Value, RowError> {
        self.values.get(index).ok_or(RowError::IndexOutOfRange { index, len: self.values.len() })
    }

    pub fn values(&self) -> &'a [Value] {
        self.values
    }

    pub fn fields(&self) -> &'a [Field] {
        self.fields
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// How a column is named in `Row::get`: by position or by name.
pub trait ColumnIndex {
    fn index_in(&self, fields: &[Field]) -> Result<usize, RowError>;
}

impl ColumnIndex for usize {
    fn index_in(&self, fields: &[Field]) -> Result<usize, RowError> {
        if *self < fields.len() {
            Ok(*self)
        } else {
            Err(RowError::IndexOutOfRange { index: *self, len: fields.len() })
        }
    }
}

impl ColumnIndex for &str {
    fn index_in(&self, fields: &[Field]) -> Result<usize, RowError> {
        fields.iter().position(|field| field.name == *self).ok_or_else(|| RowError::NoSuchColumn((*self).to_owned()))
    }
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum RowError {
    #[error("column index {index} out of range ({len} columns)")]
    IndexOutOfRange { index: usize, len: usize },
    #[error("no column named {0:?}")]
    NoSuchColumn(String),
    #[error("column {column:?}: {source}")]
    Value { column: String, source: ValueError },
    #[error("expected exactly one row, got {0}")]
    NotOneRow(usize),
    #[error("the JSON column does not match its type: {0}")]
    Json(String),
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum ValueError {
    #[error("unexpected NULL")]
    UnexpectedNull,
    #[error("expected {expected}, found {found}")]
    WrongType { expected: &'static str, found: &'static str },
    #[error("{value} does not fit in {target}")]
    OutOfRange { target: &'static str, value: String },
    #[error("expected a finite {0}, found infinity")]
    Infinite(&'static str),
}

/// Conversion from a decoded column value.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Result<Self, ValueError>;
}

fn mismatch<T>(expected: &'static str, found: &Value) -> Result<T, ValueError> {
    match found {
        Value::Null => Err(ValueError::UnexpectedNull),
        other => Err(ValueError::WrongType { expected, found: other.kind() }),
    }
}

impl FromValue for Value {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        Ok(value.clone())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Bool(b) => Ok(*b),
            other => mismatch("bool", other),
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value) -> Result<Self, ValueError> {
                match value {
                    Value::Int(i) => <$t>::try_from(*i).map_err(|_| ValueError::OutOfRange {
                        target: stringify!($t),
                        value: i.to_string(),
                    }),
                    other => mismatch("integer", other),
                }
            }
        }
    )*};
}
from_int!(i16, i32, i64, u32, u64);

impl FromValue for f64 {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Float(f) => Ok(*f),
            other => mismatch("float", other),
        }
    }
}

impl FromValue for f32 {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        // float4 columns round-trip exactly through f64.
        f64::from_value(value).map(|f| f as f32)
    }
}

/// Text-like values: text types, numeric (exact digits), uuid, and unknown types.
impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Text(s) | Value::Numeric(s) | Value::Uuid(s) => Ok(s.clone()),
            other => mismatch("text", other),
        }
    }
}

impl FromValue for serde_json::Value {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Json(json) => Ok(json.clone()),
            other => mismatch("json", other),
        }
    }
}

/// bytea. (`u8` is not `FromValue`, so this cannot be read as an array.)
impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Bytea(bytes) => Ok(bytes.clone()),
            other => mismatch("bytea", other),
        }
    }
}

macro_rules! from_time {
    ($t:ty, $variant:ident, $name:literal) => {
        impl FromValue for MaybeInfinite<$t> {
            fn from_value(value: &Value) -> Result<Self, ValueError> {
                match value {
                    Value::$variant(v) => Ok(*v),
                    other => mismatch($name, other),
                }
            }
        }

        impl FromValue for $t {
            fn from_value(value: &Value) -> Result<Self, ValueError> {
                MaybeInfinite::<$t>::from_value(value)?.finite().ok_or(ValueError::Infinite($name))
            }
        }
    };
}
from_time!(DateTime<Utc>, TimestampTz, "timestamptz");
from_time!(NaiveDateTime, Timestamp, "timestamp");
from_time!(NaiveDate, Date, "date");

/// Arrays (nested `Vec`s for more dimensions); use `Vec<Option<T>>` when elements may be NULL.
impl<T: FromValue> FromValue for Vec<T> {
    fn from_value(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Array(elements) => elements.iter().map(T::from_value).collect(),
            other => mismatch("array", other),
        }
    }
}
