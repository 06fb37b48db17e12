//! The real binary, for what only a process shows: signals, exit codes,
//! its memory, its log lines.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{ms, SECOND};

/// The real binary serving `config`, with its address read from its output.
/// It logs warnings and the request lines, as JSON.
pub struct Process {
    pub child: std::process::Child,
    pub addr: String,
    lines: mpsc::Receiver<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Process {
    pub fn start(config: &str) -> Process {
        Process::start_with(config, &[])
    }

    /// As [`Process::start`], with these environment variables set.
    pub fn start_with(config: &str, env: &[(&str, &str)]) -> Process {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn,switchyard::request=info")
            .env("SWITCHYARD_LOG_FORMAT", "json")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        // Keeps draining, so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let addr = loop {
            let line = lines
                .recv_timeout(10 * SECOND)
                .expect("the gateway announces its address");
            if let Some(url) = line.split("listening on http://").nth(1) {
                break url.trim().to_string();
            }
        };
        Process {
            child,
            addr,
            lines,
            _dir: dir,
        }
    }

    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([name, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub async fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            tokio::time::sleep(ms(20)).await;
        }
        let _ = self.child.kill();
        panic!("the gateway did not exit within {limit:?}");
    }

    /// Every request log line, once the process has exited (the reader
    /// thread ends with its output).
    pub fn request_lines(&self) -> Vec<Value> {
        std::iter::from_fn(|| self.lines.recv_timeout(5 * SECOND).ok())
            .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
            .filter(|v| v["target"] == "switchyard::request")
            .collect()
    }

    /// The most memory the process has held at once (Linux `VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status")
    }
}

/// `config` on a port the OS picks.
pub fn on_any_port(config: &str) -> String {
    config.replace(
        "[settings]",
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[settings]",
    )
}
