//! A real `redis-server` on a free loopback port, and real `switchyard`
//! processes, for the shared-state tests. A missing `redis-server` fails the
//! test with a clear message: CI installs it (.ci/run).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

pub struct Redis {
    child: Child,
    pub port: u16,
    pub password: Option<String>,
}

impl Redis {
    /// Starts a throwaway server (no persistence) and waits until it answers PING.
    pub fn start() -> Redis {
        Self::on_port(free_port(), None)
    }

    /// A server that requires `password`.
    pub fn with_password(password: &str) -> Redis {
        Self::on_port(free_port(), Some(password))
    }

    pub fn on_port(port: u16, password: Option<&str>) -> Redis {
        let mut cmd = Command::new("redis-server");
        if let Some(p) = password {
            cmd.args(["--requirepass", p]);
        }
        let child = cmd
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run redis-server ({e}): these tests need a real Redis server on PATH. \
                     Install it with `apt-get install -y redis-server` (.ci/run does)."
                )
            });
        let redis = Redis {
            child,
            port,
            password: password.map(str::to_string),
        };
        let start = Instant::now();
        while !redis.answers() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not answer PING within 10s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        redis
    }

    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}", self.port),
            None => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    pub fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        // With a password, the answer is an authentication error: still an answer.
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok()
            && s.read_exact(&mut buf).is_ok()
            && (&buf == b"+PONG\r\n" || buf.starts_with(b"-NOAUTH"))
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    pub fn freeze(&self) {
        signal(self.child.id(), "-STOP");
    }

    pub fn thaw(&self) {
        signal(self.child.id(), "-CONT");
    }

    /// Kills the server; returns its port and password for a restart.
    pub fn stop(self) -> (u16, Option<String>) {
        (self.port, self.password.clone())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        signal(self.child.id(), "-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `switchyard serve` process on its own temp config file.
pub struct Instance {
    pub child: Child,
    pub url: String,
    pub config: std::path::PathBuf,
    _dir: tempfile::TempDir,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    /// `text` must not set `server.listen` (a free port is chosen).
    pub fn start(text: &str) -> Instance {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("switchyard.toml");
        std::fs::write(
            &config,
            format!("[server]\nlisten = \"127.0.0.1:0\"\n{text}"),
        )
        .unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--config", config.to_str().unwrap()])
            .env("SWITCHYARD_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().unwrap();
        let keep = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let url = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("switchyard printed no listen line");
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.trim().to_string();
            }
        };
        Instance {
            child,
            url,
            config,
            _dir: dir,
            lines,
        }
    }

    /// Rewrites the config file (keeping the listen line's free port out of it).
    pub fn rewrite(&self, text: &str) {
        let tmp = self.config.with_extension("tmp");
        std::fs::write(&tmp, format!("[server]\nlisten = \"127.0.0.1:0\"\n{text}")).unwrap();
        std::fs::rename(&tmp, &self.config).unwrap();
    }

    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
