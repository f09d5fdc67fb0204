//! Output in LXC's formats: `lxc-info` lines (`Name:           web`, label padded to 15
//! columns), its human units, the `lxc-ls` name columns and fancy table, and the JSON
//! forms of both. Pure functions from data to text.

use std::fmt::Write as _;

use super::action::{Column, InfoRequest};
use crate::network::{Lease, NetworkDetails, NetworkSummary};
use crate::{Info, State};

/// lxc-info's size units: `1.23 MiB`, `696.00 KiB`, `512 bytes` (same rounding as LXC:
/// KiB and MiB values are rounded, GiB values truncated).
pub fn humanize_bytes(val: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    if val > GIB {
        format!("{}.{:02} GiB", val >> 30, (val & (GIB - 1)) / 10_737_419)
    } else if val > MIB {
        let x = val + 5243;
        format!("{}.{:02} MiB", x >> 20, ((x & (MIB - 1)) * 100) >> 20)
    } else if val > KIB {
        let x = val + 5;
        format!("{}.{:02} KiB", x >> 10, ((x & (KIB - 1)) * 100) >> 10)
    } else {
        format!("{val} bytes")
    }
}

fn size(val: u64, humanize: bool) -> String {
    if humanize {
        humanize_bytes(val)
    } else {
        val.to_string()
    }
}

/// One `Label:` line, or the bare value when lxc-info would print it bare (`-H` and a
/// single field asked for).
fn line(out: &mut String, label: &str, value: &str, bare: bool) {
    if bare {
        let _ = writeln!(out, "{value}");
    } else {
        let _ = writeln!(out, "{label:<15} {value}");
    }
}

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

/// One container as `ls` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct LsRow {
    pub name: String,
    pub state: State,
    pub pid: Option<i32>,
    pub memory_bytes: Option<u64>,
    pub autostart: bool,
    pub groups: Vec<String>,
    pub interfaces: Vec<String>,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
    pub unprivileged: bool,
    /// the config's `lxc.idmap` lines
    pub id_maps: Vec<crate::IdMapInfo>,
    /// A half-made container (a killed create, copy or destroy): shown as PARTIAL.
    pub partial: Option<PartialRow>,
}

/// What `ls` knows of a half-made container.
#[derive(Clone, Debug, PartialEq)]
pub struct PartialRow {
    /// the operation it was left by (None when unknown)
    pub operation: Option<String>,
    /// whether a hako command is still at it
    pub in_progress: bool,
    /// the command that removes it
    pub fix: String,
}

impl LsRow {
    /// A half-made container: a name and nothing else known; `fix` is the command that
    /// removes it.
    pub fn partial(name: &str, p: &hako_store::Partial, fix: String) -> LsRow {
        LsRow {
            name: name.to_string(),
            state: State::Stopped,
            pid: None,
            memory_bytes: None,
            autostart: false,
            groups: Vec::new(),
            interfaces: Vec::new(),
            ipv4: Vec::new(),
            ipv6: Vec::new(),
            unprivileged: false,
            id_maps: Vec::new(),
            partial: Some(PartialRow {
                operation: p.operation.clone(),
                in_progress: p.busy.is_some(),
                fix,
            }),
        }
    }

    /// The STATE cell: LXC's state names, and PARTIAL for a half-made container.
    pub fn state_text(&self) -> &'static str {
        if self.partial.is_some() {
            "PARTIAL"
        } else {
            self.state.as_str()
        }
    }

    pub fn from_info(info: &Info) -> LsRow {
        let (ipv6, ipv4): (Vec<String>, Vec<String>) =
            info.ips.iter().cloned().partition(|ip| ip.contains(':'));
        LsRow {
            name: info.name.clone(),
            state: info.state,
            pid: info.pid,
            memory_bytes: info.memory_bytes,
            autostart: info.autostart,
            groups: info.groups.clone(),
            interfaces: info.interfaces.iter().map(|i| i.name.clone()).collect(),
            ipv4,
            ipv6,
            unprivileged: info.unprivileged,
            id_maps: info.id_maps.clone(),
            partial: None,
        }
    }

    fn running(&self) -> bool {
        self.state != State::Stopped
    }

    fn list(v: &[String]) -> Option<String> {
        (!v.is_empty()).then(|| v.join(", "))
    }

    fn ram_mb(&self) -> f64 {
        self.memory_bytes.unwrap_or(0) as f64 / 1024.0 / 1024.0
    }
}

/// Column widths: at least the header's, as LXC.
struct Widths {
    name: usize,
    state: usize,
    pid: usize,
    ram: usize,
    swap: usize,
    groups: usize,
    interface: usize,
    ipv4: usize,
    ipv6: usize,
}

fn widths(rows: &[LsRow]) -> Widths {
    let mut w = Widths {
        name: 4,
        state: 5,
        pid: 3,
        ram: 3,
        swap: 4,
        groups: 6,
        interface: 9,
        ipv4: 4,
        ipv6: 4,
    };
    for r in rows {
        w.name = w.name.max(r.name.len());
        w.state = w.state.max(r.state_text().len());
        if let Some(p) = r.pid {
            w.pid = w.pid.max(p.to_string().len());
        }
        w.ram = w.ram.max(format!("{:.2}", r.ram_mb()).len());
        w.swap = w.swap.max(4); // "0.00": hako does not account swap per container
        for (field, width) in [
            (&r.groups, &mut w.groups),
            (&r.interfaces, &mut w.interface),
            (&r.ipv4, &mut w.ipv4),
            (&r.ipv6, &mut w.ipv6),
        ] {
            if let Some(s) = LsRow::list(field) {
                *width = (*width).max(s.len());
            }
        }
    }
    w
}

