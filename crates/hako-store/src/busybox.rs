//! The built-in busybox template: a small, fully offline system built from the host's
//! statically linked busybox (Debian's busybox-static).

use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::elf::{linkage, Linkage};
use crate::StoreError;

/// Where busybox-static installs busybox.
pub const DEFAULT_BUSYBOX: &str = "/bin/busybox";

/// The ttys the template gives a getty when the config says nothing (`lxc.tty.max`).
pub const DEFAULT_TTYS: u32 = 4;

/// Options of the busybox template, parsed from the arguments after `--`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BusyboxArgs {
    pub busybox: PathBuf,
}

pub(crate) fn parse_args(args: &[String]) -> Result<BusyboxArgs, StoreError> {
    let mut busybox = PathBuf::from(DEFAULT_BUSYBOX);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--busybox-path" {
            match it.next() {
                Some(v) => busybox = PathBuf::from(v),
                None => {
                    return Err(StoreError::other(
                        "template busybox: --busybox-path needs a value; pass --busybox-path PATH",
                    ))
                }
            }
        } else if let Some(v) = a.strip_prefix("--busybox-path=") {
            busybox = PathBuf::from(v);
        } else {
            return Err(StoreError::other(format!(
                "template busybox: unknown argument \"{a}\"; the accepted arguments are: --busybox-path PATH (default {DEFAULT_BUSYBOX})"
            )));
        }
    }
    Ok(BusyboxArgs { busybox })
}

/// Checks that `busybox` exists, is executable and is statically linked (it must run
/// inside a rootfs that has no libc).
pub(crate) fn check_busybox(busybox: &Path) -> Result<(), StoreError> {
    let meta = fs::metadata(busybox).map_err(|e| {
        StoreError::io(
            "use busybox",
            busybox,
            e,
            "install busybox-static (apt-get install busybox-static) or pass -- --busybox-path PATH",
        )
    })?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(StoreError::other(format!(
            "busybox at {} is not an executable file; install busybox-static or pass -- --busybox-path PATH",
            busybox.display()
        )));
    }
    match linkage(busybox) {
        Ok(Linkage::Static) => Ok(()),
        Ok(Linkage::Dynamic) => Err(StoreError::other(format!(
            "busybox at {} is dynamically linked; install busybox-static",
            busybox.display()
        ))),
        Err(why) => Err(StoreError::other(format!(
            "cannot use busybox at {}: {why}; install busybox-static or pass -- --busybox-path PATH",
            busybox.display()
        ))),
    }
}

/// Builds the rootfs in `rootfs` (which must exist, empty). `ttys` is `lxc.tty.max`.
pub(crate) fn build_rootfs(
    rootfs: &Path,
    name: &str,
    busybox: &Path,
    ttys: u32,
) -> Result<(), StoreError> {
    for (dir, mode) in [
        ("bin", 0o755),
        ("sbin", 0o755),
        ("usr", 0o755),
        ("usr/bin", 0o755),
        ("usr/sbin", 0o755),
        ("etc", 0o755),
        ("etc/init.d", 0o755),
        ("dev", 0o755),
        ("proc", 0o755),
        ("sys", 0o755),
        ("tmp", 0o1777),
        ("run", 0o755),
        ("var", 0o755),
        ("var/log", 0o755),
        ("root", 0o700),
        ("home", 0o755),
        ("lib", 0o755),
        ("mnt", 0o755),
    ] {
        mkdir(&rootfs.join(dir), mode)?;
    }
    link(Path::new("../run"), &rootfs.join("var/run"))?;

    // busybox itself, and a link for every applet
    let target = rootfs.join("bin/busybox");
    fs::copy(busybox, &target)
        .map_err(|e| StoreError::io("copy busybox into", &target, e, "check free space"))?;
    // setuid root, as LXC's busybox template leaves it (its `chmod +s bin/passwd` goes
    // through the applet's link): a user inside can change their password. busybox drops
    // the privilege at once for every applet that does not need it; lxc.no_new_privs = 1
    // takes it away entirely. The container's directory (0750, root) keeps host users out.
    chmod(&target, 0o4755)?;
    for applet in applets(busybox)? {
        let rel = Path::new(&applet);
        if applet == "bin/busybox"
            || rel.is_absolute()
            || rel.components().any(|c| c.as_os_str() == "..")
        {
            continue;
        }
        let link_path = rootfs.join(rel);
        if fs::symlink_metadata(&link_path).is_ok() {
            continue;
        }
        if let Some(parent) = link_path.parent() {
            if !parent.exists() {
                mkdir_all(parent)?;
            }
        }
        // "usr/bin/awk" -> "../../bin/busybox"
        let to = if rel.parent() == Some(Path::new("bin")) {
            PathBuf::from("busybox")
        } else {
            let depth = rel.components().count() - 1;
            PathBuf::from("../".repeat(depth) + "bin/busybox")
        };
        link(&to, &link_path)?;
    }
    for needed in ["sbin/init", "bin/sh"] {
        if fs::symlink_metadata(rootfs.join(needed)).is_err() {
            return Err(StoreError::other(format!(
                "busybox at {} has no \"{}\" applet; install Debian's busybox-static",
                busybox.display(),
                needed.rsplit('/').next().unwrap_or(needed)
            )));
        }
    }

    let etc = rootfs.join("etc");
    write(&etc.join("inittab"), &inittab(ttys), 0o644)?;
    write(&etc.join("init.d/rcS"), RCS, 0o755)?;
    write(&etc.join("udhcpc.script"), UDHCPC_SCRIPT, 0o755)?;
    write(&etc.join("passwd"), PASSWD, 0o644)?;
    write(&etc.join("group"), GROUP, 0o644)?;
    write(&etc.join("shadow"), &shadow(), 0o600)?;
    // the name as a valid host name (web_1 → web-1), as create sets lxc.uts.name
    let host = crate::cfg::hostname_from_name(name);
    write(&etc.join("hostname"), &format!("{host}\n"), 0o644)?;
    write(&etc.join("hosts"), &hosts(&host), 0o644)?;
    write(&etc.join("profile"), PROFILE, 0o644)?;
    write(&etc.join("fstab"), FSTAB, 0o644)?;
    write(&etc.join("resolv.conf"), "", 0o644)?;
    write(&etc.join("shells"), "/bin/sh\n/bin/ash\n", 0o644)?;
    Ok(())
}

