//! The network's nftables table `inet hako_NAME`: its ruleset, whether it exists (asked over
//! netlink), installing it with `nft -f -` and removing it.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

use super::{find_tool, io_err, NetworkDef, Networks};
use crate::error::{NetError, Result};

/// The nftables ruleset (for `nft -f -`) that (re)creates the network's table atomically:
/// `add` + `delete` first so an existing table is replaced, not merged.
pub fn nft_ruleset(def: &NetworkDef) -> String {
    let t = def.nft_table();
    let br = &def.bridge;
    let mut s = format!("add table inet {t}\ndelete table inet {t}\ntable inet {t} {{\n");
    if def.nat && (def.ipv4.is_some() || def.ipv6.is_some()) {
        s += "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n";
        if let Some(n) = def.ipv4 {
            let sub = n.subnet();
            s += &format!("\t\tip saddr {sub} ip daddr != {sub} masquerade\n");
        }
        if let Some(n) = def.ipv6 {
            let sub = n.subnet();
            s += &format!("\t\tip6 saddr {sub} ip6 daddr != {sub} masquerade\n");
        }
        s += "\t}\n";
    }
    s += "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n";
    s += &format!("\t\tiifname \"{br}\" accept\n\t\toifname \"{br}\" accept\n\t}}\n");
    s += "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n";
    s += &format!("\t\tiifname \"{br}\" udp dport {{ 53, 67, 547 }} accept\n");
    s += &format!("\t\tiifname \"{br}\" tcp dport 53 accept\n\t}}\n}}\n");
    s
}

/// Does an nftables table `inet <name>` exist? Asked over NETLINK_NETFILTER (NFT_MSG_GETTABLE),
/// no `nft` subprocess.
pub fn nft_table_exists(name: &str) -> io::Result<bool> {
    const NFNL_SUBSYS_NFTABLES: u16 = 10;
    const NFT_MSG_NEWTABLE: u16 = 0;
    const NFT_MSG_GETTABLE: u16 = 1;
    const NFPROTO_INET: u8 = 1;
    const NFTA_TABLE_NAME: u16 = 1;
    let mut sock = Socket::new(NETLINK_NETFILTER)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    let mut attr = name.as_bytes().to_vec();
    attr.push(0);
    let alen = 4 + attr.len();
    let total = 16 + 4 + ((alen + 3) & !3);
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE).to_ne_bytes());
    m.extend_from_slice(&(libc::NLM_F_REQUEST as u16 | libc::NLM_F_ACK as u16).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&[NFPROTO_INET, 0, 0, 0]); // nfgenmsg: family, version, res_id
    m.extend_from_slice(&(alen as u16).to_ne_bytes());
    m.extend_from_slice(&NFTA_TABLE_NAME.to_ne_bytes());
    m.extend_from_slice(&attr);
    m.resize(total, 0);
    sock.send(&m, 0)?;
    let mut found = false;
    let mut buf = vec![0u8; 16384];
    loop {
        let n = sock.recv(&mut &mut buf[..], 0)?;
        let mut off = 0;
        while off + 16 <= n {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
            let typ = u16::from_ne_bytes([buf[off + 4], buf[off + 5]]);
            if len < 16 || off + len > n {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "malformed nfnetlink answer",
                ));
            }
            if typ == 2 {
                let code = i32::from_ne_bytes(buf[off + 16..off + 20].try_into().unwrap());
                return match code {
                    0 => Ok(found),
                    c if c == -libc::ENOENT => Ok(false),
                    c => Err(io::Error::from_raw_os_error(-c)),
                };
            }
            if typ == (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE {
                found = true;
            }
            off += (len + 3) & !3;
        }
    }
}

impl Networks {
    pub(super) fn nft_apply(&self, def: &NetworkDef) -> Result<()> {
        let op = || {
            format!(
                "install nftables table inet {} for network \"{}\"",
                def.nft_table(),
                def.name
            )
        };
        let nft = self.nft_program(&op)?;
        let mut child = Command::new(&nft)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io_err(op(), e, "check the nft program"))?;
        let text = nft_ruleset(def);
        if let Some(mut i) = child.stdin.take() {
            i.write_all(text.as_bytes())
                .map_err(|e| io_err(op(), e, "check the nft program"))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| io_err(op(), e, "check the nft program"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("no message");
            return Err(NetError::failed(
                op(),
                format!("nft failed ({}): {}", out.status, first.trim()),
                "check that the kernel has nf_tables with NAT support (CONFIG_NFT_NAT, CONFIG_NFT_MASQ)",
            ));
        }
        Ok(())
    }

    pub(super) fn nft_delete(&self, def: &NetworkDef) -> Result<()> {
        let op = || {
            format!(
                "remove nftables table inet {} of network \"{}\"",
                def.nft_table(),
                def.name
            )
        };
        let exists =
            nft_table_exists(&def.nft_table()).map_err(|e| io_err(op(), e, "run hako as root"))?;
        if !exists {
            return Ok(());
        }
        let nft = self.nft_program(&op)?;
        let out = Command::new(&nft)
            .args(["delete", "table", "inet", &def.nft_table()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| io_err(op(), e, "check the nft program"))?;
        if !out.status.success() && nft_table_exists(&def.nft_table()).unwrap_or(true) {
            return Err(NetError::failed(
                op(),
                format!(
                    "nft failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
                format!(
                    "remove it by hand with \"nft delete table inet {}\"",
                    def.nft_table()
                ),
            ));
        }
        Ok(())
    }

    /// The nft program, or an error of `op` saying how to install it.
    fn nft_program(&self, op: &dyn Fn() -> String) -> Result<PathBuf> {
        find_tool(&self.nft).ok_or_else(|| {
            NetError::failed(
                op(),
                "nft not found",
                "install it with \"apt-get install nftables\"",
            )
        })
    }
}
