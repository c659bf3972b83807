//! Which field of a JSON document a typed parse failed on, named by its
//! path (`process.user.uid`, `linux.namespaces[1].type`).
//!
//! serde's errors from a `Value` carry no position. A path-tracking
//! deserializer (serde_path_to_error) instantiates every config type a
//! second time through its wrappers, about 100 KB of berth's text, which a
//! static binary maps in at every start. The failure path can afford to
//! work harder instead: it takes the document apart and parses again,
//! with the same instantiation the success path uses.
//!
//! A struct's fields are parsed in document order and its missing fields
//! are looked for only at its end, so the first bad field decides the
//! error: kept alone, the children before the one at fault parse (or
//! miss a required field at the end), and with it the error is exactly
//! the original. Halve the children until that one is found, descend
//! into it, and repeat.

use serde::de::DeserializeOwned;
use serde_json::Value;
use std::ops::Range;

#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Parse `doc` as T; on failure, the path of the field at fault (`.` for
/// the document itself) and serde's message.
pub fn typed<T: DeserializeOwned>(doc: &Value) -> Result<T, (String, String)> {
    T::deserialize(doc).map_err(|e| {
        let msg = e.to_string();
        (render(&locate::<T>(doc, &msg)), msg)
    })
}

fn locate<T: DeserializeOwned>(doc: &Value, msg: &str) -> Vec<Step> {
    let missing = msg
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'));
    let mut path = Vec::new();
    while let Some(node) = walk(doc, &path) {
        let steps = children(node);
        let n = steps.len();
        // Keeping only the first k children, is the error still this one?
        // Not for k up to the first child at fault, and so for every k
        // past it: halving finds that child in a dozen parses even among
        // thousands (a config's annotations), and the first of several
        // alike, which is the one serde met.
        let prefix = |k: usize| error_without::<T>(doc, &path, k..n);
        let mut lo_err = prefix(0);
        if n == 0 || lo_err.as_deref() == Some(msg) {
            break; // this node's own fault: no child is needed for it
        }
        let (mut lo, mut hi) = (0, n);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match prefix(mid) {
                e if e.as_deref() == Some(msg) => hi = mid,
                e => (lo, lo_err) = (mid, e),
            }
        }
        let step = &steps[lo];
        // Without it, a required field is missed at its struct's end:
        // either it held the fault, or it was only missed sooner than the
        // field the original error misses, which this node then lacks.
        let only_missed = matches!((step, &lo_err),
            (Step::Key(k), Some(m)) if *m == format!("missing field `{k}`"));
        if only_missed && missing.is_some_and(|f| node.get(f).is_none()) {
            break;
        }
        path.push(step.clone());
    }
    path
}

/// The error of parsing `doc` without the children `range` of the node
/// at `path` (their order, and the rest's, kept): None if it parses.
fn error_without<T: DeserializeOwned>(
    doc: &Value,
    path: &[Step],
    range: Range<usize>,
) -> Option<String> {
    let mut trial = doc.clone();
    let mut v = &mut trial;
    for s in path {
        v = match s {
            Step::Key(k) => &mut v[k.as_str()],
            Step::Index(i) => &mut v[*i],
        };
    }
    match v {
        Value::Object(m) => {
            let mut i = 0;
            m.retain(|_, _| {
                i += 1;
                !range.contains(&(i - 1))
            });
        }
        Value::Array(a) => drop(a.drain(range)),
        _ => {}
    }
    T::deserialize(&trial).err().map(|e| e.to_string())
}

fn children(node: &Value) -> Vec<Step> {
    match node {
        Value::Object(m) => m.keys().cloned().map(Step::Key).collect(),
        Value::Array(a) => (0..a.len()).map(Step::Index).collect(),
        _ => Vec::new(),
    }
}

fn walk<'a>(mut v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    for step in path {
        v = match step {
            Step::Key(k) => v.get(k)?,
            Step::Index(i) => v.get(i)?,
        };
    }
    Some(v)
}

