//! Output of `check`, `monitor` and `bench`: reports, tables, exit codes.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use futures_util::future::join_all;
use serde_json::json;

use super::remote::{Client, Probe, Target};

/// Exit code 2: the gateway itself could not be used (bad URL, token, model).
pub(super) fn gateway_error(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::from(2)
}

async fn backends_or_list(client: &Client, t: &Target, given: &[String]) -> Result<Vec<String>> {
    if given.is_empty() {
        client.backends(&t.model).await
    } else {
        Ok(given.to_vec())
    }
}

async fn probe_all(
    client: &Client,
    t: &Target,
    backends: &[String],
    streaming: bool,
) -> Vec<Probe> {
    join_all(
        backends
            .iter()
            .map(|b| client.probe(&t.model, b, streaming)),
    )
    .await
}

fn report_line(p: &Probe) -> String {
    let ttft = p
        .ttft
        .map(|t| format!(", first token {:.3}s", t.as_secs_f64()))
        .unwrap_or_default();
    match &p.error {
        None => format!(
            "✅ {}: healthy ({:.3}s{ttft})",
            p.backend,
            p.latency.as_secs_f64()
        ),
        Some(e) => format!("❌ {}: unhealthy ({e})", p.backend),
    }
}

fn print_report(t: &Target, probes: &[Probe]) {
    println!("🏥 Backend health report");
    println!("===================");
    println!(
        "Time: {}",
        humantime::format_rfc3339_seconds(std::time::SystemTime::now())
    );
    println!("Model: {}  Gateway: {}", t.model, t.gateway.url);
    for p in probes {
        println!("{}", report_line(p));
    }
    let bad = probes.iter().filter(|p| !p.healthy()).count();
    println!("{} healthy, {bad} unhealthy", probes.len() - bad);
}

pub async fn check(
    target: Target,
    backends: Vec<String>,
    streaming: bool,
    as_json: bool,
) -> Result<ExitCode> {
    let client = Client::new(target.gateway.clone())?;
    let backends = match backends_or_list(&client, &target, &backends).await {
        Ok(b) => b,
        Err(e) => return Ok(gateway_error(e)),
    };
    let probes = probe_all(&client, &target, &backends, streaming).await;
    if as_json {
        let list: Vec<_> = probes.iter().map(Probe::to_json).collect();
        let healthy = probes.iter().filter(|p| p.healthy()).count();
        let t = &target;
        let out = json!({"model": t.model, "url": t.gateway.url, "backends": list, "healthy": healthy, "unhealthy": probes.len() - healthy});
        println!("{out:#}");
    } else {
        print_report(&target, &probes);
    }
    Ok(if probes.iter().all(Probe::healthy) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub async fn monitor(
    target: Target,
    backends: Vec<String>,
    interval: Duration,
    count: Option<u64>,
) -> Result<ExitCode> {
    let client = Client::new(target.gateway.clone())?;
    let mut previous: Vec<Probe> = Vec::new();
    let mut round = 0;
    loop {
        round += 1;
        let list = match backends_or_list(&client, &target, &backends).await {
            Ok(b) => b,
            Err(e) => return Ok(gateway_error(e)),
        };
        let probes = probe_all(&client, &target, &list, false).await;
        print_report(&target, &probes);
        for p in &probes {
            if let Some(old) = previous
                .iter()
                .find(|o| o.backend == p.backend && o.healthy() != p.healthy())
            {
                let (from, to) = if old.healthy() {
                    ("healthy", "unhealthy")
                } else {
                    ("unhealthy", "healthy")
                };
                println!("🔁 {}: {from} → {to}", p.backend);
            }
        }
        println!();
        previous = probes;
        if count.is_some_and(|c| round >= c) {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
    }
}

pub async fn bench(
    target: Target,
    backends: Vec<String>,
    rounds: u32,
    streaming: bool,
) -> Result<ExitCode> {
    let client = Client::new(target.gateway.clone())?;
    let backends = match backends_or_list(&client, &target, &backends).await {
        Ok(b) => b,
        Err(e) => return Ok(gateway_error(e)),
    };
    let progress = std::io::stderr().is_terminal();
    let mut results: Vec<Vec<Probe>> = vec![Vec::new(); backends.len()];
    for round in 1..=rounds {
        if progress {
            eprint!("\rround {round}/{rounds}…");
            let _ = std::io::stderr().flush();
        }
        for (i, b) in backends.iter().enumerate() {
            results[i].push(client.probe(&target.model, b, streaming).await);
        }
    }
    if progress {
        eprintln!("\r{:20}", "");
    }
    print!("{}", table(&backends, &results, streaming));
    Ok(ExitCode::SUCCESS)
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Per backend: success rate and latency avg/min/max/p50 (ms), over successful rounds.
fn table(backends: &[String], results: &[Vec<Probe>], streaming: bool) -> String {
    let mut out = format!(
        "{:<24} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "backend", "success", "avg ms", "min ms", "max ms", "p50 ms"
    );
    if streaming {
        out += &format!(" {:>10} {:>10}", "ttft avg", "ttft p50");
    }
    out.push('\n');
    for (b, probes) in backends.iter().zip(results) {
        let ok: Vec<&Probe> = probes.iter().filter(|p| p.healthy()).collect();
        let rate = format!(
            "{:.0}%",
            100.0 * ok.len() as f64 / probes.len().max(1) as f64
        );
        let stats = stats(ok.iter().map(|p| p.latency).collect());
        out += &format!(
            "{b:<24} {rate:>8} {}",
            stats.map_or(
                format!("{:>9} {:>9} {:>9} {:>9}", "-", "-", "-", "-"),
                |s| s.cols()
            )
        );
        if streaming {
            let t = stats_of_ttft(&ok);
            out += &t.map_or(format!(" {:>10} {:>10}", "-", "-"), |s| {
                format!(" {:>10} {:>10}", ms(s.avg), ms(s.p50))
            });
        }
        out.push('\n');
    }
    out
}

struct Stats {
    avg: Duration,
    min: Duration,
    max: Duration,
    p50: Duration,
}

impl Stats {
    fn cols(&self) -> String {
        format!(
            "{:>9} {:>9} {:>9} {:>9}",
            ms(self.avg),
            ms(self.min),
            ms(self.max),
            ms(self.p50)
        )
    }
}

fn stats(mut v: Vec<Duration>) -> Option<Stats> {
    if v.is_empty() {
        return None;
    }
    v.sort();
    let avg = v.iter().sum::<Duration>() / v.len() as u32;
    Some(Stats {
        avg,
        min: v[0],
        max: v[v.len() - 1],
        p50: v[(v.len() - 1) / 2],
    })
}

fn stats_of_ttft(ok: &[&Probe]) -> Option<Stats> {
    stats(ok.iter().filter_map(|p| p.ttft).collect())
}
