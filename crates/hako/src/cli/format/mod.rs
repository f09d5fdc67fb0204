//! Output in LXC's formats: `lxc-info` lines (`Name:           web`, label padded to 15
//! columns), its human units, the `lxc-ls` name columns and fancy table, and the JSON
//! forms of both. Pure functions from data to text.
//!
//! The parts: `info.rs` (lxc-info), `ls.rs` (lxc-ls: names, the fancy table, JSON),
//! `network.rs` (`hako network ...`); here the pieces they share: sizes, `Label:` lines, plain
//! tables. Tests in `tests/`.

mod info;
mod ls;
mod network;

use std::fmt::Write as _;

pub use info::{format_info, info_json, ConfigValue};
pub use ls::{ls_json, ls_names, ls_table, LsRow, PartialRow};
pub use network::{
    lease_expiry, leases_json, leases_table, net_ls_json, net_ls_table, net_show_json,
    net_show_text,
};

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
/// One `Label:` line, or the bare value when lxc-info would print it bare (`-H` and a
/// single field asked for).
fn line(out: &mut String, label: &str, value: &str, bare: bool) {
    if bare {
        let _ = writeln!(out, "{value}");
    } else {
        let _ = writeln!(out, "{label:<15} {value}");
    }
}

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
#[cfg(test)]
mod tests;
