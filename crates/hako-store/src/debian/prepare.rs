//! A built Debian image made ready to be the lower layer of containers: identity stripped,
//! the boot profile of a container (masked generators and units, resolved's drop-in).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::identity::write_file;
use crate::StoreError;

/// Is `rel` (e.g. "systemd/system/foo.service") installed under /lib or /usr/lib of `root`?
fn in_lib(root: &Path, rel: &str) -> bool {
    ["lib", "usr/lib"]
        .iter()
        .any(|l| root.join(l).join(rel).exists())
}

/// A symlink `rel` -> `target` below `root` (its directory made as needed), unless
/// something is at `rel` already; `what` names the step in an error.
fn link_once(root: &Path, rel: &str, target: &str, what: &str) -> Result<(), StoreError> {
    let l = root.join(rel);
    if fs::symlink_metadata(&l).is_ok() {
        return Ok(());
    }
    if let Some(dir) = l.parent() {
        fs::create_dir_all(dir)
            .map_err(|e| StoreError::io("create directory", dir, e, "check the tree"))?;
    }
    symlink(target, &l).map_err(|e| StoreError::io(what, &l, e, "check the tree"))
}

/// Generators that have nothing to find in a container (block devices to unlock, a GPT
/// root partition, a hibernation image, dm-verity/dm-integrity volumes). systemd runs every
/// generator before it loads a unit, each a process of its own, so each one costs boot
/// time; a `/dev/null` link of the same name in /etc/systemd/system-generators disables it
/// (systemd.generator(7)).
pub const CONTAINER_MASKED_GENERATORS: &[&str] = &[
    "systemd-cryptsetup-generator",
    "systemd-gpt-auto-generator",
    "systemd-hibernate-resume-generator",
    "systemd-integritysetup-generator",
    "systemd-veritysetup-generator",
];

/// Units that have nothing to do in a container and cost its shutdown time: the password
/// agents for the console and for wall(1) answer password requests (`systemd-ask-password`),
/// which in practice come from unlocking disks at boot, and a container unlocks none. Each
/// is a path unit with its own inotify instance, and closing an inotify instance that
/// watches something waits for a kernel grace period: systemd (a single thread) stalls
/// 5-20 ms per agent when it stops them at shutdown, on the path to the container's exit.
/// Masked, they are gone from boot and stop; a request still gets an answer from
/// `hako attach NAME -- systemd-tty-ask-password-agent`.
pub const CONTAINER_MASKED_UNITS: &[&str] = &[
    "systemd-ask-password-console.path",
    "systemd-ask-password-wall.path",
];

/// A drop-in for systemd-resolved.service: a `/tmp` and `/var/tmp` of its own (a tmpfs
/// each) instead of `PrivateTmp=`. systemd orders every `PrivateTmp=` unit after
/// systemd-tmpfiles-setup.service, and resolved is `Before=sysinit.target`, so the whole
/// boot waited for journald, the journal flush and tmpfiles to finish before resolved
/// could even begin its ~50 ms start. With its own tmpfs it starts alongside them; it
/// still sees no other program's temporary files and leaves none behind (its unit makes the
/// rest of the tree read-only, `ProtectSystem=strict`).
pub const RESOLVED_DROPIN: &str = "# Written by hako: private temporary directories as a tmpfs of their own rather than\n# PrivateTmp=, which would order resolved (and with it sysinit.target) after\n# systemd-tmpfiles-setup.service. The isolation is the same.\n[Service]\nPrivateTmp=no\nTemporaryFileSystem=/tmp:mode=1777 /var/tmp:mode=1777\n";

