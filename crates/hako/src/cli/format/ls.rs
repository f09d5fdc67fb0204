//! `lxc-ls`'s output: the name columns, the fancy table and the JSON form.

use std::fmt::Write as _;

use crate::cli::action::Column;
use crate::{Info, State};

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
