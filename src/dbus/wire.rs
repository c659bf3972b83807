//! The D-Bus wire format: values, signatures and whole messages, as pure
//! functions over byte buffers (the socket side is in `mod.rs`).
//!
//! Only little-endian messages are written and read: systemd and
//! dbus-daemon send in the host's byte order, and berth is x86-64 only.
//! Every value is aligned to its natural boundary counted from the start
//! of the message; a body starts on an 8-byte boundary, so a body
//! marshalled into a buffer of its own has the same padding.

use crate::error::{Error, Result};

pub const METHOD_CALL: u8 = 1;
pub const METHOD_RETURN: u8 = 2;
pub const ERROR: u8 = 3;
pub const SIGNAL: u8 = 4;

/// The specification's limit on a whole message.
const MAX_MESSAGE: usize = 128 << 20;
/// Containers in containers (variants in variants) deeper than this are
/// refused rather than recursed into.
const MAX_DEPTH: usize = 64;

/// One D-Bus value. Arrays carry their element signature so that an
/// empty one still has a type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    F64(f64),
    /// A unix fd, as its index in the message's fd list ('h').
    Fd(u32),
    Str(String),
    Path(String),
    Sig(String),
    Array(String, Vec<Value>),
    Struct(Vec<Value>),
    DictEntry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn variant(v: Value) -> Value {
        Value::Variant(Box::new(v))
    }

    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I16(_) => "n".into(),
            Value::U16(_) => "q".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::F64(_) => "d".into(),
            Value::Fd(_) => "h".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Sig(_) => "g".into(),
            Value::Array(elem, _) => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Sig(s) => Some(s),
            _ => None,
        }
    }
}

/// The boundary a type starting with `code` is aligned to.
fn alignment(code: u8) -> usize {
    match code {
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b'h' | b's' | b'o' | b'a' => 4,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        _ => 1, // y, g, v
    }
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::msg(format!("D-Bus message: {what}"))
}

/// Split the first complete type off a signature: "a{sv}as" gives
/// ("a{sv}", "as").
pub fn split_first(sig: &str) -> Result<(&str, &str)> {
    let b = sig.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'a') {
        i += 1;
    }
    match b.get(i) {
        Some(b'(' | b'{') => {
            let mut depth = 0usize;
            loop {
                match b.get(i) {
                    Some(b'(' | b'{') => depth += 1,
                    Some(b')' | b'}') => depth -= 1,
                    Some(_) => {}
                    None => return Err(bad(format!("unbalanced signature {sig:?}"))),
                }
                i += 1;
                if depth == 0 {
                    break;
                }
            }
        }
        Some(c) if b"ybnqiuxtdhsogv".contains(c) => i += 1,
        _ => return Err(bad(format!("bad signature {sig:?}"))),
    }
    Ok((&sig[..i], &sig[i..]))
}

