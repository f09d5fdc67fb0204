//! Cgroup resource limits as typed values (OCI's `linux.resources`), independent of the
//! host's cgroup layout. [`Resources::v1_writes`] and [`Resources::v2_writes`] turn them
//! into controller files and values for a v1 or a v2 hierarchy (a hybrid host uses both,
//! each controller where it is mounted): the runtime picks by the host's layout. A limit
//! that has no file on a layout is an error there, never dropped.

use serde::{Deserialize, Serialize};

/// One device rule of the devices controller (`a`, `c 1:3 rwm`...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    pub allow: bool,
    /// `a`, `c` or `b`
    pub kind: char,
    /// None: any (`*`)
    pub major: Option<i64>,
    pub minor: Option<i64>,
    /// some of `rwm`
    pub access: String,
}

impl DeviceRule {
    /// The rule as the v1 devices.allow/deny files and hako's rule parser take it.
    pub fn text(&self) -> String {
        let n = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_else(|| "*".into());
        if self.kind == 'a' {
            return "a".into();
        }
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// bytes; -1: no limit
    pub limit: Option<i64>,
    pub reservation: Option<i64>,
    /// memory + swap, bytes; -1: no limit
    pub swap: Option<i64>,
    pub swappiness: Option<u64>,
    pub disable_oom_killer: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    pub shares: Option<u64>,
    /// microseconds per period; -1: no limit
    pub quota: Option<i64>,
    pub period: Option<u64>,
    pub burst: Option<u64>,
    pub realtime_runtime: Option<i64>,
    pub realtime_period: Option<u64>,
    /// `0-3,5`
    pub cpus: Option<String>,
    pub mems: Option<String>,
    pub idle: Option<i64>,
}

/// A per-device value (weight or rate).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceValue {
    pub major: i64,
    pub minor: i64,
    pub value: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockIo {
    pub weight: Option<u16>,
    pub weight_device: Vec<DeviceValue>,
    pub read_bps: Vec<DeviceValue>,
    pub write_bps: Vec<DeviceValue>,
    pub read_iops: Vec<DeviceValue>,
    pub write_iops: Vec<DeviceValue>,
}

/// The cgroup limits of a container, typed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    /// device rules in order (after the runtime's defaults: a deny of `a` drops those)
    pub devices: Vec<DeviceRule>,
    pub memory: Option<Memory>,
    pub cpu: Option<Cpu>,
    /// None: no limit
    pub pids_limit: Option<i64>,
    pub block_io: Option<BlockIo>,
    /// (page size as the kernel names it: `2MB`, `1GB`; bytes)
    pub hugepages: Vec<(String, u64)>,
    /// cgroup v2 files and values as given (`unified`); v2 only
    pub unified: Vec<(String, String)>,
}

/// v2's cpu.weight for v1's cpu.shares (the conversion runc and crun use: 2..262144 onto
/// 1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// v2's io.weight for v1's blkio.weight (10..1000 onto 1..10000).
pub fn blkio_weight_to_io(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w.clamp(10, 1000)) - 10) * 9999 / 990
}

