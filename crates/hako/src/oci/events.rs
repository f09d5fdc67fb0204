//! `events`: runc's event stream of a container, one JSON object a line:
//! `{"type":"stats","id":ID,"data":{cpu,memory,pids,blkio,...}}` (`--stats`: once; else
//! every `--interval`, default 5 s) and `{"type":"oom","id":ID}` when the kernel's OOM
//! killer hit the container's cgroup. The stream ends (exit 0) when the container stops.
//! The numbers come from the container's cgroup (v1 files where the controller is on v1,
//! else the v2 ones), read here without the monitor.

use std::collections::BTreeMap;
use std::time::Duration;

use hako_cgroups::{Cgroup, KeyKind};
use hako_runtime::client;
use serde_json::{json, Value};

use super::{Global, OciError, Result, Status};

/// A Go duration as runc's `--interval` takes it: `5s`, `100ms`, `1m30s`, `1.5s`.
pub fn parse_interval(s: &str) -> Result<Duration> {
    let bad = || {
        OciError::new(format!(
            "invalid value \"{s}\" for flag -interval: give a duration such as 5s, 500ms or 1m"
        ))
    };
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += num * scale;
        rest = &rest[u..];
    }
    if total <= 0.0 || !total.is_finite() {
        return Err(OciError::new(format!(
            "invalid value \"{s}\" for flag -interval: duration must be greater than 0s"
        )));
    }
    Ok(Duration::from_secs_f64(total))
}

fn read(cg: &Cgroup, key: &str) -> Option<String> {
    cg.get(key, KeyKind::Auto).ok()
}

fn num(cg: &Cgroup, key: &str) -> Option<u64> {
    read(cg, key).and_then(|v| v.trim().parse().ok())
}

/// A limit file: a number, or "max" / v1's huge "unlimited" value as runc reports it.
fn limit(cg: &Cgroup, key: &str) -> Option<u64> {
    let v = read(cg, key)?;
    if v.trim() == "max" {
        return Some(u64::MAX);
    }
    v.trim().parse().ok()
}

/// `KEY VALUE` lines (memory.stat, cpu.stat, memory.events).
fn flat(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

fn is_v1(cg: &Cgroup, controller: &str) -> bool {
    cg.dirs()
        .iter()
        .any(|d| d.version == 1 && d.controllers.iter().any(|c| c == controller))
}

/// v1 blkio lines `MAJ:MIN OP VALUE` as runc's entries.
fn blkio_v1(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (dev, op, v) = (it.next()?, it.next()?, it.next()?);
            let (ma, mi) = dev.split_once(':')?;
            Some(
                json!({"major": ma.parse::<u64>().ok()?, "minor": mi.parse::<u64>().ok()?,
                "op": op, "value": v.parse::<u64>().ok()?}),
            )
        })
        .collect()
}

/// v2 io.stat lines `MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=..`: (bytes, ios) entries.
fn io_v2(text: &str) -> (Vec<Value>, Vec<Value>) {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for l in text.lines() {
        let mut it = l.split_whitespace();
        let Some((ma, mi)) = it.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(ma), Ok(mi)) = (ma.parse::<u64>(), mi.parse::<u64>()) else {
            continue;
        };
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(v) = v.parse::<u64>() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                _ => continue,
            };
            list.push(json!({"major": ma, "minor": mi, "op": op, "value": v}));
        }
    }
    (bytes, ios)
}

