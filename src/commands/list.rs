use super::Global;
use crate::cli::ListArgs;
use crate::error::Result;
use crate::state;

pub fn run(g: &Global, a: &ListArgs) -> Result<i32> {
    let rows = state::list(&g.root, |c, status| c.oci_state(status.as_str()))?;
    if a.quiet {
        let ids: Vec<&str> = rows
            .iter()
            .map(|r| r["id"].as_str().unwrap_or_default())
            .collect();
        if !ids.is_empty() {
            super::print(&ids.join("\n"))?;
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
    // One write for the whole table.
    let mut out = String::new();
    let mut line = |cols: Vec<&str>| {
        for (i, c) in cols.iter().enumerate() {
            if i + 1 == cols.len() {
                out.push_str(c);
                out.push('\n');
            } else {
                out.push_str(&format!("{c:<w$}", w = width[i] + 3));
            }
        }
    };
    line(header.to_vec());
    for row in &cells {
        line(row.iter().map(String::as_str).collect());
    }
    out.pop();
    super::print(&out)
}
