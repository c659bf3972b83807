use super::Global;
use crate::cli::ListArgs;
use crate::error::Result;
use crate::state;

pub fn run(g: &Global, a: &ListArgs) -> Result<i32> {
    let mut rows = Vec::new();
    for id in state::list_ids(&g.root)? {
        // A container deleted while we list is simply not listed.
        if let Ok(c) = state::load(&g.root, &id, false) {
            rows.push(c.oci_state(c.status().as_str()));
        }
    }
    if a.quiet {
        for r in &rows {
            super::print(r["id"].as_str().unwrap_or_default())?;
        }
    } else if a.format == "json" {
        super::print(&serde_json::Value::Array(rows).to_string())?;
    } else {
        print_table(&rows)?;
    }
    Ok(0)
}

fn print_table(rows: &[serde_json::Value]) -> Result<()> {
    let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            ["id", "pid", "status", "bundle", "created", "owner"]
                .iter()
                .map(|k| match &r[*k] {
                    serde_json::Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect()
        })
        .collect();
    let mut width = header.map(str::len);
    for row in &cells {
        for (i, c) in row.iter().enumerate() {
            width[i] = width[i].max(c.len());
        }
    }
    let line = |cols: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cols.iter().enumerate() {
            if i + 1 == cols.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}", w = width[i] + 3));
            }
        }
        super::print(&s)
    };
    line(header.to_vec())?;
    for row in &cells {
        line(row.iter().map(String::as_str).collect())?;
    }
    Ok(())
}