/// serde_path_to_error's spelling, which berth's messages always had:
/// keys joined by dots, indices in brackets, `.` for the root.
fn render(path: &[Step]) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxResources, Process, Spec};
    use serde_json::json;

    fn path_of<T: DeserializeOwned>(doc: Value) -> String {
        match typed::<T>(&doc) {
            Ok(_) => panic!("{doc} parsed"),
            Err((p, _)) => p,
        }
    }

    fn spec(process: Value, linux: Value) -> Value {
        json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"},
               "process": process, "linux": linux})
    }

    fn process() -> Value {
        json!({"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}})
    }

    #[test]
    fn a_wrong_type_is_named_by_its_field() {
        let mut p = process();
        p["user"]["uid"] = json!("root");
        assert_eq!(path_of::<Spec>(spec(p, json!({}))), "process.user.uid");
    }

    #[test]
    fn a_missing_field_names_the_object_that_lacks_it() {
        let ns = json!({"namespaces": [{"type": "pid"}, {"path": "/proc/1/ns/net"}]});
        assert_eq!(path_of::<Spec>(spec(process(), ns)), "linux.namespaces[1]");
        // the object is named, not one of the fields it does have
        let mut d = spec(process(), json!({}));
        d["mounts"] = json!([{"type": "tmpfs", "source": "tmpfs"}]);
        assert_eq!(path_of::<Spec>(d), "mounts[0]");
        let p = json!({"cwd": "/", "args": ["x"]});
        assert_eq!(path_of::<Process>(p), ".");
    }

    #[test]
    fn an_element_is_named_by_its_index() {
        let ns = json!({"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "bogus"}]});
        assert_eq!(
            path_of::<Spec>(spec(process(), ns)),
            "linux.namespaces[2].type"
        );
        // of several alike, the first: the one serde met
        let ns = json!({"namespaces": [{}, {"type": "pid"}, {}]});
        assert_eq!(path_of::<Spec>(spec(process(), ns)), "linux.namespaces[0]");
        let mut p = process();
        p["capabilities"] = json!({"bounding": ["CAP_KILL", 7]});
        assert_eq!(
            path_of::<Spec>(spec(p, json!({}))),
            "process.capabilities.bounding[1]"
        );
    }

    #[test]
    fn the_first_fault_in_document_order_is_the_one_named() {
        let mut p = process();
        p["cwd"] = json!(1);
        p["user"]["gid"] = json!(-1);
        assert_eq!(path_of::<Spec>(spec(p, json!({}))), "process.cwd");
    }

    #[test]
    fn one_bad_entry_among_thousands_is_found() {
        for bad in [0, 1, 1337, 2999] {
            let mut d = spec(process(), json!({}));
            let mut notes = serde_json::Map::new();
            for i in 0..3000 {
                let v = if i == bad { json!(i) } else { json!("x") };
                notes.insert(format!("note.{i}"), v);
            }
            d["annotations"] = Value::Object(notes);
            assert_eq!(path_of::<Spec>(d), format!("annotations.note.{bad}"));
        }
        let mut p = process();
        p["env"] = json!(
            (0..3000)
                .map(|i| if i == 2000 {
                    json!(false)
                } else {
                    json!("A=b")
                })
                .collect::<Vec<_>>()
        );
        assert_eq!(path_of::<Spec>(spec(p, json!({}))), "process.env[2000]");
    }

    #[test]
    fn resources_and_the_root_itself() {
        let r = json!({"memory": {"limit": 1}, "pids": {"limit": "many"}});
        assert_eq!(path_of::<LinuxResources>(r), "pids.limit");
        assert_eq!(path_of::<LinuxResources>(json!("all")), ".");
        assert!(typed::<LinuxResources>(&json!({"pids": {"limit": 5}})).is_ok());
    }
}