/// Plain `lxc-ls`: names padded to a common width (at least 4), as many per line as fit
/// in `term_width`; with no terminal (width 0) one per line, still padded, as LXC does.
/// `-1`: one bare name per line.
pub fn ls_names(names: &[String], one_per_line: bool, term_width: usize) -> String {
    let mut out = String::new();
    if one_per_line {
        for n in names {
            out.push_str(n);
            out.push('\n');
        }
        return out;
    }
    let w = names.iter().map(String::len).max().unwrap_or(0).max(4);
    let mut len = 0;
    for n in names {
        let _ = write!(out, "{n:<w$}");
        len += w;
        if len + w >= term_width {
            out.push('\n');
            len = 0;
        } else {
            out.push(' ');
            len += 1;
        }
    }
    if len > 0 {
        out.push('\n');
    }
    out
}

/// `lxc-ls -f` / `-F`: a header and one line per container, every cell left-aligned to
/// its column's width and followed by one space (trailing spaces included, as LXC).
pub fn ls_table(rows: &[LsRow], columns: &[Column]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let w = widths(rows);
    let mut out = String::new();
    for c in columns {
        let width = match c {
            Column::Name => w.name,
            Column::State => w.state,
            Column::Pid => w.pid,
            Column::Ram => w.ram + 2,
            Column::Swap => w.swap + 2,
            Column::Autostart => 9,
            Column::Groups => w.groups,
            Column::Interface => w.interface,
            Column::Ipv4 => w.ipv4,
            Column::Ipv6 => w.ipv6,
            Column::Unprivileged => 12,
        };
        let _ = write!(out, "{:<width$} ", c.header());
    }
    out.push('\n');
    let dash = "-".to_string();
    for r in rows {
        for c in columns {
            match c {
                Column::Name => {
                    let _ = write!(out, "{:<1$} ", r.name, w.name);
                }
                Column::State => {
                    let _ = write!(out, "{:<1$} ", r.state_text(), w.state);
                }
                Column::Pid => {
                    let p = r
                        .pid
                        .filter(|p| *p > 0)
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| dash.clone());
                    let _ = write!(out, "{:<1$} ", p, w.pid);
                }
                Column::Ram => {
                    if r.running() {
                        let _ = write!(out, "{:>1$.2}MB ", r.ram_mb(), w.ram);
                    } else {
                        let _ = write!(out, "{:<1$}   ", "-", w.ram);
                    }
                }
                Column::Swap => {
                    if r.running() {
                        let _ = write!(out, "{:>1$.2}MB ", 0.0, w.swap);
                    } else {
                        let _ = write!(out, "{:<1$}   ", "-", w.swap);
                    }
                }
                Column::Autostart => {
                    let _ = write!(out, "{:<9} ", r.autostart as u8);
                }
                Column::Groups => {
                    let _ = write!(
                        out,
                        "{:<1$} ",
                        LsRow::list(&r.groups).unwrap_or_else(|| dash.clone()),
                        w.groups
                    );
                }
                Column::Interface => {
                    let _ = write!(
                        out,
                        "{:<1$} ",
                        LsRow::list(&r.interfaces).unwrap_or_else(|| dash.clone()),
                        w.interface
                    );
                }
                Column::Ipv4 => {
                    let _ = write!(
                        out,
                        "{:<1$} ",
                        LsRow::list(&r.ipv4).unwrap_or_else(|| dash.clone()),
                        w.ipv4
                    );
                }
                Column::Ipv6 => {
                    let _ = write!(
                        out,
                        "{:<1$} ",
                        LsRow::list(&r.ipv6).unwrap_or_else(|| dash.clone()),
                        w.ipv6
                    );
                }
                Column::Unprivileged => {
                    let _ = write!(
                        out,
                        "{:<12} ",
                        if r.unprivileged { "true" } else { "false" }
                    );
                }
            }
        }
        out.push('\n');
    }
    out
}

/// `ls --format json`: a list of objects with the `ls -f` columns (plus pid and memory).
pub fn ls_json(rows: &[LsRow]) -> String {
    let list: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let mut v = serde_json::json!({
                "name": r.name,
                "state": r.state_text(),
                "autostart": r.autostart,
                "groups": r.groups,
                "ipv4": r.ipv4,
                "ipv6": r.ipv6,
                "unprivileged": r.unprivileged,
                "id_maps": r.id_maps,
                "pid": r.pid,
                "memory_bytes": r.memory_bytes,
                "interfaces": r.interfaces,
            });
            if let Some(p) = &r.partial {
                v["partial"] = serde_json::json!({
                    "operation": p.operation,
                    "in_progress": p.in_progress,
                    "fix": p.fix,
                });
            }
            v
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&list).unwrap_or_else(|_| "[]".to_string());
    s.push('\n');
    s
}

// ---------------------------------------------------------------------------------------
// `hako network ...`

/// A plain table: a header and rows, every column but the last padded to its widest cell,
/// columns separated by two spaces. Empty when there are no rows.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut put = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        for (i, c) in cells.iter().enumerate() {
            if i == last {
                out.push_str(c);
            } else {
                let _ = write!(out, "{c:<0$}  ", w[i]);
            }
        }
        out.push('\n');
    };
    put(header.to_vec());
    for r in rows {
        put(r.iter().map(String::as_str).collect());
    }
    out
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn or_none<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "none".into())
}

