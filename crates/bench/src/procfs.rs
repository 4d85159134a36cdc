//! What the bench reads from `/proc`: a process's CPU time and resident memory, the machine's
//! idle share, and the core count. Linux only; elsewhere every reading is `None`.

use std::time::{Duration, Instant};

/// CPU time a process has used so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime {
    /// utime + stime from `/proc/PID/stat`, in clock ticks (usually 10 ms each).
    pub ticks: u64,
    /// The sum over the process's live threads of `/proc/PID/task/TID/schedstat`'s first field:
    /// time on a CPU in nanoseconds. Same quantity as `ticks`, without the 10 ms steps.
    pub ns: u64,
}

impl CpuTime {
    /// CPU nanoseconds between two readings: the precise sum when both have it, the ticks
    /// (assumed 100 per second, Linux's `USER_HZ`) otherwise.
    pub fn ns_since(&self, before: &CpuTime) -> u64 {
        if self.ns > 0 && before.ns > 0 && self.ns >= before.ns {
            self.ns - before.ns
        } else {
            self.ticks.saturating_sub(before.ticks) * 10_000_000
        }
    }
}

/// CPU time of `pid` (`"self"` for this process).
pub fn cpu(pid: &str) -> Option<CpuTime> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis
    // start at field 3 (state). utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let mut ns = 0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let path = task.path().join("schedstat");
            if let Some(first) =
                std::fs::read_to_string(path).ok().and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            {
                ns += first;
            }
        }
    }
    Some(CpuTime { ticks: utime + stime, ns })
}

/// Resident memory of `pid` in bytes (VmRSS).
pub fn rss(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Busy and total jiffies of the whole machine, from `/proc/stat`'s first line.
fn machine_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let values: Vec<u64> = line.split_whitespace().skip(1).filter_map(|v| v.parse().ok()).collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// How busy the machine is over `window`, in cores (0.0 = idle, 2.0 = two cores flat out).
pub async fn busy_cores(window: Duration) -> Option<f64> {
    let (busy0, total0) = machine_jiffies()?;
    tokio::time::sleep(window).await;
    let (busy1, total1) = machine_jiffies()?;
    let cores = cores() as f64;
    Some((busy1 - busy0) as f64 / (total1 - total0).max(1) as f64 * cores)
}

/// Waits, at most `max_wait`, until the machine is quieter than `threshold` busy cores over a
/// second. Returns the last reading (cores busy) and how long it waited.
pub async fn wait_quiet(threshold: f64, max_wait: Duration) -> (Option<f64>, Duration) {
    let start = Instant::now();
    loop {
        let busy = busy_cores(Duration::from_secs(1)).await;
        let waited = start.elapsed();
        match busy {
            None => return (None, waited),
            Some(b) if b <= threshold || waited >= max_wait => return (Some(b), waited),
            Some(_) => {}
        }
    }
}

/// Cores this process may run on.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One-line description of the load average, for the report.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