/// journald's settings for a container ([`boot_profile`]): the journal in memory
/// (/run/log/journal) rather than on disk, and small. A persistent journal's files are
/// written through the page cache, which the container's memory cgroup is charged for:
/// about 8 MiB of an idle Debian container's 22 MiB here. `--persistent-journal` at create
/// adds [`JOURNALD_PERSISTENT`] after it.
pub const JOURNALD_DROPIN: &str = "# Written by hako: a container's journal lives in memory and stays small (its pages count\n# towards the container's memory). Create with --persistent-journal to keep it on disk.\n[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\nRuntimeMaxFileSize=2M\n";
/// The drop-in `--persistent-journal` writes into a container: the journal on disk
/// (/var/log/journal), also small.
pub const JOURNALD_PERSISTENT: &str = "# Written by hako (--persistent-journal): the journal is kept on disk.\n[Journal]\nStorage=persistent\nSystemMaxUse=32M\nSystemMaxFileSize=4M\n";
const JOURNALD_DROPIN_PATH: &str = "etc/systemd/journald.conf.d/hako-container.conf";
const JOURNALD_PERSISTENT_PATH: &str = "etc/systemd/journald.conf.d/zz-hako-persistent.conf";

/// Keeps a container's journal on disk (`--persistent-journal`): [`JOURNALD_PERSISTENT`].
pub fn persist_journal(root: &Path) -> Result<(), StoreError> {
    write_file(
        root,
        JOURNALD_PERSISTENT_PATH,
        JOURNALD_PERSISTENT.as_bytes(),
        0o644,
    )
}

