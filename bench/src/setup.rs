//! Builds the release binaries, writes the gateway's config and starts the
//! three processes under test: mock upstream, bare proxy, gateway.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::load::{MODEL, TOKEN};
use crate::procs::{Pinning, Proc};

/// Where things are: the release binaries and the output folder.
pub struct Paths {
    pub bin_dir: PathBuf,
    pub gateway: PathBuf,
    pub out_dir: PathBuf,
}

impl Paths {
    /// The binaries sit next to this one (target/release); results go to target/bench.
    pub fn locate(gateway: Option<&str>) -> Result<Paths> {
        let exe = std::env::current_exe()?;
        let bin_dir = exe.parent().context("no parent dir")?.to_path_buf();
        let target = bin_dir.parent().context("no target dir")?;
        let out_dir = target.join("bench");
        std::fs::create_dir_all(&out_dir)?;
        let gateway = gateway.map_or_else(|| bin_dir.join("switchyard"), PathBuf::from);
        Ok(Paths {
            bin_dir,
            gateway,
            out_dir,
        })
    }
}

/// `cargo build --release` of the three binaries (quick when up to date).
pub fn build() -> Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("workspace root")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    println!("building release binaries (cargo build --release) ...");
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--release", "--quiet"])
        .args(["-p", "switchyard", "--bin", "switchyard"])
        .args(["-p", "mock-upstream", "--bin", "mock-upstream"])
        .args(["-p", "switchyard-bench", "--bin", "bare-proxy"])
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo build failed");
    }
    Ok(())
}

/// One model, one OpenAI backend at the mock, one user.
pub fn gateway_config(mock: std::net::SocketAddr) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:0"

[providers.mock]
backend_type = "openai"
base_url = "http://{mock}/v1"
api_key = "bench-upstream-key"

[models.{MODEL}]
[[models.{MODEL}.backends]]
provider = "mock"
model = "mock-model"

[users.bench]
token = "{TOKEN}"
"#
    )
}

pub struct Running {
    pub mock: Proc,
    pub bare: Proc,
    pub gateway: Proc,
}

impl Running {
    pub fn pids(&self) -> Vec<u32> {
        vec![self.mock.pid, self.bare.pid, self.gateway.pid]
    }
}

pub fn start(paths: &Paths, pin: Pinning, chunks: usize, chunk_delay: &str) -> Result<Running> {
    let out = &paths.out_dir;
    let mock_args = vec![
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--chunks".into(),
        chunks.to_string(),
        "--chunk-delay".into(),
        chunk_delay.into(),
    ];
    let mock = Proc::start(
        "mock",
        &paths.bin_dir.join("mock-upstream"),
        &mock_args,
        pin.load_cpu,
        out.join("mock.log"),
    )?;
    let bare_args = vec![
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--upstream".into(),
        mock.addr.to_string(),
    ];
    let bare = Proc::start(
        "bare",
        &paths.bin_dir.join("bare-proxy"),
        &bare_args,
        pin.proxy_cpu,
        out.join("bare.log"),
    )?;
    let config = out.join("gateway.toml");
    std::fs::write(&config, gateway_config(mock.addr))?;
    let gw_args = vec![
        "serve".into(),
        "--config".into(),
        config.display().to_string(),
    ];
    let gateway = Proc::start(
        "gateway",
        &paths.gateway,
        &gw_args,
        pin.proxy_cpu,
        out.join("gateway.log"),
    )?;
    Ok(Running {
        mock,
        bare,
        gateway,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn gateway_accepts_the_config() {
        let text = super::gateway_config("127.0.0.1:9".parse().unwrap());
        let config = switchyard::config::parse(&text, &|_| None).unwrap();
        assert!(config.models.contains_key(crate::load::MODEL));
    }
}
