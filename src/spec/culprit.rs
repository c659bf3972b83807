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
//! error. Removing a child that is not at fault leaves the error exactly
//! as it was; removing the one at fault makes it go away or become
//! "missing field `<that child>`". Descend into that child and repeat.

use serde::de::DeserializeOwned;
use serde_json::Value;

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
        let mut only_by_absence = None;
        let mut at_fault = None;
        for step in children(node) {
            let mut trial = doc.clone();
            remove(&mut trial, &path, &step);
            match T::deserialize(&trial).map_err(|e| e.to_string()) {
                Err(m) if m == msg => {}
                // A required field taken away is missed at its struct's end:
                // either it held the fault, or it was only missed sooner
                // than the field the original error misses.
                Err(m) if matches!(&step, Step::Key(k) if m == format!("missing field `{k}`")) => {
                    only_by_absence.get_or_insert(step);
                }
                _ => {
                    at_fault = Some(step);
                    break;
                }
            }
        }
        let lacks_missing = |n: &Value| missing.is_some_and(|f| n.get(f).is_none());
        match at_fault.or_else(|| only_by_absence.filter(|_| !lacks_missing(node))) {
            Some(step) => path.push(step),
            None => break,
        }
    }
    path
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

fn remove(doc: &mut Value, path: &[Step], step: &Step) {
    let mut v = doc;
    for s in path {
        v = match s {
            Step::Key(k) => &mut v[k.as_str()],
            Step::Index(i) => &mut v[*i],
        };
    }
    match (v, step) {
        // shift_remove: the order of what is left must stay the document's
        (Value::Object(m), Step::Key(k)) => drop(m.shift_remove(k)),
        (Value::Array(a), Step::Index(i)) => drop(a.remove(*i)),
        _ => {}
    }
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
    fn resources_and_the_root_itself() {
        let r = json!({"memory": {"limit": 1}, "pids": {"limit": "many"}});
        assert_eq!(path_of::<LinuxResources>(r), "pids.limit");
        assert_eq!(path_of::<LinuxResources>(json!("all")), ".");
        assert!(typed::<LinuxResources>(&json!({"pids": {"limit": 5}})).is_ok());
    }
}
