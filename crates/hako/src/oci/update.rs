//! `update`: new cgroup limits for a created, running or paused container, from runc's
//! flags (`--memory 256m`, `--cpu-quota`, `--pids-limit`...) or `-r FILE` (a
//! `linux.resources` JSON document, `-` for stdin; flags given beside it override its
//! values). The document goes through the same mapping as config.json's
//! `linux.resources` (hako-spec), then its files are written into the container's cgroup
//! (v1 files on a host with v1 hierarchies, else v2), here, without the monitor.

use std::path::PathBuf;

use hako_cgroups::{Cgroup, KeyKind};
use hako_runtime::client;
use serde_json::{json, Value};

use super::{Global, OciError, Result, Status};

/// `update`'s options: the resources file and the flags as given (name, value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateOpts {
    pub resources: Option<PathBuf>,
    pub flags: Vec<(String, String)>,
}

/// The flags `update` takes (runc's), each with where it goes in `linux.resources` and
/// how its value is read.
#[derive(Clone, Copy)]
enum Kind {
    /// bytes, with k/m/g/t/p suffixes (powers of 1024), or -1
    Bytes,
    Int,
    Uint,
    Text,
}

const FLAGS: &[(&str, &[&str], Kind)] = &[
    ("blkio-weight", &["blockIO", "weight"], Kind::Uint),
    ("cpu-period", &["cpu", "period"], Kind::Uint),
    ("cpu-quota", &["cpu", "quota"], Kind::Int),
    ("cpu-share", &["cpu", "shares"], Kind::Uint),
    ("cpu-rt-period", &["cpu", "realtimePeriod"], Kind::Uint),
    ("cpu-rt-runtime", &["cpu", "realtimeRuntime"], Kind::Int),
    ("cpu-idle", &["cpu", "idle"], Kind::Int),
    ("cpuset-cpus", &["cpu", "cpus"], Kind::Text),
    ("cpuset-mems", &["cpu", "mems"], Kind::Text),
    ("memory", &["memory", "limit"], Kind::Bytes),
    (
        "memory-reservation",
        &["memory", "reservation"],
        Kind::Bytes,
    ),
    ("memory-swap", &["memory", "swap"], Kind::Bytes),
    ("kernel-memory", &["memory", "kernel"], Kind::Bytes),
    ("kernel-memory-tcp", &["memory", "kernelTCP"], Kind::Bytes),
    ("pids-limit", &["pids", "limit"], Kind::Int),
];

/// Is `f` one of `update`'s value flags?
pub fn is_flag(f: &str) -> bool {
    FLAGS.iter().any(|(n, _, _)| *n == f) || matches!(f, "l3-cache-schema" | "mem-bw-schema")
}

/// A size as runc takes it (docker's RAMInBytes): `512m`, `1G`, `100kb`, `4096`, `-1`.
pub fn parse_bytes(s: &str) -> Option<i64> {
    let t = s.trim().to_ascii_lowercase();
    if t == "-1" {
        return Some(-1);
    }
    let end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (n, unit) = t.split_at(end);
    let n: f64 = n.parse().ok()?;
    let mult: f64 = match unit.trim_end_matches('b').trim_end_matches('i') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024f64.powi(2),
        "g" => 1024f64.powi(3),
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return None,
    };
    let v = n * mult;
    (v.is_finite() && v >= 0.0 && v < i64::MAX as f64).then_some(v as i64)
}

/// The `linux.resources` document: the file's, then the flags over it.
fn document(o: &UpdateOpts) -> Result<Value> {
    let mut doc = match &o.resources {
        Some(p) => {
            let text = if p.as_os_str() == "-" {
                let mut s = String::new();
                let mut input = std::io::Read::take(std::io::stdin().lock(), 1 << 20);
                std::io::Read::read_to_string(&mut input, &mut s).map_err(|e| {
                    OciError::new(format!("update: cannot read the resources from stdin: {e}"))
                })?;
                s
            } else {
                hako_config::read_bounded_text(p, 1 << 20).map_err(|e| {
                    OciError::new(format!(
                        "update: cannot read the resources file {}: {e}",
                        p.display()
                    ))
                })?
            };
            let v: Value = serde_json::from_str(&text).map_err(|e| {
                OciError::new(format!(
                    "update: the resources file {} is not JSON ({e}); give a linux.resources object such as {{\"memory\":{{\"limit\":268435456}}}}",
                    p.display()
                ))
            })?;
            if !v.is_object() {
                return Err(OciError::new(format!(
                    "update: the resources file {} holds no JSON object; give a linux.resources object",
                    p.display()
                )));
            }
            v
        }
        None => json!({}),
    };
    for (name, value) in &o.flags {
        if matches!(name.as_str(), "l3-cache-schema" | "mem-bw-schema") {
            return Err(OciError::new(format!(
                "update: --{name}: hako-oci has no Intel RDT support; leave the flag out"
            )));
        }
        let Some((_, path, kind)) = FLAGS.iter().find(|(n, _, _)| n == name) else {
            continue;
        };
        let bad = |what: &str| {
            OciError::new(format!(
                "update: invalid value \"{value}\" for --{name}: {what}"
            ))
        };
        let v = match kind {
            Kind::Bytes => json!(parse_bytes(value)
                .ok_or_else(|| bad("give bytes, optionally with k, m, g (e.g. 256m), or -1"))?),
            Kind::Int => json!(value.parse::<i64>().map_err(|_| bad("give an integer"))?),
            Kind::Uint => json!(value
                .parse::<u64>()
                .map_err(|_| bad("give a non-negative integer"))?),
            Kind::Text => json!(value),
        };
        let obj = doc
            .as_object_mut()
            .and_then(|d| {
                d.entry(path[0])
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
            })
            .ok_or_else(|| {
                OciError::new(format!(
                    "update: the resources file's \"{}\" is not an object",
                    path[0]
                ))
            })?;
        obj.insert(path[1].to_string(), v);
    }
    if doc.get("devices").is_some() {
        return Err(OciError::new(
            "update: linux.resources.devices: update does not change the device rules; remove \"devices\"",
        ));
    }
    Ok(doc)
}

