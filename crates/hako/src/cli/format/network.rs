//! `hako network ...`: the networks' table, a network's details, its DHCP leases; text and JSON.

use std::fmt::Write as _;

use super::{line, table};
use crate::network::{Lease, NetworkDetails, NetworkSummary};

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