/// The applets of `busybox`, as paths relative to / (`busybox --list-full`).
fn applets(busybox: &Path) -> Result<Vec<String>, StoreError> {
    let out = Command::new(busybox)
        .arg("--list-full")
        .output()
        .map_err(|e| {
            StoreError::io(
                "run busybox --list-full",
                busybox,
                e,
                "install busybox-static",
            )
        })?;
    if !out.status.success() {
        return Err(StoreError::other(format!(
            "busybox at {} failed to list its applets ({}); install Debian's busybox-static",
            busybox.display(),
            out.status
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// busybox init's table: rcS at boot, a root shell on the console, a getty on each tty,
/// and a clean shutdown (busybox init: SIGUSR1 halts, SIGTERM reboots, both run the
/// `shutdown` entries first).
pub(crate) fn inittab(ttys: u32) -> String {
    let mut s = String::from(
        "# /etc/inittab for busybox init (written by hako's busybox template)\n\
         # <tty>::<action>:<command>\n\
         ::sysinit:/etc/init.d/rcS\n\
         # A root shell on the console: no password is asked (hako console NAME).\n\
         console::respawn:-/bin/sh\n",
    );
    for n in 1..=ttys {
        s.push_str(&format!("tty{n}::respawn:/sbin/getty 38400 tty{n}\n"));
    }
    s.push_str(
        "::ctrlaltdel:/sbin/reboot\n\
         # Before halt or reboot: flush and unmount what can be unmounted.\n\
         ::shutdown:/bin/sync\n\
         ::shutdown:/bin/umount -a\n\
         ::shutdown:/bin/sync\n",
    );
    s
}

const RCS: &str = r#"#!/bin/sh
# First thing busybox init runs (written by hako's busybox template). It starts as few
# processes as it can before the DHCP request: the lease is what a user waits for.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# Mount what the container manager has not mounted already (one look at the mount table:
# ash's read builtin takes a system call per byte, a process per check costs more).
mounts=" $(awk '{ printf "%s ", $2 }' /proc/self/mounts 2>/dev/null) "
mounted() {
    case "$mounts" in *" $1 "*) return 0 ;; esac
    return 1
}
if ! mounted /proc; then
    mount -t proc proc /proc
    mounts=" $(awk '{ printf "%s ", $2 }' /proc/self/mounts 2>/dev/null) "
fi
mounted /sys || mount -t sysfs -o ro sysfs /sys
[ -d /dev/pts ] || mkdir -p /dev/pts
mounted /dev/pts || mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts
[ -d /dev/shm ] || mkdir -p /dev/shm
mounted /dev/shm || mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
mount -a

# (the hostname is set by hako from lxc.uts.name before init starts)

# DHCP on eth0 if hako gave the container an unconfigured one. Never touch an interface
# that already has an IPv4 address: with lxc.net.0.type = none the container shares the
# HOST's network, and a DHCP client there would reconfigure the host's eth0. hako's eth0 is
# a veth or a macvlan (its iflink names another device); the host's own NIC is not.
if read -r link </sys/class/net/eth0/iflink 2>/dev/null \
   && read -r index </sys/class/net/eth0/ifindex \
   && [ "$link" != "$index" ]; then
    case "$(ip -4 -o addr show dev eth0)" in
    *" inet "*) ;;
    *)
        read -r flags </sys/class/net/eth0/flags
        [ $((${flags:-0} & 1)) = 1 ] || ip link set eth0 up
        udhcpc -b -i eth0 -s /etc/udhcpc.script -p /run/udhcpc.eth0.pid
        ;;
    esac
fi
ip link set lo up

# Local services: /etc/init.d/S* in order.
for s in /etc/init.d/S*; do
    [ -x "$s" ] && "$s" start
done
exit 0
"#;

const UDHCPC_SCRIPT: &str = r#"#!/bin/sh
# Called by udhcpc as: udhcpc.script deconfig|bound|renew|leasefail|nak
# with the lease in the environment ($interface $ip $mask $router $dns $domain ...).
case "$1" in
deconfig)
    # no lease (yet): leave whatever is configured alone (rcS brought the link up)
    ;;
bound|renew)
    # a new lease replaces the addresses; a renewal keeps one that is already there
    have=
    [ "$1" = renew ] && have=$(ip -4 -o addr show dev "$interface")
    case "$have" in
    *" inet $ip/${mask:-24} "*) ;;
    *)
        ip -4 addr flush dev "$interface"
        ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast $broadcast} dev "$interface"
        ;;
    esac
    if [ -n "$router" ]; then
        while ip route del default dev "$interface" 2>/dev/null; do :; done
        for r in $router; do
            ip route add default via "$r" dev "$interface" && break
        done
    fi
    tmp=/etc/resolv.conf.$$
    : > "$tmp"
    [ -n "$domain" ] && echo "search $domain" >> "$tmp"
    for d in $dns; do
        echo "nameserver $d" >> "$tmp"
    done
    mv "$tmp" /etc/resolv.conf
    ;;
