//! `org.systemd.property.<Name>` annotations: extra properties for the
//! container's unit, as runc takes them. The value is GVariant text
//! (what `busctl` and `gdbus` print): `'inactive-or-failed'`,
//! `uint64 123456789`, `true`, `@as ['a', 'b']`. Names ending in a
//! lowercase letter and "Sec" (TimeoutStopSec) are systemd's documented
//! spelling; over D-Bus the property is "USec", in microseconds, and so
//! they are converted, as runc does.
//!
//! Only the subset units use is parsed: strings, booleans, the integer
//! and double types (with their type keyword or an `@t`-style
//! annotation; an integer alone is an int32, as GVariant has it), and
//! arrays of one of those. Anything else is refused naming the
//! annotation, before the container is created.

use crate::dbus::Value;
use crate::error::{Error, Result};
use std::collections::HashMap;

const PREFIX: &str = "org.systemd.property.";

/// The unit properties the config's annotations ask for, sorted by name
/// so that the unit gets them in a stable order.
pub fn properties(annotations: &HashMap<String, String>) -> Result<Vec<Value>> {
    let mut keys: Vec<&String> = annotations
        .keys()
        .filter(|k| k.starts_with(PREFIX))
        .collect();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let field = format!("annotations[{key:?}]");
        let mut name = key[PREFIX.len()..].to_string();
        if name.len() < 3 || !name.bytes().all(|c| c.is_ascii_alphabetic()) {
            return Err(Error::config(
                field,
                format!("{name:?} is not a systemd property name (3 or more latin letters)"),
            ));
        }
        let text = &annotations[key];
        let mut value = parse(text).map_err(|e| {
            Error::config(
                &field,
                format!("{text:?} is not a value berth can read: {e}"),
            )
        })?;
        if let Some(stem) = name.strip_suffix("Sec")
            && stem.ends_with(|c: char| c.is_ascii_lowercase())
        {
            value = Value::U64(usec(&value).ok_or_else(|| {
                Error::config(
                    &field,
                    format!("{text:?}: a ...Sec property takes a number of seconds"),
                )
            })?);
            name = format!("{stem}USec");
        }
        out.push(Value::Struct(vec![Value::str(name), Value::variant(value)]));
    }
    Ok(out)
}

/// Seconds as microseconds, from any numeric value (negative is 0).
fn usec(v: &Value) -> Option<u64> {
    const M: u64 = 1_000_000;
    let whole = |n: i64| Some((n.max(0) as u64).saturating_mul(M));
    match v {
        Value::Byte(n) => whole(*n as i64),
        Value::I16(n) => whole(*n as i64),
        Value::U16(n) => whole(*n as i64),
        Value::I32(n) => whole(*n as i64),
        Value::U32(n) => whole(*n as i64),
        Value::I64(n) => whole(*n),
        Value::U64(n) => Some(n.saturating_mul(M)),
        Value::F64(f) => Some((f.max(0.0) * M as f64) as u64),
        _ => None,
    }
}