/// runc's `types.Stats` of the cgroup.
pub fn stats(cg: &Cgroup) -> Value {
    let s = cg.stats();
    // CPU
    let mut cpu_usage = json!({
        "total": s.cpu_ns.unwrap_or(0),
        "kernel": s.cpu_system_ns.unwrap_or(0),
        "user": s.cpu_user_ns.unwrap_or(0),
    });
    if let Some(per) = read(cg, "cpuacct.usage_percpu") {
        let v: Vec<u64> = per
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        cpu_usage["percpu"] = json!(v);
    }
    let cpu_stat = flat(&read(cg, "cpu.stat").unwrap_or_default());
    let throttled_ns = cpu_stat.get("throttled_time").copied().or_else(|| {
        cpu_stat
            .get("throttled_usec")
            .map(|u| u.saturating_mul(1000))
    });
    let mut throttling = serde_json::Map::new();
    for (k, v) in [
        ("periods", cpu_stat.get("nr_periods").copied()),
        ("throttledPeriods", cpu_stat.get("nr_throttled").copied()),
        ("throttledTime", throttled_ns),
    ] {
        if let Some(v) = v.filter(|v| *v != 0) {
            throttling.insert(k.into(), json!(v));
        }
    }
    // memory
    let mv1 = is_v1(cg, "memory");
    let raw = flat(&read(cg, "memory.stat").unwrap_or_default());
    let entry = |usage: Option<u64>, lim: Option<u64>, max: Option<u64>, fail: Option<u64>| {
        let mut e = json!({"limit": lim.unwrap_or(0), "failcnt": fail.unwrap_or(0)});
        if let Some(u) = usage.filter(|u| *u != 0) {
            e["usage"] = json!(u);
        }
        if let Some(m) = max.filter(|m| *m != 0) {
            e["max"] = json!(m);
        }
        e
    };
    let memory = if mv1 {
        json!({
            "cache": raw.get("cache").copied().unwrap_or(0),
            "usage": entry(s.memory_bytes, limit(cg, "memory.limit_in_bytes"),
                num(cg, "memory.max_usage_in_bytes"), num(cg, "memory.failcnt")),
            "swap": entry(s.memsw_bytes, limit(cg, "memory.memsw.limit_in_bytes"),
                num(cg, "memory.memsw.max_usage_in_bytes"), num(cg, "memory.memsw.failcnt")),
            "kernel": entry(s.kmem_bytes, limit(cg, "memory.kmem.limit_in_bytes"),
                num(cg, "memory.kmem.max_usage_in_bytes"), num(cg, "memory.kmem.failcnt")),
            "kernelTCP": entry(num(cg, "memory.kmem.tcp.usage_in_bytes"),
                limit(cg, "memory.kmem.tcp.limit_in_bytes"), None, None),
            "raw": raw,
        })
    } else {
        let events = flat(&read(cg, "memory.events").unwrap_or_default());
        json!({
            "cache": raw.get("file").copied().unwrap_or(0),
            "usage": entry(s.memory_bytes, limit(cg, "memory.max"), num(cg, "memory.peak"),
                events.get("max").copied()),
            "swap": entry(s.memsw_bytes, limit(cg, "memory.swap.max"), None, None),
            "kernel": entry(s.kmem_bytes, None, None, None),
            "kernelTCP": entry(None, None, None, None),
            "raw": raw,
        })
    };
    // pids
    let mut pids = serde_json::Map::new();
    if let Some(c) = s.pids.filter(|c| *c != 0) {
        pids.insert("current".into(), json!(c));
    }
    if let Some(l) = limit(cg, "pids.max").filter(|l| *l != 0 && *l != u64::MAX) {
        pids.insert("limit".into(), json!(l));
    }
    // block I/O
    let mut blkio = serde_json::Map::new();
    if is_v1(cg, "blkio") {
        for (member, file) in [
            (
                "ioServiceBytesRecursive",
                "blkio.throttle.io_service_bytes_recursive",
            ),
            (
                "ioServicedRecursive",
                "blkio.throttle.io_serviced_recursive",
            ),
        ] {
            let v = blkio_v1(&read(cg, file).unwrap_or_default());
            if !v.is_empty() {
                blkio.insert(member.into(), json!(v));
            }
        }
    } else if let Some(t) = read(cg, "io.stat") {
        let (bytes, ios) = io_v2(&t);
        if !bytes.is_empty() {
            blkio.insert("ioServiceBytesRecursive".into(), json!(bytes));
        }
        if !ios.is_empty() {
            blkio.insert("ioServicedRecursive".into(), json!(ios));
        }
    }
    json!({
        "cpu": {"usage": cpu_usage, "throttling": throttling},
        "cpuset": {},
        "memory": memory,
        "pids": pids,
        "blkio": blkio,
        "hugetlb": {},
        "intel_rdt": {},
        "network_interfaces": null,
    })
}

/// The kernel's count of OOM kills in the cgroup (v1 memory.oom_control's `oom_kill`, v2
/// memory.events' `oom_kill`).
fn oom_kills(cg: &Cgroup) -> u64 {
    ["memory.oom_control", "memory.events"]
        .iter()
        .filter_map(|k| read(cg, k))
        .find_map(|t| flat(&t).get("oom_kill").copied())
        .unwrap_or(0)
}

fn cgroup_of(g: &Global, id: &str) -> Result<Cgroup> {
    let st = g.load(id)?;
    if g.status(&st) == Status::Stopped {
        return Err(OciError::new("container not running"));
    }
    client::read_state_file(&g.dir(id)?)
        .and_then(|sf| sf.cgroup)
        .ok_or_else(|| OciError::new("container not running"))
}

fn emit(v: &Value) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}").and_then(|_| out.flush()).is_ok()
}

/// `events [--stats] [--interval D] ID`.
pub fn events(g: &Global, id: &str, once: bool, interval: Duration) -> Result<()> {
    let cg = cgroup_of(g, id)?;
    if once {
        emit(&json!({"type": "stats", "id": id, "data": stats(&cg)}));
        return Ok(());
    }
    let st = g.load(id)?;
    let mut ooms = oom_kills(&cg);
    // OOM kills are looked for every 100 ms (or the interval, if shorter); stats every
    // interval
    let tick = interval.min(Duration::from_millis(100));
    let mut next_stats = std::time::Instant::now();
    loop {
        if g.status(&st) == Status::Stopped || cg.is_gone() {
            return Ok(());
        }
        let n = oom_kills(&cg);
        if n > ooms {
            ooms = n;
            if !emit(&json!({"type": "oom", "id": id})) {
                return Ok(());
            }
        }
        if std::time::Instant::now() >= next_stats {
            next_stats += interval;
            if !emit(&json!({"type": "stats", "id": id, "data": stats(&cg)})) {
                return Ok(());
            }
        }
        std::thread::sleep(tick);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_interval("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_interval("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_interval("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "5", "s", "5x", "-1s", "0s"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn io_lines() {
        let (b, i) = io_v2("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0\n");
        assert_eq!(b.len(), 2);
        assert_eq!(b[1]["op"], "Write");
        assert_eq!(i[0]["value"], 1);
        let v = blkio_v1("8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0]["major"], 8);
    }
}
