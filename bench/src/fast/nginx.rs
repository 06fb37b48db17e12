//! nginx as the fast upstream: one process (`master_process off`, so the
//! process we start is the one worker, and killing it ends nginx), in the
//! foreground (`daemon off`), pinned with `taskset`, from a config generated
//! into a temporary folder that is removed when the bench ends.
//!
//! Two locations, both answering any method with a fixed body (`return`,
//! which also discards the request body and keeps the connection alive):
//! `/v1/chat/completions` the chat completion, `/stream/v1/chat/completions`
//! the SSE stream.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::fixtures;

/// Where the chat completion is served.
pub const JSON_PATH: &str = "/v1/chat/completions";
/// Where the stream is served: an OpenAI base URL of `/stream/v1`.
pub const STREAM_PATH: &str = "/stream/v1/chat/completions";

/// A folder under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<TempDir> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(TempDir(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `return` text for nginx's config: single-quoted, with nginx's escapes.
/// nginx would expand `$name` in it, so a body must not contain `$`; and
/// one token must fit nginx's 4 KiB config buffer (a test checks).
fn quoted(body: &str) -> Result<String> {
    if body.contains('$') {
        bail!("an nginx return body cannot contain `$`");
    }
    let mut out = String::with_capacity(body.len() + 16);
    out.push('\'');
    for c in body.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Ok(out)
}

/// Connections nginx takes by default; the scale phases' 10,000 streams
/// need more ([`Nginx::start_sized`]).
pub const CONNECTIONS: usize = 4096;

/// The whole config: one worker taking `conns` connections, no access
/// log, keep-alive without a request limit (nginx closes a connection
/// after 1,000 requests by default, which would make every proxy
/// reconnect mid-phase).
pub fn config(dir: &Path, port: u16, conns: usize) -> Result<String> {
    let d = dir.display();
    Ok(format!(
        r#"daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile {files};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{
    worker_connections {conns};
}}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    tcp_nodelay on;
    server_tokens off;
    server {{
        listen 127.0.0.1:{port} backlog={backlog};
        location = {JSON_PATH} {{
            default_type application/json;
            return 200 {json};
        }}
        location = {STREAM_PATH} {{
            default_type text/event-stream;
            return 200 {stream};
        }}
        location / {{
            return 404;
        }}
    }}
}}
"#,
        json = quoted(&fixtures::completion())?,
        stream = quoted(&fixtures::stream())?,
        files = conns + 64,
        backlog = CONNECTIONS,
    ))
}

/// A port nobody listens on now (nginx cannot report one it picked).
fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The running nginx; killed (and waited for) on drop.
pub struct Nginx {
    pub pid: u32,
    pub addr: SocketAddr,
    pub error_log: PathBuf,
    child: Child,
}

impl Nginx {
    /// Writes the config into `dir` and starts `nginx` on `cpu`, taking up
    /// to `conns` connections at once.
    pub fn start_sized(exe: &Path, dir: &Path, cpu: Option<usize>, conns: usize) -> Result<Nginx> {
        let port = free_port()?;
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config(dir, port, conns)?)?;
        let error_log = dir.join("error.log");
        let mut cmd = match cpu {
            Some(c) => {
                let mut cmd = Command::new("taskset");
                cmd.arg("-c").arg(c.to_string()).arg(exe);
                cmd
            }
            None => Command::new(exe),
        };
        // -e: the error log before the config is read (the default path
        // may not be writable); -p: relative paths under `dir`.
        cmd.arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(&error_log)
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().context("starting nginx")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait()? {
                let log = std::fs::read_to_string(&error_log).unwrap_or_default();
                bail!("nginx exited with {status}: {}", log.trim());
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("nginx did not listen on {addr} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Nginx {
            pid: child.id(),
            addr,
            error_log,
            child,
        })
    }

    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips_nginx_escapes() {
        assert_eq!(quoted("a'b\\c\nd").unwrap(), r"'a\'b\\c\nd'");
        assert!(quoted("$x").is_err());
        let conf = config(Path::new("/tmp/x"), 8080, CONNECTIONS).unwrap();
        assert!(conf.contains("listen 127.0.0.1:8080"));
        assert!(conf.contains("master_process off;"));
    }

    #[test]
    fn bodies_fit_in_one_config_token() {
        // nginx reads its config in 4 KiB buffers and refuses a longer
        // token ("too long parameter").
        assert!(quoted(&fixtures::stream()).unwrap().len() < 4000);
        assert!(quoted(&fixtures::completion()).unwrap().len() < 4000);
    }
}