/// `hako network ls`: NAME BRIDGE IPV4 IPV6 NAT DHCP STATE.
pub fn net_ls_table(nets: &[NetworkSummary]) -> String {
    let rows: Vec<Vec<String>> = nets
        .iter()
        .map(|n| {
            let d = &n.def;
            vec![
                d.name.clone(),
                d.bridge.clone(),
                d.ipv4.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
                d.ipv6.map(|x| x.to_string()).unwrap_or_else(|| "-".into()),
                yes_no(d.nat).into(),
                yes_no(d.dhcp).into(),
                n.state.as_str().into(),
            ]
        })
        .collect();
    table(
        &["NAME", "BRIDGE", "IPV4", "IPV6", "NAT", "DHCP", "STATE"],
        &rows,
    )
}

fn pretty_json<T: serde::Serialize>(v: &T, empty: &str) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| empty.to_string());
    s.push('\n');
    s
}

/// `hako network ls --format json`: a list of definitions with `state` and `status`.
pub fn net_ls_json(nets: &[NetworkSummary]) -> String {
    pretty_json(&nets, "[]")
}

/// When a lease runs out, relative to `now` (seconds since the epoch): `in 59m 3s`,
/// `never` (infinite lease), `expired`.
pub fn lease_expiry(expiry: u64, now: u64) -> String {
    if expiry == 0 {
        return "never".into();
    }
    if expiry <= now {
        return "expired".into();
    }
    let left = expiry - now;
    let (d, h, m, s) = (left / 86400, left / 3600 % 24, left / 60 % 60, left % 60);
    if d > 0 {
        format!("in {d}d {h}h")
    } else if h > 0 {
        format!("in {h}h {m}m")
    } else if m > 0 {
        format!("in {m}m {s}s")
    } else {
        format!("in {s}s")
    }
}

/// `hako network leases`: IP MAC HOSTNAME EXPIRES.
pub fn leases_table(leases: &[Lease], now: u64) -> String {
    let rows: Vec<Vec<String>> = leases
        .iter()
        .map(|l| {
            vec![
                l.ip.to_string(),
                l.mac.clone(),
                l.hostname.clone().unwrap_or_else(|| "-".into()),
                lease_expiry(l.expiry, now),
            ]
        })
        .collect();
    table(&["IP", "MAC", "HOSTNAME", "EXPIRES"], &rows)
}

/// `hako network leases --format json`: dnsmasq's fields (`expiry` in seconds since the
/// epoch, 0 for infinite).
pub fn leases_json(leases: &[Lease]) -> String {
    pretty_json(&leases, "[]")
}

/// `hako network show`: the definition, each part's state, attached devices, leases and
/// the names registered for static addresses.
pub fn net_show_text(n: &NetworkDetails, now: u64) -> String {
    let mut out = String::new();
    let d = &n.summary.def;
    let name = &d.name;
    line(&mut out, "Name:", name, false);
    line(&mut out, "State:", n.summary.state.as_str(), false);
    let st = n.summary.status.as_ref();
    let bridge = match st {
        None => d.bridge.clone(),
        Some(s) if !s.bridge_exists => format!("{} (not present)", d.bridge),
        Some(s) if !s.bridge_up => format!("{} (present, link down)", d.bridge),
        Some(_) => format!("{} (up)", d.bridge),
    };
    line(&mut out, "Bridge:", &bridge, false);
    let addr = |a: Option<String>| match (a, st) {
        (None, _) => "none".to_string(),
        (Some(a), None) => a,
        (Some(a), Some(s)) if !s.bridge_exists => a,
        (Some(a), Some(s)) if s.addresses_ok => format!("{a} (on the bridge)"),
        (Some(a), Some(_)) => format!("{a} (missing from the bridge)"),
    };
    line(
        &mut out,
        "IPv4:",
        &addr(d.ipv4.map(|x| x.to_string())),
        false,
    );
    line(
        &mut out,
        "IPv6:",
        &addr(d.ipv6.map(|x| x.to_string())),
        false,
    );
    line(&mut out, "NAT:", yes_no(d.nat), false);
    let dhcp = match (d.dhcp, d.dhcp_pool()) {
        (true, Some((a, b))) => format!("yes (pool {a} - {b})"),
        (b, _) => yes_no(b).to_string(),
    };
    line(&mut out, "DHCP:", &dhcp, false);
    line(
        &mut out,
        "DNS domain:",
        &or_none(d.dns_domain.as_deref()),
        false,
    );
    match st {
        None => {
            let why = n.summary.status_error.as_deref().unwrap_or("unknown error");
            line(&mut out, "Status:", &format!("unknown: {why}"), false);
        }
        Some(s) => {
            let table_name = format!("inet {}", d.nft_table());
            let nft = if !s.nft_wanted {
                "not used (the network has no address)".to_string()
            } else if s.nft_table {
                format!("table {table_name} present")
            } else {
                format!("table {table_name} not present")
            };
            line(&mut out, "nftables:", &nft, false);
            let dnsmasq = match (s.dnsmasq_wanted, s.dnsmasq_pid) {
                (false, _) => "not used (the network has no address)".to_string(),
                (true, Some(pid)) => format!("running (pid {pid})"),
                (true, None) => format!(
                    "not running (will be restarted by the next start or \"hako network up {name}\")"
                ),
            };
            line(&mut out, "dnsmasq:", &dnsmasq, false);
        }
    }
    if st.is_none() {
        line(&mut out, "Interfaces:", "unknown (see Status)", false);
    } else if n.users.is_empty() {
        line(&mut out, "Interfaces:", "none", false);
    }
    for u in &n.users {
        let v = match &u.container {
            Some(c) => format!("{} (container \"{c}\")", u.interface),
            None => u.interface.clone(),
        };
        line(&mut out, "Interface:", &v, false);
    }
    if n.leases.is_empty() {
        line(&mut out, "Leases:", "none", false);
    } else {
        out.push_str("Leases:\n");
        for l in leases_table(&n.leases, now).lines() {
            let _ = writeln!(out, "  {l}");
        }
    }
    if !n.hosts.is_empty() {
        out.push_str("Static names:\n");
        let rows: Vec<Vec<String>> = n
            .hosts
            .iter()
            .map(|h| vec![h.hostname.clone(), h.ip.to_string()])
            .collect();
        for l in table(&["HOSTNAME", "IP"], &rows).lines() {
            let _ = writeln!(out, "  {l}");
        }
    }
    out
}