/// Appends values to a buffer whose offset 0 is 8-aligned in the message.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn pad(&mut self, align: usize) {
        while !self.buf.len().is_multiple_of(align) {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    pub fn put(&mut self, v: &Value) {
        match v {
            Value::Byte(x) => self.buf.push(*x),
            Value::Bool(x) => self.u32(u32::from(*x)),
            Value::I16(x) => {
                self.pad(2);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U16(x) => {
                self.pad(2);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::I32(x) => {
                self.pad(4);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U32(x) | Value::Fd(x) => self.u32(*x),
            Value::I64(x) => {
                self.pad(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::U64(x) => {
                self.pad(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::F64(x) => {
                self.pad(8);
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
            Value::Str(s) | Value::Path(s) => self.string(s),
            Value::Sig(s) => {
                self.buf.push(s.len() as u8);
                self.buf.extend_from_slice(s.as_bytes());
                self.buf.push(0);
            }
            Value::Array(elem, items) => {
                self.pad(4);
                let len_at = self.buf.len();
                self.buf.extend_from_slice(&[0; 4]);
                // The padding to the first element is there even when the
                // array is empty, and is not counted in its length.
                self.pad(alignment(elem.as_bytes().first().copied().unwrap_or(b'y')));
                let start = self.buf.len();
                for item in items {
                    debug_assert_eq!(&item.signature(), elem);
                    self.put(item);
                }
                let n = (self.buf.len() - start) as u32;
                self.buf[len_at..len_at + 4].copy_from_slice(&n.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                for f in fields {
                    self.put(f);
                }
            }
            Value::DictEntry(k, v) => {
                self.pad(8);
                self.put(k);
                self.put(v);
            }
            Value::Variant(inner) => {
                self.put(&Value::Sig(inner.signature()));
                self.put(inner);
            }
        }
    }
}

/// Reads values from a buffer whose offset 0 is 8-aligned in the message.
pub struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn pad(&mut self, align: usize) -> Result<()> {
        let to = self.pos.next_multiple_of(align);
        if to > self.buf.len() {
            return Err(bad("truncated padding"));
        }
        self.pos = to;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| bad("truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.pad(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn text(&mut self, len: usize) -> Result<String> {
        let bytes = self.take(len)?;
        if self.take(1)? != [0] {
            return Err(bad("string without its terminating nul"));
        }
        String::from_utf8(bytes.to_vec()).map_err(|_| bad("string is not UTF-8"))
    }

    /// Every complete type of `sig`, in order.
    pub fn read(&mut self, sig: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut rest = sig;
        while !rest.is_empty() {
            let (t, r) = split_first(rest)?;
            out.push(self.value(t, 0)?);
            rest = r;
        }
        Ok(out)
    }

    fn value(&mut self, t: &str, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(bad("nested too deeply"));
        }
        Ok(match t.as_bytes()[0] {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match u32::from_le_bytes(self.fixed()?) {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => return Err(bad(format!("boolean {n}"))),
            },
            b'n' => Value::I16(i16::from_le_bytes(self.fixed()?)),
            b'q' => Value::U16(u16::from_le_bytes(self.fixed()?)),
            b'i' => Value::I32(i32::from_le_bytes(self.fixed()?)),
            b'u' => Value::U32(u32::from_le_bytes(self.fixed()?)),
            b'h' => Value::Fd(u32::from_le_bytes(self.fixed()?)),
            b'x' => Value::I64(i64::from_le_bytes(self.fixed()?)),
            b't' => Value::U64(u64::from_le_bytes(self.fixed()?)),
            b'd' => Value::F64(f64::from_le_bytes(self.fixed()?)),
            b's' | b'o' => {
                let len = u32::from_le_bytes(self.fixed()?) as usize;
                let s = self.text(len)?;
                if t == "o" {
                    Value::Path(s)
                } else {
                    Value::Str(s)
                }
            }
            b'g' => {
                let len = self.take(1)?[0] as usize;
                Value::Sig(self.text(len)?)
            }
            b'a' => {
                let len = u32::from_le_bytes(self.fixed()?) as usize;
                let elem = &t[1..];
                self.pad(alignment(elem.as_bytes()[0]))?;
                let end = self
                    .pos
                    .checked_add(len)
                    .filter(|e| *e <= self.buf.len())
                    .ok_or_else(|| bad("array longer than the message"))?;
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem, depth + 1)?);
                }
                if self.pos != end {
                    return Err(bad("array length does not end on an element"));
                }
                Value::Array(elem.to_string(), items)
            }
            b'(' => {
                self.pad(8)?;
                let mut fields = Vec::new();
                let mut rest = &t[1..t.len() - 1];
                while !rest.is_empty() {
                    let (f, r) = split_first(rest)?;
                    fields.push(self.value(f, depth + 1)?);
                    rest = r;
                }
                Value::Struct(fields)
            }
            b'{' => {
                self.pad(8)?;
                let (k, v) = split_first(&t[1..t.len() - 1])?;
                let (v, none) = split_first(v)?;
                if !none.is_empty() {
                    return Err(bad(format!("dict entry {t} has more than two fields")));
                }
                let k = self.value(k, depth + 1)?;
                let v = self.value(v, depth + 1)?;
                Value::DictEntry(Box::new(k), Box::new(v))
            }
            b'v' => {
                let len = self.take(1)?[0] as usize;
                let sig = self.text(len)?;
                let (one, rest) = split_first(&sig)?;
                if !rest.is_empty() {
                    return Err(bad(format!("variant signature {sig:?} is not one type")));
                }
                Value::Variant(Box::new(self.value(one, depth + 1)?))
            }
            c => return Err(bad(format!("unknown type code {:?}", c as char))),
        })
    }
}

/// A message's header fields and body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    pub kind: u8,
    pub flags: u8,
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

impl Message {
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Writer::default();
        for v in &self.body {
            body.put(v);
        }
        let sig: String = self.body.iter().map(Value::signature).collect();
        let field = |code: u8, v: Value| Value::Struct(vec![Value::Byte(code), Value::variant(v)]);
        let mut fields = Vec::new();
        // libdbus's order (path, destination, interface, member...);
        // any order is valid.
        if let Some(p) = &self.path {
            fields.push(field(1, Value::Path(p.clone())));
        }
        if let Some(d) = &self.destination {
            fields.push(field(6, Value::str(d)));
        }
        if let Some(i) = &self.interface {
            fields.push(field(2, Value::str(i)));
        }
        if let Some(m) = &self.member {
            fields.push(field(3, Value::str(m)));
        }
        if let Some(e) = &self.error_name {
            fields.push(field(4, Value::str(e)));
        }
        if let Some(r) = self.reply_serial {
            fields.push(field(5, Value::U32(r)));
        }
        if let Some(s) = &self.sender {
            fields.push(field(7, Value::str(s)));
        }
        if !sig.is_empty() {
            fields.push(field(8, Value::Sig(sig)));
        }
        let mut w = Writer::default();
        w.buf.extend_from_slice(&[b'l', self.kind, self.flags, 1]);
        w.put(&Value::U32(body.buf.len() as u32));
        w.put(&Value::U32(self.serial));
        w.put(&Value::Array("(yv)".into(), fields));
        w.pad(8);
        w.buf.extend_from_slice(&body.buf);
        w.buf
    }

    /// The first error name and message of an error reply.
    pub fn error_text(&self) -> String {
        self.body
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
}

/// How long the message whose first 16 bytes are `head` is, in all.
pub fn message_len(head: &[u8]) -> Result<usize> {
    if head.len() < 16 {
        return Err(bad("header shorter than 16 bytes"));
    }
    if head[0] != b'l' {
        return Err(bad(format!(
            "byte order {:?} (only little-endian is supported)",
            head[0] as char
        )));
    }
    let word = |at: usize| u32::from_le_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let (body, fields) = (word(4) as usize, word(12) as usize);
    let total = (16 + fields).next_multiple_of(8) + body;
    if total > MAX_MESSAGE {
        return Err(bad(format!("{total} bytes is over the 128 MiB limit")));
    }
    Ok(total)
}

/// Parse one whole message (exactly `message_len` bytes).
pub fn decode(buf: &[u8]) -> Result<Message> {
    let total = message_len(buf)?;
    if buf.len() != total {
        return Err(bad(format!("{} bytes, header says {total}", buf.len())));
    }
    let mut r = Reader::new(buf);
    let fixed = r.take(4)?;
    let (kind, flags, version) = (fixed[1], fixed[2], fixed[3]);
    if version != 1 {
        return Err(bad(format!("protocol version {version}")));
    }
    let head = r.read("uua(yv)")?;
    let (Value::U32(body_len), Value::U32(serial), Value::Array(_, fields)) =
        (&head[0], &head[1], &head[2])
    else {
        unreachable!("read returns the types asked for");
    };
    r.pad(8)?;
    let mut m = Message {
        kind,
        flags,
        serial: *serial,
        ..Message::default()
    };
    let mut sig = String::new();
    for f in fields {
        let Value::Struct(pair) = f else { continue };
        let (Value::Byte(code), Value::Variant(v)) = (&pair[0], &pair[1]) else {
            continue;
        };
        let text = v.as_str().map(String::from);
        match (code, v.as_ref()) {
            (1, _) => m.path = text,
            (2, _) => m.interface = text,
            (3, _) => m.member = text,
            (4, _) => m.error_name = text,
            (5, Value::U32(n)) => m.reply_serial = Some(*n),
            (6, _) => m.destination = text,
            (7, _) => m.sender = text,
            (8, _) => sig = text.unwrap_or_default(),
            // Unknown fields must be ignored (UNIX_FDS among them: berth
            // never asks for fds).
            _ => {}
        }
    }
    let body = &buf[r.pos..];
    if body.len() != *body_len as usize {
        return Err(bad("body length does not match the header"));
    }
    let mut br = Reader::new(body);
    m.body = br.read(&sig)?;
    if br.pos != body.len() {
        return Err(bad(format!("body longer than its signature {sig:?}")));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(v: &Value) -> Vec<u8> {
        let mut w = Writer::default();
        w.put(v);
        w.buf
    }

    /// The Hello call every bus client sends first, as libdbus clients
    /// send it (seen in strace of dbus-send): 128 bytes, fields array of
    /// 0x6e bytes.
    #[test]
    fn hello_matches_the_well_known_bytes() {
        let m = Message {
            kind: METHOD_CALL,
            serial: 1,
            path: Some("/org/freedesktop/DBus".into()),
            destination: Some("org.freedesktop.DBus".into()),
            interface: Some("org.freedesktop.DBus".into()),
            member: Some("Hello".into()),
            ..Message::default()
        };
        let want: &[u8] = b"l\x01\x00\x01\x00\x00\x00\x00\x01\x00\x00\x00n\x00\x00\x00\
\x01\x01o\x00\x15\x00\x00\x00/org/freedesktop/DBus\x00\x00\x00\
\x06\x01s\x00\x14\x00\x00\x00org.freedesktop.DBus\x00\x00\x00\x00\
\x02\x01s\x00\x14\x00\x00\x00org.freedesktop.DBus\x00\x00\x00\x00\
\x03\x01s\x00\x05\x00\x00\x00Hello\x00\x00\x00";
        let got = m.encode();
        assert_eq!(got.len(), 128);
        assert_eq!(got, want);
        assert_eq!(decode(&got).unwrap(), m);
    }

    #[test]
    fn basic_types_are_aligned_to_their_size() {
        // y then t: seven bytes of padding before the u64.
        let mut w = Writer::default();
        w.put(&Value::Byte(7));
        w.put(&Value::U64(0x0102_0304_0506_0708));
        assert_eq!(
            w.buf,
            [7, 0, 0, 0, 0, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1],
            "y t"
        );
        // y then n then i: 1 pad to 2, then 0 pad to 4.
        let mut w = Writer::default();
        w.put(&Value::Byte(1));
        w.put(&Value::I16(-2));
        w.put(&Value::I32(3));
        assert_eq!(w.buf, [1, 0, 0xfe, 0xff, 3, 0, 0, 0]);
        // g: length byte, no alignment, nul-terminated.
        assert_eq!(bytes(&Value::Sig("a(sv)".into())), b"\x05a(sv)\x00");
        assert_eq!(bytes(&Value::Bool(true)), [1, 0, 0, 0]);
    }

    #[test]
    fn a_property_array_is_padded_to_its_structs() {
        // a(sv) holding ("Delegate", <true>): length 20 counted from the
        // first struct at 8; "Delegate" ends at 21; the variant's
        // signature "b" at 21..24; the boolean at 24.
        let v = Value::Array(
            "(sv)".into(),
            vec![Value::Struct(vec![
                Value::str("Delegate"),
                Value::variant(Value::Bool(true)),
            ])],
        );
        assert_eq!(v.signature(), "a(sv)");
        let want: &[u8] = b"\x14\x00\x00\x00\x00\x00\x00\x00\
\x08\x00\x00\x00Delegate\x00\x01b\x00\x01\x00\x00\x00";
        assert_eq!(bytes(&v), want);
        assert_eq!(Reader::new(want).read("a(sv)").unwrap(), vec![v]);
    }

    #[test]
    fn empty_arrays_keep_the_padding_to_their_element() {
        // a(ss) empty: length 0, then 4 bytes of padding to 8 anyway.
        let v = Value::Array("(ss)".into(), vec![]);
        assert_eq!(bytes(&v), [0, 0, 0, 0, 0, 0, 0, 0]);
        // au empty: no padding needed after the length.
        assert_eq!(bytes(&Value::Array("u".into(), vec![])), [0, 0, 0, 0]);
        // A byte then an empty a(ss): length at 4, padding to 8.
        let mut w = Writer::default();
        w.put(&Value::Byte(9));
        w.put(&v);
        assert_eq!(w.buf, [9, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn a_variant_pads_its_value_not_its_signature() {
        // v holding t: signature at 0..3, the u64 at 8.
        let v = Value::variant(Value::U64(u64::MAX));
        assert_eq!(
            bytes(&v),
            [
                1, b't', 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255
            ]
        );
        // v holding au [1234]: signature "au" at 0..4, length at 4, pid at 8.
        let v = Value::variant(Value::Array("u".into(), vec![Value::U32(1234)]));
        assert_eq!(bytes(&v), [2, b'a', b'u', 0, 4, 0, 0, 0, 0xd2, 0x04, 0, 0]);
    }

    #[test]
    fn signatures_split_into_complete_types() {
        assert_eq!(split_first("a{sv}as").unwrap(), ("a{sv}", "as"));
        assert_eq!(split_first("(uoss)").unwrap(), ("(uoss)", ""));
        assert_eq!(split_first("aa(s(ii))u").unwrap(), ("aa(s(ii))", "u"));
        assert_eq!(split_first("ssa(sv)").unwrap(), ("s", "sa(sv)"));
        assert!(split_first("(ss").is_err());
        assert!(split_first("a").is_err());
        assert!(split_first("z").is_err());
    }

    #[test]
    fn a_job_removed_signal_decodes() {
        // systemd's JobRemoved(uoss) as it arrives on the private socket.
        let m = Message {
            kind: SIGNAL,
            serial: 77,
            path: Some("/org/freedesktop/systemd1".into()),
            interface: Some("org.freedesktop.systemd1.Manager".into()),
            member: Some("JobRemoved".into()),
            body: vec![
                Value::U32(12),
                Value::Path("/org/freedesktop/systemd1/job/12".into()),
                Value::str("berth-x.scope"),
                Value::str("done"),
            ],
            ..Message::default()
        };
        let b = m.encode();
        assert_eq!(message_len(&b[..16]).unwrap(), b.len());
        assert_eq!(decode(&b).unwrap(), m);
        // The body, 73 bytes: u32 12 at 0; the job path (32 bytes) with
        // its length at 4, nul at 40; padding to 44; the unit name (13)
        // with its length at 44, nul at 61; padding to 64; "done" with
        // its length at 64, nul at 72.
        let body = &b[b.len() - 73..];
        assert_eq!(&body[..8], &[12, 0, 0, 0, 32, 0, 0, 0]);
        assert_eq!(&body[40..48], &[0, 0, 0, 0, 13, 0, 0, 0]);
        assert_eq!(&body[61..68], &[0, 0, 0, 4, 0, 0, 0]);
        assert_eq!(&body[68..], b"done\0");
    }

    #[test]
    fn dicts_and_nested_variants_round_trip() {
        let v = Value::Array(
            "{sv}".into(),
            vec![Value::DictEntry(
                Box::new(Value::str("Version")),
                Box::new(Value::variant(Value::str("252.30-1~deb12u2"))),
            )],
        );
        let m = Message {
            kind: METHOD_RETURN,
            serial: 3,
            reply_serial: Some(2),
            body: vec![Value::str("x"), v, Value::F64(1.5), Value::I64(-1)],
            ..Message::default()
        };
        assert_eq!(decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let good = Message {
            kind: METHOD_RETURN,
            serial: 3,
            reply_serial: Some(2),
            body: vec![Value::str("hello")],
            ..Message::default()
        }
        .encode();
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err());
        }
        let mut big_endian = good.clone();
        big_endian[0] = b'B';
        assert!(decode(&big_endian).is_err());
        // A string whose length runs past the end.
        assert!(Reader::new(&[200, 0, 0, 0, b'a', 0]).read("s").is_err());
        // A boolean that is neither 0 nor 1.
        assert!(Reader::new(&[2, 0, 0, 0]).read("b").is_err());
        // An array whose length is not a whole number of elements.
        assert!(Reader::new(&[3, 0, 0, 0, 1, 0, 0, 0]).read("au").is_err());
    }
}
