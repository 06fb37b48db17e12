//! `switchyard usage`: the usage ledger's report through a running
//! gateway, as a table or as the JSON the gateway answers. An admin's token
//! reads `GET /admin/usage` (every user); anyone else's reads their own
//! `GET /v1/usage`, with their budgets.

use std::process::ExitCode;

use anyhow::{bail, Result};
use axum::http::StatusCode;
use serde_json::Value;
use switchyard::limits::headers::go_duration;

use super::ops::gateway_error;
use super::remote::{http_error, Client, Gateway};

/// Which rows, and how to group them.
#[derive(clap::Args, Clone)]
pub struct Report {
    /// First UTC day, YYYY-MM-DD (default: the first of this month).
    #[arg(long)]
    pub from: Option<String>,
    /// Last UTC day, inclusive (default: today).
    #[arg(long)]
    pub to: Option<String>,
    /// Any of user, model, backend, day, comma-separated (default: one total).
    #[arg(long)]
    pub group_by: Option<String>,
    /// Only this user's rows (admins).
    #[arg(long)]
    pub user: Option<String>,
    /// Only this model's rows.
    #[arg(long)]
    pub model: Option<String>,
    /// Only this backend's rows.
    #[arg(long)]
    pub backend: Option<String>,
    /// Print the gateway's JSON answer instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl Report {
    /// `?from=...&group_by=...`, or nothing.
    fn query(&self) -> String {
        let pairs = [
            ("from", &self.from),
            ("to", &self.to),
            ("group_by", &self.group_by),
            ("user", &self.user),
            ("model", &self.model),
            ("backend", &self.backend),
        ];
        let set: Vec<String> = pairs
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
            .collect();
        match set.is_empty() {
            true => String::new(),
            false => format!("?{}", set.join("&")),
        }
    }

    /// The grouped columns, in the order asked for; a user's own report
    /// has no user column.
    fn keys(&self, own: bool) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        let names = self.group_by.iter().flat_map(|g| g.split(','));
        for name in names.map(str::trim).filter(|n| !n.is_empty()) {
            let dropped = own && name == "user";
            if !dropped && !keys.iter().any(|k| k == name) {
                keys.push(name.to_string());
            }
        }
        keys
    }
}

/// Query values percent-encoded (commas kept: `group_by` lists).
fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~,".contains(&b) {
            out.push(char::from(b));
        } else {
            out += &format!("%{b:02X}");
        }
    }
    out
}

pub async fn usage(gateway: Gateway, report: Report) -> Result<ExitCode> {
    let client = Client::new(gateway)?;
    let (own, body) = match fetch(&client, &report.query()).await {
        Ok(answer) => answer,
        Err(e) => return Ok(gateway_error(e)),
    };
    if report.json {
        println!("{body:#}");
    } else {
        print!("{}", render(&body, &report.keys(own), own));
    }
    Ok(ExitCode::SUCCESS)
}

/// The admin report, or the caller's own when they are not an admin
/// (true).
async fn fetch(client: &Client, query: &str) -> Result<(bool, Value)> {
    let path = format!("/admin/usage{query}");
    let (status, body) = client.get_json(&path).await?;
    if status == StatusCode::FORBIDDEN && body["error"]["code"] == "admin_required" {
        let path = format!("/v1/usage{query}");
        let (status, body) = client.get_json(&path).await?;
        return Ok((true, answer(&path, status, body)?));
    }
    Ok((false, answer(&path, status, body)?))
}

fn answer(path: &str, status: StatusCode, body: Value) -> Result<Value> {
    if !status.is_success() {
        bail!("GET {path}: {}", http_error(status, &body));
    }
    if !body["data"].is_array() {
        bail!("GET {path}: the answer has no `data` list");
    }
    Ok(body)
}

/// The columns after the grouped keys: (field, heading).
const COUNTS: [(&str, &str); 5] = [
    ("requests", "requests"),
    ("input_tokens", "input"),
    ("cached_input_tokens", "cached"),
    ("output_tokens", "output"),
    ("reasoning_tokens", "reasoning"),
];

fn render(body: &Value, keys: &[String], own: bool) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let whose = match own {
        true => format!("user {}", text(&body["user"])),
        false => "all users".to_string(),
    };
    let (from, to) = (text(&body["from"]), text(&body["to"]));
    let mut out = format!("Usage from {from} to {to} ({whose})\n");
    let rows = body["data"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    if rows
        .iter()
        .all(|r| r["requests"].as_i64().unwrap_or(0) == 0)
    {
        out += "no requests\n";
    } else {
        out += &table(rows, keys);
    }
    if own {
        out += &budgets(&body["budgets"]);
    }
    out
}

/// One line per group, then the total when there are several.
fn table(rows: &[Value], keys: &[String]) -> String {
    let mut head: Vec<String> = keys.to_vec();
    head.extend(COUNTS.iter().map(|(_, h)| h.to_string()));
    head.push("cost USD".into());
    let mut lines = vec![head];
    let mut sums = [0i64; COUNTS.len()];
    let mut cost = 0.0;
    for r in rows {
        let mut line: Vec<String> = keys.iter().map(|k| cell(&r[k.as_str()])).collect();
        for (sum, (field, _)) in sums.iter_mut().zip(COUNTS) {
            let n = r[field].as_i64().unwrap_or(0);
            *sum += n;
            line.push(n.to_string());
        }
        let usd = r["cost_usd"].as_f64().unwrap_or(0.0);
        cost += usd;
        line.push(format!("{usd:.6}"));
        lines.push(line);
    }
    // Several rows only come grouped, so there is a first key column.
    if rows.len() > 1 {
        let mut total = vec![String::new(); keys.len()];
        if let Some(first) = total.first_mut() {
            *first = "total".into();
        }
        total.extend(sums.iter().map(i64::to_string));
        total.push(format!("{cost:.6}"));
        lines.push(total);
    }
    aligned(&lines, keys.len())
}

fn cell(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// Columns padded to their widest cell: the first `left` to the left
/// (names), the rest to the right (numbers).
fn aligned(lines: &[Vec<String>], left: usize) -> String {
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let width = |c: usize| {
        lines
            .iter()
            .filter_map(|l| l.get(c))
            .map(|s| s.chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns).map(width).collect();
    let mut out = String::new();
    for line in lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (s, &w))| match c < left {
                true => format!("{s:<w$}"),
                false => format!("{s:>w$}"),
            })
            .collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
    }
    out
}

/// A user's budget windows: what is left of each and when it resets.
fn budgets(list: &Value) -> String {
    let Some(list) = list.as_array() else {
        return "budgets: unknown now (the shared state store did not answer)\n".into();
    };
    let mut out = String::new();
    for b in list {
        let on = b["model"]
            .as_str()
            .map(|m| format!(" on {m}"))
            .unwrap_or_default();
        out += &format!(
            "{} budget{on}: ${:.4} of ${:.2} left, resets in {}\n",
            b["window"].as_str().unwrap_or(""),
            b["remaining_usd"].as_f64().unwrap_or(0.0),
            b["limit_usd"].as_f64().unwrap_or(0.0),
            go_duration(b["reset_ms"].as_u64().unwrap_or(0).max(1)),
        );
    }
    out
}