esac
exit 0
"#;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

const GROUP: &str = "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n";

/// root has an empty password (as LXC's busybox template leaves it: no way to set one
/// offline): the console gives a root shell without login, and `login` on the ttys lets
/// root in without asking. Set one with `passwd` inside the container.
fn shadow() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86400)
        .unwrap_or(0);
    format!("root::{days}:0:99999:7:::\nnobody:*:{days}:0:99999:7:::\n")
}

fn hosts(name: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
    )
}

const PROFILE: &str = r#"# /etc/profile (written by hako's busybox template)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if [ "$(id -u)" = 0 ]; then
    export PS1='\u@\h:\w# '
else
    export PS1='\u@\h:\w$ '
fi
export HOME="${HOME:-/root}"
umask 022
"#;

const FSTAB: &str = "# <file system> <mount point> <type> <options> <dump> <pass>\n";

fn mkdir(p: &Path, mode: u32) -> Result<(), StoreError> {
    match fs::create_dir(p) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && p.is_dir() => {}
        Err(e) => return Err(StoreError::io("create directory", p, e, "check free space")),
    }
    chmod(p, mode)
}

fn mkdir_all(p: &Path) -> Result<(), StoreError> {
    if let Some(parent) = p.parent() {
        if !parent.exists() {
            mkdir_all(parent)?;
        }
    }
    mkdir(p, 0o755)
}

fn chmod(p: &Path, mode: u32) -> Result<(), StoreError> {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(|e| {
        StoreError::io(
            format!("set mode {mode:o} on"),
            p,
            e,
            "check the filesystem",
        )
    })
}

fn link(to: &Path, at: &Path) -> Result<(), StoreError> {
    symlink(to, at).map_err(|e| StoreError::io("create symlink", at, e, "check free space"))
}

