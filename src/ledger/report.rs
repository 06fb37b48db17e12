//! A usage report: totals over a span of UTC days, filtered by user, model
//! or backend, grouped by any of them and the day.

use serde::Serialize;

use crate::calendar::Date;

/// What a report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    User,
    Model,
    Backend,
    Endpoint,
    Day,
}

impl Group {
    pub const NAMES: &'static str = "user, model, backend, endpoint, day";

    pub fn parse(name: &str) -> Option<Group> {
        match name {
            "user" => Some(Group::User),
            "model" => Some(Group::Model),
            "backend" => Some(Group::Backend),
            "endpoint" => Some(Group::Endpoint),
            "day" => Some(Group::Day),
            _ => None,
        }
    }

    fn column(self) -> &'static str {
        match self {
            Group::User => "user_id",
            Group::Model => "model",
            Group::Backend => "backend",
            Group::Endpoint => "endpoint",
            Group::Day => "day",
        }
    }
}

/// A report's span (`from` and `to` inclusive), filters and grouping.
#[derive(Debug, Clone)]
pub struct Report {
    pub from: Date,
    pub to: Date,
    pub user: Option<String>,
    pub model: Option<String>,
    pub backend: Option<String>,
    pub group_by: Vec<Group>,
}

/// A value bound to a statement.
pub enum Bind {
    Text(String),
}

impl Report {
    /// The statement, with `$n` placeholders (both stores take them), and its values.
    pub fn sql(&self) -> (String, Vec<Bind>) {
        let keys: Vec<&str> = self.group_by.iter().map(|g| g.column()).collect();
        let mut sql = String::from("SELECT ");
        for k in &keys {
            sql += k;
            sql += ", ";
        }
        sql += "COUNT(*), \
            COALESCE(CAST(SUM(input_tokens) AS BIGINT), 0), \
            COALESCE(CAST(SUM(cached_input_tokens) AS BIGINT), 0), \
            COALESCE(CAST(SUM(output_tokens) AS BIGINT), 0), \
            COALESCE(CAST(SUM(reasoning_tokens) AS BIGINT), 0), \
            COALESCE(SUM(cost_usd), 0.0) FROM usage_rows WHERE day >= $1 AND day <= $2";
        let mut binds = vec![
            Bind::Text(self.from.to_string()),
            Bind::Text(self.to.to_string()),
        ];
        let filters = [
            ("user_id", &self.user),
            ("model", &self.model),
            ("backend", &self.backend),
        ];
        for (column, value) in filters {
            if let Some(v) = value {
                binds.push(Bind::Text(v.clone()));
                sql += &format!(" AND {column} = ${}", binds.len());
            }
        }
        if !keys.is_empty() {
            let list = keys.join(", ");
            sql += &format!(" GROUP BY {list} ORDER BY {list}");
        }
        (sql, binds)
    }
}

/// One group's totals; only the grouped keys are set (and shown).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Total {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    pub requests: i64,
    pub input_tokens: i64,
    pub cached_input_tokens: i64,
    pub output_tokens: i64,
    pub reasoning_tokens: i64,
    pub cost_usd: f64,
}

impl Total {
    pub fn set(&mut self, g: Group, value: String) {
        let slot = match g {
            Group::User => &mut self.user,
            Group::Model => &mut self.model,
            Group::Backend => &mut self.backend,
            Group::Endpoint => &mut self.endpoint,
            Group::Day => &mut self.day,
        };
        *slot = Some(value);
    }
}
