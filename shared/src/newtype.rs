//! The conversions every validated string newtype shares: `Display`, `AsRef<str>`,
//! serde through `parse` (an invalid value cannot be deserialised either), and binding as a query
//! parameter.

macro_rules! string_newtype {
    ($name:ident, $error:ty) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = $error;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                $name::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl $crate::neon::ToSql for $name {
            fn to_param(&self) -> $crate::neon::Param {
                $crate::neon::Param::text(self.0.as_str())
            }
        }
    };
}

pub(crate) use string_newtype;
