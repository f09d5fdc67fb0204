//! `hako top` / `lxc-top`: CPU, block I/O and memory of the running containers, read from
//! their cgroups (the cgroup each monitor recorded in its state file: no round trip to
//! the monitors), as a refreshing table on a terminal, CSV lines as LXC's batch mode
//! (`-b`, or when stdout is not a terminal), or one JSON sample (`--format json`).

use std::io::Write;
use std::time::{Duration, Instant};

use hako_cgroups::Stats;
use serde::Serialize;

use super::Failure;
use crate::cli::action::TopRequest;
use crate::cli::format::humanize_bytes;
use crate::Context;

/// One container's counters at one moment.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Row {
    pub name: String,
    #[serde(flatten)]
    pub stats: Stats,
}

/// The running containers of the lxcpath and their counters.
pub(super) fn sample(ctx: &Context) -> Result<Vec<Row>, Failure> {
    let store = ctx.store();
    let names = store.list().map_err(|e| Failure::new(e.to_string()))?;
    let mut rows = Vec::new();
    for name in names {
        let Some(sf) = hako_runtime::client::read_state_file(&store.runtime_dir(&name)) else {
            continue;
        };
        if sf.monitor_pid <= 0 || !hako_runtime::sys::proc_alive(sf.monitor_pid, sf.monitor_start) {
            continue;
        }
        let Some(cg) = sf.cgroup else { continue };
        rows.push(Row {
            name,
            stats: cg.stats(),
        });
    }
    Ok(rows)
}

/// Sort as `-s KEY` and `-r` say (n name, c CPU, b block I/O, m memory, s memory+swap,
/// k kernel memory).
pub(super) fn sort(rows: &mut [Row], key: char, reverse: bool) {
    let v = |r: &Row| -> u64 {
        match key {
            'c' => r.stats.cpu_ns,
            'b' => r.stats.blkio_bytes,
            'm' => r.stats.memory_bytes,
            's' => r.stats.memsw_bytes,
            'k' => r.stats.kmem_bytes,
            _ => None,
        }
        .unwrap_or(0)
    };
    if key == 'n' {
        rows.sort_by(|a, b| a.name.cmp(&b.name));
    } else {
        rows.sort_by(|a, b| v(a).cmp(&v(b)).then_with(|| a.name.cmp(&b.name)));
    }
    if reverse {
        rows.reverse();
    }
}

const CSV_HEADER: &str = "time_ms,container,cpu_nanos,cpu_sys_userhz,cpu_user_userhz,blkio_bytes,blkio_iops,mem_used_bytes,memsw_used_bytes,kernel_mem_used_bytes";

/// LXC's batch line for a row (CPU user/system in USER_HZ ticks, as LXC prints them).
pub(super) fn csv_line(time_ms: u128, r: &Row) -> String {
    let n = |v: Option<u64>| v.unwrap_or(0);
    let ticks = |v: Option<u64>| n(v) / 10_000_000;
    format!(
        "{time_ms},{},{},{},{},{},{},{},{},{}",
        r.name,
        n(r.stats.cpu_ns),
        ticks(r.stats.cpu_system_ns),
        ticks(r.stats.cpu_user_ns),
        n(r.stats.blkio_bytes),
        n(r.stats.blkio_ios),
        n(r.stats.memory_bytes),
        n(r.stats.memsw_bytes),
        n(r.stats.kmem_bytes),
    )
}

