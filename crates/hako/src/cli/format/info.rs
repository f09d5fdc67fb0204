//! `lxc-info`'s output: `Label:` lines padded to 15 columns, its human units, and the JSON form.

use std::fmt::Write as _;

use super::{humanize_bytes, line};
use crate::cli::action::InfoRequest;
use crate::{Info, State};

/// A config item's value(s) as fetched for `-c KEY`: Ok(values) or Err(message).
pub type ConfigValue = Result<Vec<String>, String>;

/// The text lxc-info prints, and the lines for stderr (config keys it could not read).
/// `extra_pids` adds a `Pids use:` line after the memory lines (the hako face), and to the
/// full output the security modules' lines (`AppArmor:`, `SELinux:` where it is active or
/// configured).
pub fn format_info(
    info: &Info,
    req: &InfoRequest,
    config: &[(String, ConfigValue)],
    extra_pids: bool,
) -> (String, String) {
    let mut out = String::new();
    let mut err = String::new();
    let full = req.is_full();
    let (state, pid, ips, stats) = if full {
        (true, true, true, true)
    } else {
        (req.state, req.pid, req.ips, req.stats)
    };
    let bare = !req.humanize && !full && req.filter_count() == 1;
    if full {
        line(&mut out, "Name:", &info.name, false);
    }
    if state {
        line(&mut out, "State:", info.state.as_str(), bare);
    }
    if full && extra_pids {
        line(
            &mut out,
            "Privileged:",
            if info.privileged { "yes" } else { "no" },
            false,
        );
        if !info.id_maps.is_empty() {
            let maps: Vec<String> = info.id_maps.iter().map(|m| m.to_string()).collect();
            line(&mut out, "ID map:", &maps.join(", "), false);
        }
    }
    let running = info.state != State::Stopped;
    if running {
        if pid {
            if let Some(p) = info.pid {
                line(&mut out, "PID:", &p.to_string(), bare);
            }
        }
        if ips {
            for ip in &info.ips {
                line(&mut out, "IP:", ip, bare);
            }
        }
    }
    if stats {
        let h = req.humanize;
        if let Some(ns) = info.cpu_ns {
            let v = if h {
                format!("{:.2} seconds", ns as f64 / 1e9)
            } else {
                ns.to_string()
            };
            line(&mut out, "CPU use:", &v, false);
        }
        if let Some(b) = info.blkio_bytes {
            line(&mut out, "BlkIO use:", &size(b, h), false);
        }
        if let Some(b) = info.memory_bytes {
            line(&mut out, "Memory use:", &size(b, h), false);
        }
        if let Some(b) = info.kmem_bytes {
            line(&mut out, "KMem use:", &size(b, h), false);
        }
        if extra_pids {
            if let Some(n) = info.pids {
                line(&mut out, "Pids use:", &n.to_string(), false);
            }
        }
        if running {
            for iface in &info.interfaces {
                let link = iface.link.as_deref().unwrap_or(&iface.name);
                line(&mut out, "Link:", link, false);
                let (tx, rx) = (iface.tx_bytes, iface.rx_bytes);
                if let Some(t) = tx {
                    line(&mut out, " TX bytes:", &size(t, h), false);
                }
                if let Some(r) = rx {
                    line(&mut out, " RX bytes:", &size(r, h), false);
                }
                if tx.is_some() || rx.is_some() {
                    let total = tx.unwrap_or(0) + rx.unwrap_or(0);
                    line(&mut out, " Total bytes:", &size(total, h), false);
                }
            }
        }
    }
    if full && extra_pids {
        let (aa, se) = (&info.lsm.apparmor, &info.lsm.selinux);
        if !aa.status.is_empty() {
            line(&mut out, "AppArmor:", &aa.status, false);
        }
        if !se.status.is_empty() && (se.available || se.configured.is_some()) {
            line(&mut out, "SELinux:", &se.status, false);
        }
    }
    let bare_keys = !req.humanize && req.keys.len() == 1;
    for (key, value) in config {
        match value {
            Ok(vals) if vals.is_empty() => {
                if bare_keys {
                    out.push('\n');
                } else {
                    let _ = writeln!(out, "{key} =");
                }
            }
            Ok(vals) => {
                for v in vals {
                    if bare_keys {
                        let _ = writeln!(out, "{v}");
                    } else {
                        let _ = writeln!(out, "{key} = {v}");
                    }
                }
            }
            Err(e) => {
                let _ = writeln!(err, "{e}");
            }
        }
    }
    (out, err)
}

/// `--format json` for info: the facade's [`Info`], pretty-printed.
pub fn info_json(info: &Info) -> String {
    let mut s = serde_json::to_string_pretty(info).unwrap_or_else(|_| "{}".to_string());
    s.push('\n');
    s
}

fn size(val: u64, humanize: bool) -> String {
    if humanize {
        humanize_bytes(val)
    } else {
        val.to_string()
    }
}
