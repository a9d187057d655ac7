//! A minimal JSON value type and compact serializer, so the probe needs no dependencies.

use std::fmt::{self, Write};

/// A JSON value; objects keep insertion order so reports read in a stable order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i128),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Builds an object from `(key, value)` pairs.
    pub fn object<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Obj(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Builds an array from anything convertible to JSON values.
    pub fn array<T: Into<Json>>(items: impl IntoIterator<Item = T>) -> Json {
        Json::Arr(items.into_iter().map(Into::into).collect())
    }
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{b}"),
            Json::Int(n) => write!(f, "{n}"),
            Json::Str(s) => write_escaped(f, s),
            Json::Arr(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(']')
            }
            Json::Obj(pairs) => {
                f.write_char('{')?;
                for (i, (key, value)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write_escaped(f, key)?;
                    write!(f, ":{value}")?;
                }
                f.write_char('}')
            }
        }
    }
}

fn write_escaped(f: &mut impl Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if u32::from(c) < 0x20 || c == '\u{7f}' => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Json {
            fn from(n: $t) -> Json {
                Json::Int(i128::from(n))
            }
        }
    )*};
}
from_int!(u16, i32, u32, i64, u64);

impl From<usize> for Json {
    fn from(n: usize) -> Json {
        // usize is at most 64 bits on every Linux target, so this never saturates.
        Json::Int(i128::try_from(n).unwrap_or(i128::MAX))
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::Str(s.to_owned())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::Str(s)
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Json {
        v.map_or(Json::Null, Into::into)
    }
}

impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(v: Vec<T>) -> Json {
        Json::array(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_strings() {
        let s = Json::from("a\"b\\c\nd\te\r\u{1}\u{7f}é/");
        assert_eq!(s.to_string(), r#""a\"b\\c\nd\te\r\u0001\u007fé/""#);
    }

    #[test]
    fn escapes_keys() {
        let v = Json::object([("k\"ey", Json::Null)]);
        assert_eq!(v.to_string(), r#"{"k\"ey":null}"#);
    }

    #[test]
    fn renders_nested_values() {
        let v = Json::object([
            ("a", Json::array([1u32, 2, 3])),
            ("b", Json::object([("c", true.into()), ("d", Json::from(None::<u32>))])),
            ("e", Json::Arr(vec![])),
            ("f", (-5i64).into()),
            ("g", u64::MAX.into()),
        ]);
        assert_eq!(
            v.to_string(),
            r#"{"a":[1,2,3],"b":{"c":true,"d":null},"e":[],"f":-5,"g":18446744073709551615}"#
        );
    }
}