fn write(p: &Path, text: &str, mode: u32) -> Result<(), StoreError> {
    fs::write(p, text).map_err(|e| StoreError::io("write", p, e, "check free space"))?;
    chmod(p, mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn args() {
        assert_eq!(
            parse_args(&[]).unwrap().busybox,
            PathBuf::from("/bin/busybox")
        );
        let a = parse_args(&["--busybox-path".into(), "/opt/bb".into()]).unwrap();
        assert_eq!(a.busybox, PathBuf::from("/opt/bb"));
        let a = parse_args(&["--busybox-path=/x/bb".into()]).unwrap();
        assert_eq!(a.busybox, PathBuf::from("/x/bb"));
        let e = parse_args(&["-r".into(), "bookworm".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown argument \"-r\"") && e.contains("--busybox-path PATH"),
            "{e}"
        );
        let e = parse_args(&["--busybox-path".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("needs a value"), "{e}");
    }

    #[test]
    fn dynamic_busybox_is_refused() {
        let e = check_busybox(Path::new("/bin/sh")).unwrap_err().to_string();
        assert_eq!(
            e,
            "busybox at /bin/sh is dynamically linked; install busybox-static"
        );
        let e = check_busybox(Path::new("/nonexistent/busybox"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("busybox-static") && e.contains("no such file"),
            "{e}"
        );
    }

    #[test]
    fn inittab_follows_tty_count() {
        let t = inittab(2);
        assert!(t.contains("::sysinit:/etc/init.d/rcS\n"));
        assert!(t.contains("console::respawn:-/bin/sh\n"));
        assert!(t.contains("tty1::respawn:/sbin/getty 38400 tty1\n"));
        assert!(t.contains("tty2::respawn:/sbin/getty 38400 tty2\n"));
        assert!(!t.contains("tty3"));
        assert!(t.contains("::ctrlaltdel:"));
        assert!(t.contains("::shutdown:/bin/umount -a\n") && t.contains("::shutdown:/bin/sync\n"));
        assert!(!inittab(0).contains("getty"));
    }

    /// Builds a rootfs as an ordinary user (nothing here needs root) and checks it.
    #[test]
    fn builds_a_rootfs() {
        let bb = Path::new(DEFAULT_BUSYBOX);
        if check_busybox(bb).is_err() {
            eprintln!("SKIPPED: needs busybox-static at /bin/busybox");
            return;
        }
        let d = tempfile::tempdir().unwrap();
        let rootfs = d.path().join("rootfs");
        fs::create_dir(&rootfs).unwrap();
        build_rootfs(&rootfs, "web", bb, 4).unwrap();
        let mode = |p: &str| fs::symlink_metadata(rootfs.join(p)).unwrap().mode() & 0o7777;
        assert_eq!(mode("tmp"), 0o1777);
        assert_eq!(mode("root"), 0o700);
        assert_eq!(mode("etc/shadow"), 0o600);
        assert_eq!(mode("etc/init.d/rcS"), 0o755);
        // setuid, so passwd works for users inside (as LXC's template)
        assert_eq!(mode("bin/busybox"), 0o4755);
        assert_eq!(
            fs::read_link(rootfs.join("sbin/init")).unwrap(),
            PathBuf::from("../bin/busybox")
        );
        assert_eq!(
            fs::read_link(rootfs.join("usr/bin/awk")).unwrap(),
            PathBuf::from("../../bin/busybox")
        );
        assert_eq!(
            fs::read_link(rootfs.join("bin/sh")).unwrap(),
            PathBuf::from("busybox")
        );
        // every link resolves to the copied busybox
        let copied = fs::metadata(rootfs.join("bin/busybox")).unwrap().ino();
        for l in [
            "sbin/init",
            "usr/bin/awk",
            "sbin/getty",
            "sbin/udhcpc",
            "bin/mount",
        ] {
            assert_eq!(fs::metadata(rootfs.join(l)).unwrap().ino(), copied, "{l}");
        }
        assert_eq!(
            fs::read_to_string(rootfs.join("etc/hostname")).unwrap(),
            "web\n"
        );
        let hosts = fs::read_to_string(rootfs.join("etc/hosts")).unwrap();
        assert!(hosts.contains("127.0.0.1\tlocalhost\n") && hosts.contains("127.0.1.1\tweb\n"));
        assert!(fs::read_to_string(rootfs.join("etc/passwd"))
            .unwrap()
            .starts_with("root:x:0:0:root:/root:/bin/sh\n"));
        assert!(fs::read_to_string(rootfs.join("etc/shadow"))
            .unwrap()
            .starts_with("root::"));
        assert_eq!(
            fs::read_to_string(rootfs.join("etc/inittab")).unwrap(),
            inittab(4)
        );
        // the rcS script is valid shell
        let st = Command::new(bb)
            .args(["sh", "-n"])
            .arg(rootfs.join("etc/init.d/rcS"))
            .status()
            .unwrap();
        assert!(st.success());
        let st = Command::new(bb)
            .args(["sh", "-n"])
            .arg(rootfs.join("etc/udhcpc.script"))
            .status()
            .unwrap();
        assert!(st.success());
    }
}
