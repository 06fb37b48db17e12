//! What /proc says about the machine and our processes: per-CPU steal and
//! busy time, a process's CPU time and memory. The VM's steal time swings,
//! and other people compile here, so every phase carries these numbers.

use std::time::Instant;

/// Jiffies of one `cpuN` line of /proc/stat.
#[derive(Clone, Copy, Debug, Default)]
struct CpuTimes {
    busy: u64,
    idle: u64,
    steal: u64,
}

/// A reading of /proc/stat (per CPU) and of our processes' CPU time.
#[derive(Clone, Debug)]
pub struct Sample {
    cpus: Vec<CpuTimes>,
    /// utime+stime of every process we started, and of this one and the
    /// children it has waited for (wrk runs), in ticks.
    ours: u64,
    at: Instant,
}

/// What happened on the machine between two samples.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Noise {
    /// Steal per CPU, percent of that CPU's time.
    pub steal_pct: Vec<f64>,
    /// Busy time per CPU (user, system, irq, softirq; ours and others'),
    /// percent of that CPU's time: shows which side was saturated.
    pub busy_pct: Vec<f64>,
    /// CPU used by processes that are not ours, percent of one core.
    pub foreign_pct: f64,
}

impl Noise {
    pub fn max_steal(&self) -> f64 {
        self.steal_pct.iter().copied().fold(0.0, f64::max)
    }

    /// Quiet enough to judge sub-millisecond latency differences.
    pub fn quiet(&self) -> bool {
        self.max_steal() <= 5.0 && self.foreign_pct <= 10.0
    }

    pub fn describe(&self) -> String {
        let steal: Vec<String> = self.steal_pct.iter().map(|s| format!("{s:.1}")).collect();
        format!(
            "steal% [{}] foreign {:.0}%",
            steal.join(" "),
            self.foreign_pct
        )
    }
}

fn read_cpus() -> Vec<CpuTimes> {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .map(|x| x.parse().unwrap_or(0))
                .collect();
            let get = |i: usize| f.get(i).copied().unwrap_or(0);
            // user nice system idle iowait irq softirq steal
            CpuTimes {
                busy: get(0) + get(1) + get(2) + get(5) + get(6),
                idle: get(3) + get(4),
                steal: get(7),
            }
        })
        .collect()
}

/// (utime + stime) in clock ticks, from /proc/PID/stat.
pub fn cpu_ticks(pid: u32) -> u64 {
    stat_ticks(pid).0
}

/// A process's CPU time as (user, system) clock ticks: the system part
/// is the kernel working for it (its syscalls, and on loopback the
/// receive path and the wake-up of the reader of every packet it sends).
pub fn cpu_split(pid: u32) -> (u64, u64) {
    let [utime, stime, _, _] = stat_times(pid);
    (utime, stime)
}

/// (utime + stime, cutime + cstime) in clock ticks: the process's own CPU
/// time, and that of its children it has waited for.
fn stat_ticks(pid: u32) -> (u64, u64) {
    let [utime, stime, cutime, cstime] = stat_times(pid);
    (utime + stime, cutime + cstime)
}

/// utime, stime, cutime and cstime of /proc/PID/stat, in clock ticks;
/// zeros when it cannot be read.
fn stat_times(pid: u32) -> [u64; 4] {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return [0; 4];
    };
    // The command name may hold spaces; fields resume after its ')'.
    // After it the state is index 0, so utime (field 14) is 11, stime 12,
    // cutime 13, cstime 14.
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let mut times = [0; 4];
    for (slot, field) in times.iter_mut().zip(rest.split_whitespace().skip(11)) {
        *slot = field.parse().unwrap_or(0);
    }
    times
}

/// Clock ticks per second (USER_HZ); 100 on every Linux we run on.
pub const TICKS_PER_SEC: f64 = 100.0;

impl Sample {
    pub fn take(pids: &[u32]) -> Sample {
        let (me, children) = stat_ticks(std::process::id());
        let ours = pids.iter().map(|&p| cpu_ticks(p)).sum::<u64>() + me + children;
        Sample {
            cpus: read_cpus(),
            ours,
            at: Instant::now(),
        }
    }

    pub fn noise_since(&self, before: &Sample) -> Noise {
        let mut steal_pct = Vec::new();
        let mut busy_pct = Vec::new();
        let mut busy = 0;
        for (a, b) in self.cpus.iter().zip(&before.cpus) {
            let d = |x: u64, y: u64| x.saturating_sub(y);
            let (db, di, ds) = (d(a.busy, b.busy), d(a.idle, b.idle), d(a.steal, b.steal));
            let total = (db + di + ds).max(1);
            steal_pct.push(100.0 * ds as f64 / total as f64);
            busy_pct.push(100.0 * db as f64 / total as f64);
            busy += db;
        }
        let secs = self.at.duration_since(before.at).as_secs_f64().max(1e-3);
        let foreign = busy.saturating_sub(self.ours.saturating_sub(before.ours));
        Noise {
            steal_pct,
            busy_pct,
            foreign_pct: 100.0 * foreign as f64 / TICKS_PER_SEC / secs,
        }
    }
}

/// A `Vm*` line of /proc/PID/status, in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How many file descriptors `pid` has open.
pub fn open_fds(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// The machine, for the report: CPU model, cores, kernel.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub kernel: String,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".into(), |(_, m)| m.trim().to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or("unknown".into(), |k| k.trim().to_string());
    Machine {
        cpu_model,
        // Not available_parallelism: this process pins itself to one CPU.
        cores: cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count(),
        kernel: format!("Linux {kernel}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_split_reads_this_process_and_adds_up_to_cpu_ticks() {
        let pid = std::process::id();
        let (user_before, sys_before) = cpu_split(pid);
        // Spin until 10 ticks of user time (100 ms at USER_HZ 100) show,
        // however busy the machine, reading /proc rarely so that the
        // system time barely moves: only a wrong field never grows.
        let start = Instant::now();
        let mut x = 0u64;
        while cpu_split(pid).0 < user_before + 10
            && start.elapsed() < std::time::Duration::from_secs(30)
        {
            for _ in 0..10_000_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        let (user, sys) = cpu_split(pid);
        let total = cpu_ticks(pid);
        assert!(
            user >= user_before + 10 && user - user_before > sys - sys_before,
            "user {user_before} -> {user}, system {sys_before} -> {sys} ticks after spinning"
        );
        // Read after the split: the total can only have grown.
        assert!(total >= user + sys, "{total} < {user} + {sys}");
        assert_eq!(cpu_split(u32::MAX), (0, 0));
    }
}