/// The terminal table: a row per container, then their total.
pub(super) fn table(rows: &[Row]) -> String {
    let secs = |v: Option<u64>| match v {
        Some(ns) => format!("{:.2}", ns as f64 / 1e9),
        None => "-".into(),
    };
    let bytes = |v: Option<u64>| v.map(humanize_bytes).unwrap_or_else(|| "-".into());
    let line = |label: &str, s: &Stats| {
        format!(
            "{:<20} {:>10} {:>10} {:>10} {:>14} {:>14} {:>14} {:>14}\n",
            label,
            secs(s.cpu_ns),
            secs(s.cpu_system_ns),
            secs(s.cpu_user_ns),
            bytes(s.blkio_bytes),
            bytes(s.memory_bytes),
            bytes(s.memsw_bytes),
            bytes(s.kmem_bytes),
        )
    };
    let mut out = format!(
        "{:<20} {:>10} {:>10} {:>10} {:>14} {:>14} {:>14} {:>14}\n",
        "Container", "CPU (s)", "Sys (s)", "User (s)", "BlkIO", "Mem", "Mem+Swap", "KMem"
    );
    let mut total = Stats::default();
    let add = |a: &mut Option<u64>, b: Option<u64>| {
        if let Some(b) = b {
            *a = Some(a.unwrap_or(0).saturating_add(b));
        }
    };
    for r in rows {
        out.push_str(&line(&r.name, &r.stats));
        add(&mut total.cpu_ns, r.stats.cpu_ns);
        add(&mut total.cpu_system_ns, r.stats.cpu_system_ns);
        add(&mut total.cpu_user_ns, r.stats.cpu_user_ns);
        add(&mut total.blkio_bytes, r.stats.blkio_bytes);
        add(&mut total.memory_bytes, r.stats.memory_bytes);
        add(&mut total.memsw_bytes, r.stats.memsw_bytes);
        add(&mut total.kmem_bytes, r.stats.kmem_bytes);
    }
    out.push_str(&line(&format!("TOTAL {}", rows.len()), &total));
    out
}

pub(super) fn top(ctx: &Context, req: &TopRequest) -> Result<i32, Failure> {
    if req.json {
        let mut rows = sample(ctx)?;
        sort(&mut rows, req.sort, req.reverse);
        crate::cli::sys::print_out(&format!(
            "{}\n",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        ));
        return Ok(0);
    }
    let tty = crate::cli::sys::stdout_is_terminal();
    let batch = req.batch || !tty;
    let start = Instant::now();
    let mut out = std::io::stdout().lock();
    if batch && writeln!(out, "{CSV_HEADER}").is_err() {
        return Ok(0);
    }
    let mut printed = 0u64;
    loop {
        let mut rows = sample(ctx)?;
        sort(&mut rows, req.sort, req.reverse);
        let text = if batch {
            let t = start.elapsed().as_millis();
            rows.iter()
                .map(|r| csv_line(t, r) + "\n")
                .collect::<String>()
        } else {
            // clear the screen, home the cursor
            format!("\x1b[2J\x1b[H{}", table(&rows))
        };
        if write!(out, "{text}").and_then(|_| out.flush()).is_err() {
            return Ok(0);
        }
        printed += 1;
        if req.iterations.is_some_and(|n| printed >= n) {
            return Ok(0);
        }
        std::thread::sleep(req.delay);
    }
}

/// `-d SECS` (fractions allowed; LXC's default: 3 s).
pub fn parse_delay(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() && v < 86400.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!(
            "invalid delay \"{s}\": give the seconds between refreshes, e.g. -d 1.5"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, cpu: u64, mem: u64) -> Row {
        Row {
            name: name.into(),
            stats: Stats {
                cpu_ns: Some(cpu),
                memory_bytes: Some(mem),
                cpu_user_ns: Some(30_000_000),
                cpu_system_ns: Some(20_000_000),
                ..Stats::default()
            },
        }
    }

    #[test]
    fn sorted_by_each_key_and_reversed() {
        let mut rows = vec![row("b", 5, 10), row("a", 9, 1), row("c", 1, 5)];
        sort(&mut rows, 'n', false);
        assert_eq!(
            rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        sort(&mut rows, 'c', true);
        assert_eq!(
            rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        sort(&mut rows, 'm', false);
        assert_eq!(
            rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["a", "c", "b"]
        );
    }

    #[test]
    fn batch_lines_as_lxc_prints_them() {
        assert_eq!(
            csv_line(1500, &row("web", 123, 4096)),
            "1500,web,123,2,3,0,0,4096,0,0"
        );
        assert!(CSV_HEADER.starts_with("time_ms,container,cpu_nanos,"));
        let t = table(&[row("web", 1_500_000_000, 2 << 20)]);
        assert!(
            t.contains("web") && t.contains("1.50") && t.contains("2.00 MiB"),
            "{t}"
        );
        assert!(t.lines().last().unwrap().starts_with("TOTAL 1"), "{t}");
    }

    #[test]
    fn delays() {
        assert_eq!(parse_delay("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_delay("0").is_err());
        assert!(parse_delay("x").unwrap_err().contains("-d 1.5"));
    }
}