/// What makes a Debian tree boot fast as a container, done once in the image and again
/// at create for containers from images built before it existed (then it writes a few
/// hundred bytes into the container's own layer; with a current image it writes nothing):
///
/// - `/etc/.updated` and `/var/.updated` carry /usr's time, as systemd-update-done.service
///   (which Debian does not ship) would write them after a first boot, so the
///   `ConditionNeedsUpdate=` units (systemd-sysusers on the boot's critical path) do not run
///   on every boot: the image's system users already exist (the image build runs
///   systemd-sysusers). A package upgrade that changes /usr makes them run again.
/// - [`CONTAINER_MASKED_GENERATORS`] are disabled, [`CONTAINER_MASKED_UNITS`] masked (a
///   `/dev/null` link in /etc/systemd/system; `systemctl unmask` undoes it).
/// - systemd-resolved gets [`RESOLVED_DROPIN`] (hako-container.conf in its `.d`
///   directory), unless a drop-in of that name is there already.
/// - systemd-logind starts on first use instead of at every boot: Debian pulls it into
///   multi-user.target statically; a `/dev/null` link of the same name in
///   /etc/systemd/system/multi-user.target.wants drops that dependency, and D-Bus starts
///   logind when something asks for it (`loginctl`, `hostnamectl`-style tools, pam_systemd
///   at a login). Only when that activation file exists. About 70 ms less per boot here:
///   logind was the last unit on the critical chain.
/// - journald keeps a small journal in memory ([`JOURNALD_DROPIN`]), unless a drop-in of
///   that name is there already.
/// - sshd starts with the first connection (Debian's ssh.socket, which hands the listening
///   socket to ssh.service) instead of at boot: ssh.socket is enabled and ssh.service's
///   enable link removed. An idle sshd held ~1.5 MiB of each container's memory, in
///   containers nobody logs into over ssh too.
/// - No getty on tty1..N at boot (Debian enables getty@tty1; its link is removed):
///   `hako console -t N` starts the one it connects to. The console's own getty stays.
pub fn boot_profile(root: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    let usr = match fs::metadata(root.join("usr")) {
        Ok(m) => m,
        Err(_) => return Ok(()),
    };
    if !in_lib(root, "systemd/systemd") {
        return Ok(());
    }
    let nsec = usr.mtime() as i128 * 1_000_000_000 + usr.mtime_nsec() as i128;
    let stamp = format!("# Written by hako: this tree's first-boot updates are done (systemd ConditionNeedsUpdate=).\nTIMESTAMP_NSEC={nsec}\n");
    for dir in ["etc", "var"] {
        let rel = format!("{dir}/.updated");
        let p = root.join(&rel);
        if fs::read_to_string(&p).map(|t| t == stamp).unwrap_or(false) {
            continue;
        }
        write_file(root, &rel, stamp.as_bytes(), 0o644)?;
        let t = nix::sys::time::TimeSpec::new(usr.mtime(), usr.mtime_nsec());
        nix::sys::stat::utimensat(
            None,
            &p,
            &t,
            &t,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| {
            StoreError::io(
                "set the time of",
                &p,
                e.into(),
                "check the container's root",
            )
        })?;
    }
    if in_lib(root, "systemd/system/systemd-logind.service")
        && ["usr/share", "usr/lib"].iter().any(|d| {
            root.join(d)
                .join("dbus-1/system-services/org.freedesktop.login1.service")
                .exists()
        })
    {
        link_once(
            root,
            "etc/systemd/system/multi-user.target.wants/systemd-logind.service",
            "/dev/null",
            "start logind on demand with",
        )?;
    }
    if in_lib(root, "systemd/system/systemd-journald.service")
        && fs::symlink_metadata(root.join(JOURNALD_DROPIN_PATH)).is_err()
    {
        write_file(
            root,
            JOURNALD_DROPIN_PATH,
            JOURNALD_DROPIN.as_bytes(),
            0o644,
        )?;
    }
    if in_lib(root, "systemd/system/ssh.socket") {
        let unit_dir = if root.join("lib/systemd/system/ssh.socket").exists() {
            "/lib/systemd/system"
        } else {
            "/usr/lib/systemd/system"
        };
        let service = root.join("etc/systemd/system/multi-user.target.wants/ssh.service");
        if fs::symlink_metadata(&service).is_ok_and(|m| m.file_type().is_symlink()) {
            fs::remove_file(&service)
                .map_err(|e| StoreError::io("remove", &service, e, "check the container's root"))?;
        }
        link_once(
            root,
            "etc/systemd/system/sockets.target.wants/ssh.socket",
            &format!("{unit_dir}/ssh.socket"),
            "start sshd on its first connection with",
        )?;
    }
    // gettys on tty1..N start when a console attaches (`hako console -t N`), not at boot:
    // Debian enables getty@tty1 in the image
    let gettys = root.join("etc/systemd/system/getty.target.wants");
    if let Ok(rd) = fs::read_dir(&gettys) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
            if is_link && n.starts_with("getty@tty") && n.ends_with(".service") {
                fs::remove_file(e.path()).map_err(|x| {
                    StoreError::io("remove", e.path(), x, "check the container's root")
                })?;
            }
        }
    }
    let resolved_dropin = "etc/systemd/system/systemd-resolved.service.d/hako-container.conf";
    if in_lib(root, "systemd/system/systemd-resolved.service")
        && fs::symlink_metadata(root.join(resolved_dropin)).is_err()
    {
        write_file(root, resolved_dropin, RESOLVED_DROPIN.as_bytes(), 0o644)?;
    }
    for (dir, names, what) in [
        (
            "systemd/system",
            CONTAINER_MASKED_UNITS,
            "mask the unit with",
        ),
        (
            "systemd/system-generators",
            CONTAINER_MASKED_GENERATORS,
            "mask the generator with",
        ),
    ] {
        for n in names {
            if in_lib(root, &format!("{dir}/{n}")) {
                link_once(root, &format!("etc/{dir}/{n}"), "/dev/null", what)?;
            }
        }
    }
    Ok(())
}