/// One GVariant text value, all of `text`.
pub fn parse(text: &str) -> std::result::Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value(None)?;
    p.blank();
    if p.i != p.s.len() {
        return Err(format!("unexpected {:?} after the value", &text[p.i..]));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// The type keywords of the text format and the signature each means.
const KEYWORDS: &[(&str, &str)] = &[
    ("boolean", "b"),
    ("byte", "y"),
    ("int16", "n"),
    ("uint16", "q"),
    ("int32", "i"),
    ("uint32", "u"),
    ("int64", "x"),
    ("uint64", "t"),
    ("double", "d"),
    ("string", "s"),
];

impl Parser<'_> {
    fn blank(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// A run of letters, digits and the characters numbers use.
    fn word(&mut self) -> &str {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || b"+-._".contains(&c))
        {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default()
    }

    /// A value, of signature `want` when the context gives one.
    fn value(&mut self, want: Option<&str>) -> std::result::Result<Value, String> {
        self.blank();
        match self.peek() {
            None => Err("a value is missing".into()),
            Some(b'@') => {
                self.i += 1;
                let start = self.i;
                while self.peek().is_some_and(|c| !c.is_ascii_whitespace()) {
                    self.i += 1;
                }
                let sig = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                if want.is_some_and(|w| w != sig) {
                    return Err(format!(
                        "@{sig} where {} is expected",
                        want.unwrap_or_default()
                    ));
                }
                self.value(Some(&sig))
            }
            Some(b'[') => self.array(want),
            Some(q @ (b'\'' | b'"')) => {
                if want.is_some_and(|w| w != "s") {
                    return Err(format!(
                        "a string where {} is expected",
                        want.unwrap_or_default()
                    ));
                }
                self.string(q)
            }
            Some(_) => {
                let w = self.word().to_string();
                if let Some((_, sig)) = KEYWORDS.iter().find(|(k, _)| *k == w) {
                    if want.is_some_and(|x| x != *sig) {
                        return Err(format!(
                            "{w} where {} is expected",
                            want.unwrap_or_default()
                        ));
                    }
                    return self.value(Some(sig));
                }
                scalar(&w, want)
            }
        }
    }

    fn string(&mut self, quote: u8) -> std::result::Result<Value, String> {
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err("the string is not closed".into());
            };
            self.i += 1;
            match c {
                _ if c == quote => break,
                b'\\' => {
                    let e = self.peek().ok_or("the string is not closed")?;
                    self.i += 1;
                    out.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        b'\\' | b'\'' | b'"' => e,
                        _ => return Err(format!("escape \\{} is not supported", e as char)),
                    });
                }
                _ => out.push(c),
            }
        }
        String::from_utf8(out)
            .map(Value::Str)
            .map_err(|_| "the string is not UTF-8".into())
    }

    fn array(&mut self, want: Option<&str>) -> std::result::Result<Value, String> {
        let elem = match want {
            Some(w) => Some(
                w.strip_prefix('a')
                    .ok_or_else(|| format!("an array where {w} is expected"))?
                    .to_string(),
            ),
            None => None,
        };
        self.i += 1;
        let mut items = Vec::new();
        let mut sig = elem;
        loop {
            self.blank();
            if self.peek() == Some(b']') {
                self.i += 1;
                break;
            }
            if !items.is_empty() {
                if self.peek() != Some(b',') {
                    return Err("expected , or ] in the array".into());
                }
                self.i += 1;
            }
            let v = self.value(sig.as_deref())?;
            if matches!(v, Value::Array(..)) {
                return Err("arrays of arrays are not supported".into());
            }
            sig.get_or_insert_with(|| v.signature());
            items.push(v);
        }
        let sig = sig.ok_or("an empty array needs its type: @as []")?;
        Ok(Value::Array(sig, items))
    }
}

