//! Facts about the machine a run happened on, for the report, and process memory.

use std::process::Command;

fn first_line_with(path: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
        l.starts_with(key)
            .then(|| l.split_once(':').map(|(_, v)| v.trim().to_string()))
            .flatten()
    })
}

fn command(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// CPU model, cores, memory, OS, kernel, rustc, date: one `- key: value` line each.
pub fn facts() -> Vec<(&'static str, String)> {
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    let memory = first_line_with("/proc/meminfo", "MemTotal")
        .and_then(|v| v.trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    vec![
        (
            "CPU",
            first_line_with("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into()),
        ),
        (
            "cores available",
            std::thread::available_parallelism()
                .map(|n| n.to_string())
                .unwrap_or_else(|_| "unknown".into()),
        ),
        ("memory", memory),
        (
            "load average (1, 5, 15 min) as the table is written",
            std::fs::read_to_string("/proc/loadavg")
                .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
                .unwrap_or_else(|_| "unknown".into()),
        ),
        ("OS", os),
        ("kernel", command("uname", &["-sr"])),
        ("rustc", command("rustc", &["--version"])),
        (
            "date (UTC)",
            jiff::Timestamp::now()
                .strftime("%Y-%m-%d %H:%M")
                .to_string(),
        ),
    ]
}

/// A `Vm*` field of `/proc/PID/status` (`VmHWM` = peak RSS, `VmRSS`), in bytes.
pub fn vm_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        let kb = rest
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()?;
        Some(kb * 1024)
    })
}

/// Megabytes (10^6 bytes), one decimal.
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