/// Makes a freshly built tree a shareable image: no per-machine identity (empty
/// machine-id, no SSH host keys, no hostname), networking by systemd-networkd (DHCP on
/// eth0) and systemd-resolved, gettys allowed on a container's pty-backed ttys.
pub fn prepare_image(root: &Path) -> Result<(), StoreError> {
    let rm = |rel: &str| -> Result<(), StoreError> {
        let p = root.join(rel);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("remove", &p, e, "check the image tree")),
        }
    };
    // identity
    write_file(root, "etc/machine-id", b"", 0o444)?;
    if fs::symlink_metadata(root.join("var/lib/dbus/machine-id"))
        .map(|m| m.is_file())
        .unwrap_or(false)
    {
        rm("var/lib/dbus/machine-id")?;
    }
    if let Ok(rd) = fs::read_dir(root.join("etc/ssh")) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with("ssh_host_") {
                fs::remove_file(e.path())
                    .map_err(|x| StoreError::io("remove", e.path(), x, "check the image tree"))?;
            }
        }
    }
    rm("etc/hostname")?;
    write_file(
        root,
        "etc/hosts",
        b"127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n",
        0o644,
    )?;
    write_file(
        root,
        "etc/fstab",
        b"# The container's mounts come from its config (lxc.mount.entry).\n",
        0o644,
    )?;
    // network: DHCP on eth0 with systemd-networkd
    write_file(
        root,
        "etc/systemd/network/80-hako-eth0.network",
        b"# Written by hako: the container's first interface gets its address by DHCP.\n[Match]\nName=eth0\n\n[Network]\nDHCP=yes\n\n[DHCPv4]\nUseDomains=yes\n",
        0o644,
    )?;
    let unit_dir = if root
        .join("lib/systemd/system/systemd-networkd.service")
        .exists()
    {
        "/lib/systemd/system"
    } else {
        "/usr/lib/systemd/system"
    };
    for (wants, unit) in [
        ("multi-user.target.wants", "systemd-networkd.service"),
        ("sockets.target.wants", "systemd-networkd.socket"),
    ] {
        if !root
            .join(unit_dir.trim_start_matches('/'))
            .join(unit)
            .exists()
        {
            continue;
        }
        link_once(
            root,
            &format!("etc/systemd/system/{wants}/{unit}"),
            &format!("{unit_dir}/{unit}"),
            "enable",
        )?;
    }
    if root
        .join(unit_dir.trim_start_matches('/'))
        .join("systemd-networkd.service")
        .exists()
    {
        link_once(
            root,
            "etc/systemd/system/dbus-org.freedesktop.network1.service",
            &format!("{unit_dir}/systemd-networkd.service"),
            "enable",
        )?;
    }
    // names: systemd-resolved, asking the DHCP server also for single-label names
    // (container names on a hako network)
    if root
        .join(unit_dir.trim_start_matches('/'))
        .join("systemd-resolved.service")
        .exists()
    {
        write_file(
            root,
            "etc/systemd/resolved.conf.d/hako.conf",
            b"# Written by hako: single-label names (other containers) go to the network's DNS server.\n[Resolve]\nResolveUnicastSingleLabel=yes\n",
            0o644,
        )?;
        let rc = root.join("etc/resolv.conf");
        let is_link = fs::symlink_metadata(&rc)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if !is_link {
            let _ = fs::remove_file(&rc);
            symlink("../run/systemd/resolve/stub-resolv.conf", &rc)
                .map_err(|e| StoreError::io("link", &rc, e, "check the image tree"))?;
        }
    }
    // ttys: a container's /dev/ttyN are ptys and it has no /dev/tty0, which getty@.service
    // requires; run a getty wherever the tty exists
    write_file(
        root,
        "etc/systemd/system/getty@.service.d/hako-container.conf",
        b"# Written by hako: in a container the ttys are ptys and there is no /dev/tty0.\n[Unit]\nConditionPathExists=\nConditionPathExists=/dev/%I\n",
        0o644,
    )?;
    // the system users the packages declare exist before the first boot, which then
    // need not run systemd-sysusers ([`boot_profile`])
    if let Some(sysusers) = ["usr/bin/systemd-sysusers", "bin/systemd-sysusers"]
        .iter()
        .find(|p| root.join(p).exists())
    {
        let out = Command::new("chroot")
            .arg(root)
            .arg(format!("/{sysusers}"))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                StoreError::io(
                    "run systemd-sysusers in the image",
                    root,
                    e,
                    "check that chroot (coreutils) is installed",
                )
            })?;
        if !out.status.success() {
            return Err(StoreError::other(format!(
                "cannot prepare the image {}: systemd-sysusers failed ({}): {}; check the image's packages",
                root.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
    }
    boot_profile(root)
}