/// `hako network show --format json`.
pub fn net_show_json(n: &NetworkDetails) -> String {
    pretty_json(n, "{}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NetInfo;

    fn running_info() -> Info {
        Info {
            name: "ref".into(),
            state: State::Running,
            pid: Some(6498),
            cpu_ns: Some(9_205_300),
            blkio_bytes: Some(0),
            memory_bytes: Some(679_936),
            kmem_bytes: Some(380_928),
            pids: Some(3),
            ips: vec!["10.0.3.5".into(), "fd42::5".into()],
            interfaces: vec![NetInfo {
                name: "eth0".into(),
                link: Some("vethAB12".into()),
                ipv4: vec!["10.0.3.5".into()],
                ipv6: vec!["fd42::5".into()],
                tx_bytes: Some(1500),
                rx_bytes: Some(2_000_000),
            }],
            autostart: false,
            groups: vec![],
            unprivileged: false,
            id_maps: Vec::new(),
            privileged: true,
            lsm: Default::default(),
        }
    }

    fn stopped_info(name: &str) -> Info {
        Info {
            name: name.into(),
            state: State::Stopped,
            pid: None,
            cpu_ns: None,
            blkio_bytes: None,
            memory_bytes: None,
            kmem_bytes: None,
            pids: None,
            ips: vec![],
            interfaces: vec![],
            autostart: false,
            groups: vec![],
            unprivileged: false,
            id_maps: Vec::new(),
            privileged: true,
            lsm: Default::default(),
        }
    }

    #[test]
    fn humanize_matches_lxc() {
        assert_eq!(humanize_bytes(0), "0 bytes");
        assert_eq!(humanize_bytes(1024), "1024 bytes");
        assert_eq!(humanize_bytes(1025), "1.00 KiB");
        // values seen from lxc-info on this machine
        assert_eq!(humanize_bytes(679_936), "664.00 KiB");
        assert_eq!(humanize_bytes(712_704), "696.00 KiB");
        assert_eq!(humanize_bytes(1_216_512), "1.16 MiB");
        assert_eq!(humanize_bytes(1_536), "1.50 KiB");
        // GiB values are truncated, as LXC: 3.5 GiB prints as 3.49
        assert_eq!(humanize_bytes(3 * (1 << 30) + (1 << 29)), "3.49 GiB");
        assert_eq!(
            humanize_bytes(3 * (1 << 30) + (1 << 29) + 10_737_419),
            "3.50 GiB"
        );
        assert_eq!(
            humanize_bytes(u64::MAX),
            format!("{}.99 GiB", u64::MAX >> 30)
        );
    }

    #[test]
    fn info_full_running() {
        let (out, err) = format_info(&running_info(), &InfoRequest::default(), &[], false);
        assert_eq!(
            out,
            "Name:           ref\n\
             State:          RUNNING\n\
             PID:            6498\n\
             IP:             10.0.3.5\n\
             IP:             fd42::5\n\
             CPU use:        0.01 seconds\n\
             BlkIO use:      0 bytes\n\
             Memory use:     664.00 KiB\n\
             KMem use:       372.00 KiB\n\
             Link:           vethAB12\n \
             TX bytes:      1.46 KiB\n \
             RX bytes:      1.91 MiB\n \
             Total bytes:   1.91 MiB\n"
        );
        assert!(err.is_empty());
    }

    #[test]
    fn info_raw_numbers() {
        let req = InfoRequest {
            humanize: false,
            ..Default::default()
        };
        let (out, _) = format_info(&running_info(), &req, &[], true);
        assert!(out.contains("CPU use:        9205300\n"), "{out}");
        assert!(out.contains("Memory use:     679936\n"));
        assert!(out.contains("Pids use:       3\n"));
        assert!(out.contains(" Total bytes:   2001500\n"));
        // labels stay with -H when more than one field is shown
        assert!(out.contains("State:          RUNNING\n"));
    }

    fn unprivileged_info(name: &str) -> Info {
        let mut i = stopped_info(name);
        i.id_maps = crate::IdMapInfo::from_values(["u 0 1048576 65536", "g 0 1048576 65536"]);
        i.unprivileged = crate::IdMapInfo::unprivileged(&i.id_maps);
        i.privileged = !i.unprivileged;
        i
    }

    #[test]
    fn info_shows_the_id_map() {
        let i = unprivileged_info("web");
        assert!(i.unprivileged);
        let (out, _) = format_info(&i, &InfoRequest::default(), &[], true);
        assert_eq!(
            out,
            "Name:           web\nState:          STOPPED\nPrivileged:     no\nID map:         u 0 1048576 65536, g 0 1048576 65536\n"
        );
        // lxc-info has no such lines
        let (out, _) = format_info(&i, &InfoRequest::default(), &[], false);
        assert!(
            !out.contains("ID map") && !out.contains("Privileged"),
            "{out}"
        );
        let v: serde_json::Value = serde_json::from_str(&info_json(&i)).unwrap();
        assert_eq!(v["unprivileged"], true);
        assert_eq!(v["privileged"], false);
        assert_eq!(v["id_maps"][0]["kind"], "u");
        assert_eq!(v["id_maps"][0]["container"], 0);
        assert_eq!(v["id_maps"][0]["host"], 1048576);
        assert_eq!(v["id_maps"][0]["count"], 65536);
        assert_eq!(v["id_maps"][1]["kind"], "g");
        let v: serde_json::Value = serde_json::from_str(&info_json(&stopped_info("p"))).unwrap();
        assert_eq!(v["id_maps"], serde_json::json!([]));
        assert_eq!(v["unprivileged"], false);
        // ls: the UNPRIVILEGED column (LXC's true/false) and the maps in JSON
        let rows = vec![
            LsRow::from_info(&unprivileged_info("u1")),
            LsRow::from_info(&stopped_info("p1")),
        ];
        assert_eq!(
            ls_table(&rows, &Column::DEFAULT),
            "NAME STATE   AUTOSTART GROUPS IPV4 IPV6 UNPRIVILEGED \n\
             u1   STOPPED 0         -      -    -    true         \n\
             p1   STOPPED 0         -      -    -    false        \n"
        );
        let v: serde_json::Value = serde_json::from_str(&ls_json(&rows)).unwrap();
        assert_eq!(v[0]["unprivileged"], true);
        assert_eq!(v[0]["id_maps"][1]["host"], 1048576);
        assert_eq!(v[1]["unprivileged"], false);
        assert_eq!(v[1]["id_maps"], serde_json::json!([]));
        // a map that keeps host root is not unprivileged
        let m = crate::IdMapInfo::from_values(["u 0 0 65536", "g 0 100000 65536"]);
        assert!(!crate::IdMapInfo::unprivileged(&m));
        assert!(!crate::IdMapInfo::unprivileged(&[]));
    }

    #[test]
    fn info_security_modules() {
        let mut i = stopped_info("web");
        i.lsm.apparmor.status =
            "not available on this kernel (lxc.apparmor.profile ignored)".into();
        i.lsm.selinux.status = "not active on this kernel".into();
        let (out, _) = format_info(&i, &InfoRequest::default(), &[], true);
        assert_eq!(
            out,
            "Name:           web\nState:          STOPPED\nPrivileged:     yes\nAppArmor:       not available on this kernel (lxc.apparmor.profile ignored)\n"
        );
        // SELinux shows where it is active or configured
        i.lsm.selinux.configured = Some("system_u:system_r:container_t:s0".into());
        i.lsm.selinux.status = "not active on this kernel (lxc.selinux.context ignored)".into();
        let (out, _) = format_info(&i, &InfoRequest::default(), &[], true);
        assert!(out.ends_with(
            "SELinux:        not active on this kernel (lxc.selinux.context ignored)\n"
        ));
        // not in lxc-info's output, nor in a single field's
        let (out, _) = format_info(&i, &InfoRequest::default(), &[], false);
        assert!(!out.contains("AppArmor"), "{out}");
        let s = InfoRequest {
            state: true,
            ..Default::default()
        };
        assert!(!format_info(&i, &s, &[], true).0.contains("AppArmor"));
        let json = info_json(&i);
        assert!(json.contains("\"apparmor\": {"), "{json}");
        assert!(json.contains("\"available\": false"), "{json}");
        assert!(json.contains("\"selinux\": {"), "{json}");
    }

    #[test]
    fn info_stopped_full() {
        let (out, _) = format_info(&stopped_info("ref"), &InfoRequest::default(), &[], false);
        assert_eq!(out, "Name:           ref\nState:          STOPPED\n");
    }

    #[test]
    fn info_single_fields() {
        let i = running_info();
        let s = InfoRequest {
            state: true,
            ..Default::default()
        };
        assert_eq!(
            format_info(&i, &s, &[], false).0,
            "State:          RUNNING\n"
        );
        let sh = InfoRequest {
            state: true,
            humanize: false,
            ..Default::default()
        };
        assert_eq!(format_info(&i, &sh, &[], false).0, "RUNNING\n");
        let ph = InfoRequest {
            pid: true,
            humanize: false,
            ..Default::default()
        };
        assert_eq!(format_info(&i, &ph, &[], false).0, "6498\n");
        let sp = InfoRequest {
            state: true,
            pid: true,
            humanize: false,
            ..Default::default()
        };
        assert_eq!(
            format_info(&i, &sp, &[], false).0,
            "State:          RUNNING\nPID:            6498\n"
        );
        // pid of a stopped container: nothing
        let p = InfoRequest {
            pid: true,
            ..Default::default()
        };
        assert_eq!(format_info(&stopped_info("x"), &p, &[], false).0, "");
        // -S alone: stats with labels even with -H (it counts 5)
        let sh = InfoRequest {
            stats: true,
            humanize: false,
            ..Default::default()
        };
        let out = format_info(&i, &sh, &[], false).0;
        assert!(out.starts_with("CPU use:        9205300\n"), "{out}");
        assert!(!out.contains("Name:"));
    }

    #[test]
    fn info_config_keys() {
        let i = running_info();
        let req = InfoRequest {
            keys: vec![
                "lxc.uts.name".into(),
                "lxc.bogus".into(),
                "lxc.cap.drop".into(),
                "lxc.environment".into(),
            ],
            ..Default::default()
        };
        let config = vec![
            ("lxc.uts.name".to_string(), Ok(vec!["ref".to_string()])),
            (
                "lxc.bogus".to_string(),
                Err("lxc.bogus invalid".to_string()),
            ),
            ("lxc.cap.drop".to_string(), Ok(vec![])),
            (
                "lxc.environment".to_string(),
                Ok(vec!["A=1".to_string(), "B=2".to_string()]),
            ),
        ];
        let (out, err) = format_info(&i, &req, &config, false);
        assert_eq!(
            out,
            "lxc.uts.name = ref\nlxc.cap.drop =\nlxc.environment = A=1\nlxc.environment = B=2\n"
        );
        assert_eq!(err, "lxc.bogus invalid\n");
        let req = InfoRequest {
            keys: vec!["lxc.uts.name".into()],
            humanize: false,
            ..Default::default()
        };
        let (out, _) = format_info(&i, &req, &config[..1], false);
        assert_eq!(out, "ref\n");
    }

    #[test]
    fn info_json_has_fields() {
        let v: serde_json::Value = serde_json::from_str(&info_json(&running_info())).unwrap();
        assert_eq!(v["name"], "ref");
        assert_eq!(v["state"], "RUNNING");
        assert_eq!(v["pid"], 6498);
        assert_eq!(v["memory_bytes"], 679936);
        assert_eq!(v["interfaces"][0]["link"], "vethAB12");
    }

    #[test]
    fn names_in_columns() {
        let names: Vec<String> = ["ref", "a", "web1"].iter().map(|s| s.to_string()).collect();
        // no terminal: one per line, padded to the width (4), as lxc-ls prints "ref \n"
        assert_eq!(ls_names(&names, false, 0), "ref \na   \nweb1\n");
        // a wide terminal: all on one line, separated by one space after padding
        assert_eq!(ls_names(&names, false, 80), "ref  a    web1 \n");
        // width 10: 4+1+4 = 9, then 9+4 >= 10 wraps
        assert_eq!(ls_names(&names, false, 10), "ref  a   \nweb1 \n");
        assert_eq!(ls_names(&names, true, 80), "ref\na\nweb1\n");
        let long: Vec<String> = vec!["container-one".into(), "b".into()];
        assert_eq!(ls_names(&long, false, 80), "container-one b             \n");
        assert_eq!(ls_names(&[], false, 80), "");
    }

    #[test]
    fn fancy_table_like_lxc() {
        let rows = vec![LsRow::from_info(&stopped_info("ref"))];
        assert_eq!(
            ls_table(&rows, &Column::DEFAULT),
            "NAME STATE   AUTOSTART GROUPS IPV4 IPV6 UNPRIVILEGED \n\
             ref  STOPPED 0         -      -    -    false        \n"
        );
        let mut r = running_info();
        r.name = "web".into();
        r.groups = vec!["prod".into(), "db".into()];
        r.autostart = true;
        let rows = vec![
            LsRow::from_info(&r),
            LsRow::from_info(&stopped_info("a-longer-name")),
        ];
        assert_eq!(
            ls_table(&rows, &Column::DEFAULT),
            "NAME          STATE   AUTOSTART GROUPS   IPV4     IPV6    UNPRIVILEGED \n\
             web           RUNNING 1         prod, db 10.0.3.5 fd42::5 false        \n\
             a-longer-name STOPPED 0         -        -        -       false        \n"
        );
        assert_eq!(ls_table(&[], &Column::DEFAULT), "");
    }

    #[test]
    fn fancy_format_columns() {
        let mut r = running_info();
        r.memory_bytes = Some(681_574); // 0.65 MB
        r.interfaces[0].name = "lo".into();
        let rows = vec![LsRow::from_info(&r), LsRow::from_info(&stopped_info("b"))];
        let cols = [
            Column::Name,
            Column::Pid,
            Column::Ram,
            Column::Swap,
            Column::Interface,
            Column::State,
        ];
        assert_eq!(
            ls_table(&rows, &cols),
            "NAME PID  RAM    SWAP   INTERFACE STATE   \n\
             ref  6498 0.65MB 0.00MB lo        RUNNING \n\
             b    -    -      -      -         STOPPED \n"
        );
    }

    #[test]
    fn ls_json_objects() {
        let rows = vec![LsRow::from_info(&running_info())];
        let v: serde_json::Value = serde_json::from_str(&ls_json(&rows)).unwrap();
        assert_eq!(v[0]["name"], "ref");
        assert_eq!(v[0]["state"], "RUNNING");
        assert_eq!(v[0]["ipv4"][0], "10.0.3.5");
        assert_eq!(v[0]["ipv6"][0], "fd42::5");
        assert_eq!(v[0]["autostart"], false);
        assert_eq!(v[0]["unprivileged"], false);
        assert!(v[0].get("partial").is_none());
        assert_eq!(ls_json(&[]), "[]\n");
    }

    #[test]
    fn half_made_containers_are_partial_rows() {
        let p = hako_store::Partial {
            operation: Some("create".into()),
            busy: None,
        };
        let rows = vec![
            LsRow::from_info(&stopped_info("b")),
            LsRow::partial("half", &p, "hako destroy half".into()),
        ];
        assert_eq!(
            ls_table(&rows, &[Column::Name, Column::State, Column::Ipv4]),
            "NAME STATE   IPV4 \n\
             b    STOPPED -    \n\
             half PARTIAL -    \n"
        );
        let v: serde_json::Value = serde_json::from_str(&ls_json(&rows)).unwrap();
        assert_eq!(v[1]["state"], "PARTIAL");
        assert_eq!(v[1]["partial"]["operation"], "create");
        assert_eq!(v[1]["partial"]["in_progress"], false);
        assert_eq!(v[1]["partial"]["fix"], "hako destroy half");
        assert_eq!(v[0]["state"], "STOPPED");
    }

    // ---- hako network ----

    use crate::network::{HostEntry, NetState, NetUser, NetworkDef, NetworkStatus};

    fn net_def(name: &str, v4: Option<&str>, v6: Option<&str>) -> NetworkDef {
        NetworkDef {
            name: name.into(),
            bridge: name.into(),
            ipv4: v4.map(|s| s.parse().unwrap()),
            ipv6: v6.map(|s| s.parse().unwrap()),
            nat: true,
            dhcp: true,
            dns_domain: None,
        }
    }

    fn net_status(name: &str, up: bool) -> NetworkStatus {
        NetworkStatus {
            name: name.into(),
            bridge: name.into(),
            bridge_exists: up,
            bridge_up: up,
            addresses_ok: up,
            nft_wanted: true,
            nft_table: up,
            dnsmasq_wanted: true,
            dnsmasq_pid: up.then_some(4242),
            interfaces: Vec::new(),
            up,
        }
    }

    fn summary(def: NetworkDef, st: Option<NetworkStatus>) -> NetworkSummary {
        NetworkSummary {
            def,
            state: st.as_ref().map(NetState::of).unwrap_or(NetState::Unknown),
            status_error: st.is_none().then(|| "cannot look up nftables table inet hako_x: operation not permitted; run hako as root".to_string()),
            status: st,
        }
    }

    fn lease(ip: &str, mac: &str, host: Option<&str>, expiry: u64) -> Lease {
        Lease {
            expiry,
            mac: mac.into(),
            ip: ip.parse().unwrap(),
            hostname: host.map(String::from),
            client_id: None,
        }
    }

    #[test]
    fn plain_table() {
        let rows = vec![
            vec!["a".to_string(), "long cell".to_string(), "x".to_string()],
            vec![
                "bbbbbb".to_string(),
                "-".to_string(),
                "last is not padded".to_string(),
            ],
        ];
        assert_eq!(
            table(&["H1", "H2", "H3"], &rows),
            "H1      H2         H3\n\
             a       long cell  x\n\
             bbbbbb  -          last is not padded\n"
        );
        assert_eq!(table(&["H1"], &[]), "");
    }

    #[test]
    fn network_ls_table_and_states() {
        let mut degraded = net_status("hkn2", true);
        degraded.dnsmasq_pid = None;
        degraded.up = false;
        let mut b = net_def("hkn2", None, Some("fd42:1:2:3::1/64"));
        b.nat = false;
        b.dhcp = false;
        let nets = vec![
            summary(
                net_def("hakobr0", Some("10.120.17.1/24"), None),
                Some(net_status("hakobr0", true)),
            ),
            summary(b, Some(degraded)),
            summary(
                net_def("n3", Some("10.1.2.1/24"), None),
                Some(net_status("n3", false)),
            ),
            summary(net_def("n4", None, None), None),
        ];
        assert_eq!(
            net_ls_table(&nets),
            "NAME     BRIDGE   IPV4            IPV6              NAT  DHCP  STATE\n\
             hakobr0  hakobr0  10.120.17.1/24  -                 yes  yes   up\n\
             hkn2     hkn2     -               fd42:1:2:3::1/64  no   no    degraded\n\
             n3       n3       10.1.2.1/24     -                 yes  yes   down\n\
             n4       n4       -               -                 yes  yes   unknown\n"
        );
        assert_eq!(net_ls_table(&[]), "");
    }

    #[test]
    fn network_ls_json() {
        let nets = vec![
            summary(
                net_def("hkn1", Some("10.120.17.1/24"), None),
                Some(net_status("hkn1", true)),
            ),
            summary(net_def("n4", None, None), None),
        ];
        let v: serde_json::Value = serde_json::from_str(&net_ls_json(&nets)).unwrap();
        assert_eq!(v[0]["name"], "hkn1");
        assert_eq!(v[0]["bridge"], "hkn1");
        assert_eq!(v[0]["ipv4"], "10.120.17.1/24");
        assert_eq!(v[0]["ipv6"], serde_json::Value::Null);
        assert_eq!(v[0]["nat"], true);
        assert_eq!(v[0]["dhcp"], true);
        assert_eq!(v[0]["state"], "up");
        assert_eq!(v[0]["status"]["dnsmasq_pid"], 4242);
        assert_eq!(v[1]["state"], "unknown");
        assert!(v[1]["status_error"]
            .as_str()
            .unwrap()
            .contains("run hako as root"));
        assert_eq!(net_ls_json(&[]), "[]\n");
    }

    #[test]
    fn lease_expiry_text() {
        assert_eq!(lease_expiry(0, 1000), "never");
        assert_eq!(lease_expiry(999, 1000), "expired");
        assert_eq!(lease_expiry(1000, 1000), "expired");
        assert_eq!(lease_expiry(1042, 1000), "in 42s");
        assert_eq!(lease_expiry(1000 + 3595, 1000), "in 59m 55s");
        assert_eq!(lease_expiry(1000 + 3600 + 61, 1000), "in 1h 1m");
        assert_eq!(
            lease_expiry(1000 + 2 * 86400 + 5 * 3600 + 7, 1000),
            "in 2d 5h"
        );
    }

    #[test]
    fn leases_table_and_json() {
        let now = 1_700_000_000;
        let l = vec![
            lease("10.120.17.37", "00:16:3e:85:1f:a6", Some("c1"), now + 3595),
            lease("10.120.17.5", "00:16:3e:00:00:01", None, 0),
        ];
        assert_eq!(
            leases_table(&l, now),
            "IP            MAC                HOSTNAME  EXPIRES\n\
             10.120.17.37  00:16:3e:85:1f:a6  c1        in 59m 55s\n\
             10.120.17.5   00:16:3e:00:00:01  -         never\n"
        );
        assert_eq!(leases_table(&[], now), "");
        let v: serde_json::Value = serde_json::from_str(&leases_json(&l)).unwrap();
        assert_eq!(v[0]["ip"], "10.120.17.37");
        assert_eq!(v[0]["mac"], "00:16:3e:85:1f:a6");
        assert_eq!(v[0]["hostname"], "c1");
        assert_eq!(v[0]["expiry"], now + 3595);
        assert_eq!(v[1]["hostname"], serde_json::Value::Null);
    }

    fn details(sum: NetworkSummary) -> NetworkDetails {
        NetworkDetails {
            summary: sum,
            users: Vec::new(),
            leases: Vec::new(),
            hosts: Vec::new(),
        }
    }

    #[test]
    fn network_show_up_with_users_leases_hosts() {
        let now = 1_700_000_000;
        let mut st = net_status("hkn1", true);
        st.interfaces = vec!["vethc8b8570bbe".into(), "veth00".into()];
        let mut def = net_def("hkn1", Some("10.120.17.1/24"), None);
        def.dns_domain = Some("lan.test".into());
        let mut d = details(summary(def, Some(st)));
        d.users = vec![
            NetUser {
                interface: "vethc8b8570bbe".into(),
                container: Some("c1".into()),
            },
            NetUser {
                interface: "veth00".into(),
                container: None,
            },
        ];
        d.leases = vec![lease(
            "10.120.17.37",
            "00:16:3e:85:1f:a6",
            Some("c1"),
            now + 3595,
        )];
        d.hosts = vec![HostEntry {
            hostname: "c2".into(),
            ip: "10.120.17.9".parse().unwrap(),
            owner: Some("0123456789abcdef".into()),
        }];
        assert_eq!(
            net_show_text(&d, now),
            "Name:           hkn1\n\
             State:          up\n\
             Bridge:         hkn1 (up)\n\
             IPv4:           10.120.17.1/24 (on the bridge)\n\
             IPv6:           none\n\
             NAT:            yes\n\
             DHCP:           yes (pool 10.120.17.2 - 10.120.17.254)\n\
             DNS domain:     lan.test\n\
             nftables:       table inet hako_hkn1 present\n\
             dnsmasq:        running (pid 4242)\n\
             Interface:      vethc8b8570bbe (container \"c1\")\n\
             Interface:      veth00\n\
             Leases:\n  \
               IP            MAC                HOSTNAME  EXPIRES\n  \
               10.120.17.37  00:16:3e:85:1f:a6  c1        in 59m 55s\n\
             Static names:\n  \
               HOSTNAME  IP\n  \
               c2        10.120.17.9\n"
        );
        let v: serde_json::Value = serde_json::from_str(&net_show_json(&d)).unwrap();
        assert_eq!(v["name"], "hkn1");
        assert_eq!(v["state"], "up");
        assert_eq!(v["dns_domain"], "lan.test");
        assert_eq!(v["status"]["nft_table"], true);
        assert_eq!(v["users"][0]["container"], "c1");
        assert_eq!(v["users"][1]["container"], serde_json::Value::Null);
        assert_eq!(v["leases"][0]["ip"], "10.120.17.37");
        assert_eq!(v["hosts"][0]["hostname"], "c2");
    }

    #[test]
    fn network_show_down_degraded_unknown() {
        let now = 1_700_000_000;
        let down = details(summary(
            net_def("n3", Some("10.1.2.1/24"), None),
            Some(net_status("n3", false)),
        ));
        let t = net_show_text(&down, now);
        assert!(t.contains("State:          down\n"), "{t}");
        assert!(t.contains("Bridge:         n3 (not present)\n"), "{t}");
        assert!(t.contains("IPv4:           10.1.2.1/24\n"), "{t}");
        assert!(
            t.contains("nftables:       table inet hako_n3 not present\n"),
            "{t}"
        );
        assert!(
            t.contains("Interfaces:     none\nLeases:         none\n"),
            "{t}"
        );
        // dnsmasq died: the rest is up
        let mut st = net_status("n3", true);
        st.dnsmasq_pid = None;
        st.up = false;
        let deg = details(summary(net_def("n3", Some("10.1.2.1/24"), None), Some(st)));
        let t = net_show_text(&deg, now);
        assert!(t.contains("State:          degraded\n"), "{t}");
        assert!(t.contains(
            "dnsmasq:        not running (will be restarted by the next start or \"hako network up n3\")\n"
        ), "{t}");
        // bridge present, address missing, link down
        let mut st = net_status("n3", true);
        st.addresses_ok = false;
        st.bridge_up = false;
        st.up = false;
        let t = net_show_text(
            &details(summary(net_def("n3", Some("10.1.2.1/24"), None), Some(st))),
            now,
        );
        assert!(
            t.contains("Bridge:         n3 (present, link down)\n"),
            "{t}"
        );
        assert!(
            t.contains("IPv4:           10.1.2.1/24 (missing from the bridge)\n"),
            "{t}"
        );
        // no address at all: neither nft nor dnsmasq
        let mut st = net_status("n5", true);
        st.nft_wanted = false;
        st.nft_table = false;
        st.dnsmasq_wanted = false;
        st.dnsmasq_pid = None;
        let mut def = net_def("n5", None, None);
        def.nat = false;
        def.dhcp = false;
        let t = net_show_text(&details(summary(def, Some(st))), now);
        assert!(
            t.contains("nftables:       not used (the network has no address)\n"),
            "{t}"
        );
        assert!(
            t.contains("dnsmasq:        not used (the network has no address)\n"),
            "{t}"
        );
        assert!(t.contains("DHCP:           no\n"), "{t}");
        // status unreadable (not root)
        let unk = details(summary(net_def("n4", Some("10.1.3.1/24"), None), None));
        let t = net_show_text(&unk, now);
        assert!(t.contains("State:          unknown\n"), "{t}");
        assert!(
            t.contains("Status:         unknown: cannot look up nftables table"),
            "{t}"
        );
        assert!(t.contains("Interfaces:     unknown (see Status)\n"), "{t}");
        assert!(!t.contains("dnsmasq:"), "{t}");
    }
}