/// The typed resources of a `linux.resources` document, through config.json's mapping.
pub fn typed(id: &str, doc: &Value) -> Result<hako_spec::Resources> {
    let cfg = json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs"},
        "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "linux": {"resources": doc},
    });
    let spec = hako_spec::oci::from_bundle_config(
        id,
        std::path::Path::new("/"),
        &cfg.to_string(),
        &Default::default(),
    )
    .map_err(|e| match e.kind() {
        hako_spec::ErrorKind::Json { path, reason, .. } => {
            OciError::new(format!("update: container {id}: {path}: {reason}"))
        }
        _ => OciError::new(format!("update: container {id}: {e}")),
    })?;
    Ok(spec.resources.unwrap_or_default())
}

/// `update`: the new limits, written into the container's cgroup.
pub fn update(g: &Global, id: &str, o: &UpdateOpts) -> Result<()> {
    let st = g.load(id)?;
    let doc = document(o)?;
    let r = typed(id, &doc)?;
    if g.status(&st) == Status::Stopped {
        return Err(OciError::new("container not running"));
    }
    let cg: Cgroup = client::read_state_file(&g.dir(id)?)
        .and_then(|sf| sf.cgroup)
        .ok_or_else(|| OciError::new("container not running"))?;
    let host = hako_cgroups::Host::detect()?;
    let v1 = host.hierarchies.iter().any(|h| h.version == 1);
    let writes = if v1 { r.v1_writes() } else { r.v2_writes() }.map_err(|e| {
        OciError::new(format!(
            "update: container {id}: {e} (on this host's cgroup {})",
            if v1 { "v1 hierarchies" } else { "v2" }
        ))
    })?;
    let kind = if v1 { KeyKind::V1 } else { KeyKind::V2 };
    // every file's path first: a limit this cgroup has no file for changes nothing
    let mut planned = Vec::new();
    for (k, v) in &writes {
        let p = cg
            .key_path(k, kind)
            .map_err(|e| OciError::new(format!("update: container {id}: {k}: {e}")))?;
        planned.push((k, v, p));
    }
    // in order; a write the kernel refuses because of another limit (v1's memory below
    // memory+swap, a quota against its period) is tried again after the rest
    let mut failed = Vec::new();
    for (k, v, p) in &planned {
        if let Err(e) = Cgroup::write_key(p, k, v) {
            failed.push((k, v, p, e));
        }
    }
    for (k, v, p, first) in failed {
        Cgroup::write_key(p, k, v).map_err(|_| {
            OciError::new(format!(
                "update: container {id}: cannot set {k} to {v}: {first}"
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("4096"), Some(4096));
        assert_eq!(parse_bytes("256m"), Some(256 << 20));
        assert_eq!(parse_bytes("1G"), Some(1 << 30));
        assert_eq!(parse_bytes("100kb"), Some(100 << 10));
        assert_eq!(parse_bytes("-1"), Some(-1));
        for bad in ["", "m", "12x", "-5", "1.2.3k"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
    }

    #[test]
    fn flags_over_the_file_and_the_mapping() {
        let o = UpdateOpts {
            resources: None,
            flags: vec![
                ("memory".into(), "64m".into()),
                ("pids-limit".into(), "20".into()),
                ("cpu-quota".into(), "50000".into()),
            ],
        };
        let d = document(&o).unwrap();
        assert_eq!(d["memory"]["limit"], 64 << 20);
        let r = typed("x", &d).unwrap();
        assert_eq!(r.pids_limit, Some(20));
        assert_eq!(r.memory.unwrap().limit, Some(64 << 20));
        let bad = UpdateOpts {
            resources: None,
            flags: vec![("memory".into(), "lots".into())],
        };
        assert!(document(&bad).unwrap_err().msg.contains("--memory"));
        let e = typed("x", &json!({"memory": {"swappiness": 500}})).unwrap_err();
        assert!(e.msg.contains("memory.swappiness"), "{}", e.msg);
    }
}