fn limit(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        *self == Resources::default()
    }

    /// The files and values on cgroup v1 hierarchies, in order. Err: a limit v1 has no
    /// file for (the JSON path and why).
    pub fn v1_writes(&self) -> Result<Vec<(String, String)>, String> {
        let mut w: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: String| w.push((k.to_string(), v));
        if let Some(m) = &self.memory {
            if let Some(v) = m.limit {
                set("memory.limit_in_bytes", v.to_string());
            }
            if let Some(v) = m.reservation {
                set("memory.soft_limit_in_bytes", v.to_string());
            }
            if let Some(v) = m.swap {
                set("memory.memsw.limit_in_bytes", v.to_string());
            }
            if let Some(v) = m.swappiness {
                set("memory.swappiness", v.to_string());
            }
            if let Some(v) = m.disable_oom_killer {
                set("memory.oom_control", u8::from(v).to_string());
            }
        }
        if let Some(c) = &self.cpu {
            if let Some(v) = c.shares {
                set("cpu.shares", v.to_string());
            }
            if let Some(v) = c.period {
                set("cpu.cfs_period_us", v.to_string());
            }
            if let Some(v) = c.quota {
                set("cpu.cfs_quota_us", v.to_string());
            }
            if let Some(v) = c.burst {
                set("cpu.cfs_burst_us", v.to_string());
            }
            if let Some(v) = c.realtime_period {
                set("cpu.rt_period_us", v.to_string());
            }
            if let Some(v) = c.realtime_runtime {
                set("cpu.rt_runtime_us", v.to_string());
            }
            if let Some(v) = &c.cpus {
                set("cpuset.cpus", v.clone());
            }
            if let Some(v) = &c.mems {
                set("cpuset.mems", v.clone());
            }
            if c.idle.is_some() {
                return Err("linux.resources.cpu.idle: cgroup v1 has no cpu.idle; remove it on this host (it needs cgroup v2)".into());
            }
        }
        if let Some(p) = self.pids_limit {
            set("pids.max", limit(p));
        }
        if let Some(b) = &self.block_io {
            if let Some(v) = b.weight {
                set("blkio.weight", v.to_string());
            }
            for d in &b.weight_device {
                set(
                    "blkio.weight_device",
                    format!("{}:{} {}", d.major, d.minor, d.value),
                );
            }
            for (file, list) in [
                ("blkio.throttle.read_bps_device", &b.read_bps),
                ("blkio.throttle.write_bps_device", &b.write_bps),
                ("blkio.throttle.read_iops_device", &b.read_iops),
                ("blkio.throttle.write_iops_device", &b.write_iops),
            ] {
                for d in list {
                    set(file, format!("{}:{} {}", d.major, d.minor, d.value));
                }
            }
        }
        for (size, bytes) in &self.hugepages {
            set(&format!("hugetlb.{size}.limit_in_bytes"), bytes.to_string());
        }
        if !self.unified.is_empty() {
            return Err("linux.resources.unified: these are cgroup v2 files and this host has no cgroup v2 hierarchy; remove them or run on a cgroup v2 host".into());
        }
        Ok(w)
    }

    /// The files and values on the cgroup v2 hierarchy, in order (`unified` last, so it
    /// overrides). Err: a limit v2 has no file for.
    pub fn v2_writes(&self) -> Result<Vec<(String, String)>, String> {
        let mut w: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: String| w.push((k.to_string(), v));
        if let Some(m) = &self.memory {
            if let Some(v) = m.limit {
                set("memory.max", limit(v));
            }
            if let Some(v) = m.reservation {
                set("memory.low", limit(v));
            }
            if let Some(v) = m.swap {
                // OCI's swap is memory + swap; v2's memory.swap.max is swap alone
                let swap = match (v, m.limit) {
                    (v, _) if v < 0 => "max".to_string(),
                    (v, Some(l)) if l >= 0 && v >= l => (v - l).to_string(),
                    (_, Some(l)) if l >= 0 => {
                        return Err("linux.resources.memory.swap: it is memory + swap and must not be below memory.limit; raise it".into())
                    }
                    _ => return Err("linux.resources.memory.swap: on cgroup v2 a swap limit needs memory.limit too (v2 limits swap alone); set linux.resources.memory.limit".into()),
                };
                set("memory.swap.max", swap);
            }
            if m.swappiness.is_some() {
                return Err("linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness; remove it on this host".into());
            }
            if m.disable_oom_killer == Some(true) {
                return Err("linux.resources.memory.disableOOMKiller: cgroup v2 cannot turn the OOM killer off; remove it on this host".into());
            }
        }
        if let Some(c) = &self.cpu {
            if let Some(v) = c.shares {
                set("cpu.weight", shares_to_weight(v).to_string());
            }
            if c.quota.is_some() || c.period.is_some() {
                let q = c.quota.map(limit).unwrap_or_else(|| "max".into());
                let p = c.period.unwrap_or(100_000);
                set("cpu.max", format!("{q} {p}"));
            }
            if let Some(v) = c.burst {
                set("cpu.max.burst", v.to_string());
            }
            if c.realtime_runtime.is_some() || c.realtime_period.is_some() {
                return Err("linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no real-time budget; remove them on this host".into());
            }
            if let Some(v) = &c.cpus {
                set("cpuset.cpus", v.clone());
            }
            if let Some(v) = &c.mems {
                set("cpuset.mems", v.clone());
            }
            if let Some(v) = c.idle {
                set("cpu.idle", v.to_string());
            }
        }
        if let Some(p) = self.pids_limit {
            set("pids.max", limit(p));
        }
        if let Some(b) = &self.block_io {
            if let Some(v) = b.weight {
                set("io.weight", format!("default {}", blkio_weight_to_io(v)));
            }
            for d in &b.weight_device {
                let wt = u16::try_from(d.value).unwrap_or(u16::MAX);
                set(
                    "io.weight",
                    format!("{}:{} {}", d.major, d.minor, blkio_weight_to_io(wt)),
                );
            }
            for (key, list) in [
                ("rbps", &b.read_bps),
                ("wbps", &b.write_bps),
                ("riops", &b.read_iops),
                ("wiops", &b.write_iops),
            ] {
                for d in list {
                    set(
                        "io.max",
                        format!("{}:{} {key}={}", d.major, d.minor, d.value),
                    );
                }
            }
        }
        for (size, bytes) in &self.hugepages {
            set(&format!("hugetlb.{size}.max"), bytes.to_string());
        }
        for (k, v) in &self.unified {
            set(k, v.clone());
        }
        Ok(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(w: &[(String, String)]) -> Vec<String> {
        w.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }

    #[test]
    fn v1_and_v2_files() {
        let r = Resources {
            memory: Some(Memory {
                limit: Some(1 << 30),
                swap: Some(2 << 30),
                ..Default::default()
            }),
            cpu: Some(Cpu {
                shares: Some(1024),
                quota: Some(50_000),
                period: Some(100_000),
                cpus: Some("0-1".into()),
                ..Default::default()
            }),
            pids_limit: Some(-1),
            block_io: Some(BlockIo {
                weight: Some(500),
                read_bps: vec![DeviceValue {
                    major: 8,
                    minor: 0,
                    value: 1_000_000,
                }],
                ..Default::default()
            }),
            hugepages: vec![("2MB".into(), 4 << 20)],
            ..Default::default()
        };
        assert_eq!(
            kv(&r.v1_writes().unwrap()),
            [
                "memory.limit_in_bytes=1073741824",
                "memory.memsw.limit_in_bytes=2147483648",
                "cpu.shares=1024",
                "cpu.cfs_period_us=100000",
                "cpu.cfs_quota_us=50000",
                "cpuset.cpus=0-1",
                "pids.max=max",
                "blkio.weight=500",
                "blkio.throttle.read_bps_device=8:0 1000000",
                "hugetlb.2MB.limit_in_bytes=4194304",
            ]
        );
        assert_eq!(
            kv(&r.v2_writes().unwrap()),
            [
                "memory.max=1073741824",
                "memory.swap.max=1073741824",
                "cpu.weight=39",
                "cpu.max=50000 100000",
                "cpuset.cpus=0-1",
                "pids.max=max",
                "io.weight=default 4950",
                "io.max=8:0 rbps=1000000",
                "hugetlb.2MB.max=4194304",
            ]
        );
    }

    #[test]
    fn limits_a_layout_lacks_are_errors() {
        let r = Resources {
            unified: vec![("memory.high".into(), "1G".into())],
            ..Default::default()
        };
        assert!(r
            .v1_writes()
            .unwrap_err()
            .starts_with("linux.resources.unified:"));
        assert_eq!(kv(&r.v2_writes().unwrap()), ["memory.high=1G"]);
        let r = Resources {
            memory: Some(Memory {
                swappiness: Some(10),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(kv(&r.v1_writes().unwrap()), ["memory.swappiness=10"]);
        assert!(r.v2_writes().unwrap_err().contains("swappiness"));
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_weight_to_io(1000), 10_000);
        let d = DeviceRule {
            allow: true,
            kind: 'c',
            major: Some(1),
            minor: None,
            access: "rwm".into(),
        };
        assert_eq!(d.text(), "c 1:* rwm");
    }
}