/// A bare word: a boolean or a number, of the type `want` names or the
/// text format's default (int32, or double with a point or exponent).
fn scalar(w: &str, want: Option<&str>) -> std::result::Result<Value, String> {
    let bad = || {
        format!(
            "{w:?} is not a value of type {}",
            want.unwrap_or("b, i or d")
        )
    };
    let int = |w: &str| -> Option<i128> {
        let (neg, digits) = match w.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, w.strip_prefix('+').unwrap_or(w)),
        };
        let n = match digits.strip_prefix("0x") {
            Some(h) => i128::from_str_radix(h, 16).ok()?,
            None => digits.parse::<i128>().ok()?,
        };
        Some(if neg { -n } else { n })
    };
    match (w, want) {
        ("true" | "false", None | Some("b")) => return Ok(Value::Bool(w == "true")),
        (_, Some("b")) => return Err(bad()),
        _ => {}
    }
    let floaty = w.contains(['.', 'e', 'E']) && !w.starts_with("0x");
    let sig = want.unwrap_or(if floaty { "d" } else { "i" });
    if sig == "d" {
        return w.parse::<f64>().map(Value::F64).map_err(|_| bad());
    }
    let n = int(w).ok_or_else(bad)?;
    let v = match sig {
        "y" => u8::try_from(n).ok().map(Value::Byte),
        "n" => i16::try_from(n).ok().map(Value::I16),
        "q" => u16::try_from(n).ok().map(Value::U16),
        "i" => i32::try_from(n).ok().map(Value::I32),
        "u" => u32::try_from(n).ok().map(Value::U32),
        "x" => i64::try_from(n).ok().map(Value::I64),
        "t" => u64::try_from(n).ok().map(Value::U64),
        _ => return Err(format!("type {sig} is not supported")),
    };
    v.ok_or_else(|| format!("{w} is out of range for type {sig}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Value {
        parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn scalars_with_and_without_types() {
        assert_eq!(p("'inactive-or-failed'"), Value::str("inactive-or-failed"));
        assert_eq!(p(r#""it's""#), Value::str("it's"));
        assert_eq!(p(r"'a\'b'"), Value::str("a'b"));
        assert_eq!(p("uint64 123456789"), Value::U64(123456789));
        assert_eq!(p("  uint32 7 "), Value::U32(7));
        assert_eq!(p("int64 -3"), Value::I64(-3));
        assert_eq!(p("@t 18446744073709551615"), Value::U64(u64::MAX));
        assert_eq!(p("@u 0x10"), Value::U32(16));
        assert_eq!(p("true"), Value::Bool(true));
        assert_eq!(p("boolean false"), Value::Bool(false));
        // The format's defaults: int32, double.
        assert_eq!(p("42"), Value::I32(42));
        assert_eq!(p("1.5"), Value::F64(1.5));
        assert_eq!(p("double 2"), Value::F64(2.0));
    }

    #[test]
    fn arrays() {
        assert_eq!(
            p("['a', \"b\"]"),
            Value::Array("s".into(), vec![Value::str("a"), Value::str("b")])
        );
        assert_eq!(p("@as []"), Value::Array("s".into(), vec![]));
        assert_eq!(
            p("@at [1, 2]"),
            Value::Array("t".into(), vec![Value::U64(1), Value::U64(2)])
        );
        assert_eq!(
            p("[uint32 1, 2]"),
            Value::Array("u".into(), vec![Value::U32(1), Value::U32(2)])
        );
    }

    #[test]
    fn what_is_not_read_is_refused() {
        for bad in [
            "",
            "'open",
            "uint64 -1",
            "uint32 4294967296",
            "byte 256",
            "[]",
            "['a', 1]",
            "[1 2]",
            "[[1]]",
            "<'variant'>",
            "{'a': 1}",
            "'x' trailing",
            "@s 5",
            "maybe",
            r"'\q'",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    fn annotations(kv: &[(&str, &str)]) -> HashMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn shown(props: &[Value]) -> Vec<(String, Value)> {
        props
            .iter()
            .map(|p| match p {
                Value::Struct(f) => match (&f[0], &f[1]) {
                    (Value::Str(n), Value::Variant(v)) => (n.clone(), (**v).clone()),
                    _ => panic!("{p:?}"),
                },
                _ => panic!("{p:?}"),
            })
            .collect()
    }

    #[test]
    fn annotations_become_properties() {
        let a = annotations(&[
            ("org.systemd.property.CollectMode", "'inactive-or-failed'"),
            ("org.systemd.property.TimeoutStopUSec", "uint64 123456789"),
            ("org.systemd.property.TimeoutStopSec", "3"),
            ("org.systemd.property.RuntimeMaxSec", "1.5"),
            ("org.systemd.property.After", "['a.service', 'b.service']"),
            ("io.podman.annotations.other", "ignored"),
        ]);
        assert_eq!(
            shown(&properties(&a).unwrap()),
            vec![
                (
                    "After".into(),
                    Value::Array(
                        "s".into(),
                        vec![Value::str("a.service"), Value::str("b.service")]
                    )
                ),
                ("CollectMode".into(), Value::str("inactive-or-failed")),
                ("RuntimeMaxUSec".into(), Value::U64(1_500_000)),
                ("TimeoutStopUSec".into(), Value::U64(3_000_000)),
                ("TimeoutStopUSec".into(), Value::U64(123456789)),
            ]
        );
    }

    #[test]
    fn bad_annotations_are_named() {
        let e = properties(&annotations(&[(
            "org.systemd.property.Collect-Mode",
            "'x'",
        )]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("org.systemd.property.Collect-Mode"), "{e}");
        let e = properties(&annotations(&[(
            "org.systemd.property.CollectMode",
            "inactive",
        )]))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("annotations[\"org.systemd.property.CollectMode\"]")
                && e.contains("inactive"),
            "{e}"
        );
        let e = properties(&annotations(&[(
            "org.systemd.property.TimeoutStopSec",
            "'5s'",
        )]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("TimeoutStopSec") && e.contains("seconds"), "{e}");
    }
}
