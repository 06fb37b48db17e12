//! `[server]`: the listener and what one client connection may hold.

use super::super::checker::Checker;
use super::super::raw::RawServer;
use super::super::types::*;

const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
const DEFAULT_MAX_BODY: u64 = 10 * 1024 * 1024;

pub(super) fn server(c: &mut Checker, raw: &RawServer) -> ServerConfig {
    let status_page = c.access(
        "server.status_page",
        raw.status_page.as_deref(),
        Access::Admin,
    );
    if raw.max_body_bytes == Some(0) {
        c.error("server.max_body_bytes", "must be greater than zero");
    }
    ServerConfig {
        listen: raw
            .listen
            .clone()
            .unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
        max_body_bytes: raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY) as usize,
        status_page,
        connections: connections(c, raw),
    }
}

fn connections(c: &mut Checker, raw: &RawServer) -> ConnectionLimits {
    let d = ConnectionLimits::default();
    let max_connections = match raw.max_connections {
        None => d.max_connections,
        Some(0) => {
            c.error("server.max_connections", "must be at least 1");
            d.max_connections
        }
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    ConnectionLimits {
        header: c.duration(
            "server.header_timeout".into(),
            raw.header_timeout.as_ref(),
            d.header,
        ),
        body: c.duration(
            "server.body_timeout".into(),
            raw.body_timeout.as_ref(),
            d.body,
        ),
        keep_alive: c.duration(
            "server.keep_alive_timeout".into(),
            raw.keep_alive_timeout.as_ref(),
            d.keep_alive,
        ),
        send: c.duration(
            "server.send_timeout".into(),
            raw.send_timeout.as_ref(),
            d.send,
        ),
        max_connections,
    }
}
