use super::build::{build_failure_hint, quote_tail, BuildPhase};
use super::*;
use crate::StoreError;
use std::fs;
use std::path::{Path, PathBuf};

/// apt sources naming `http://mirror.test/debian` (and a security archive first)
fn apt_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    fs::create_dir(d.path().join("sources.list.d")).unwrap();
    fs::write(
        d.path().join("sources.list.d/debian.sources"),
        "Types: deb\nURIs: http://mirror.test/debian-security\nSuites: bookworm-security\nComponents: main\n\n\
         Types: deb\n# a comment\nURIs: http://mirror.test/debian\nSuites: bookworm bookworm-updates\nComponents: main\n",
    )
    .unwrap();
    d
}

fn args(a: &[&str]) -> Result<DebianArgs, StoreError> {
    let mut a = parse_args(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    resolve_mirror_in(&mut a, apt_dir().path())?;
    Ok(a)
}

#[test]
fn the_default_mirror_comes_from_the_hosts_apt_sources() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(host_mirror_in(d.path()), None);
    // the arguments parse without a mirror (a warm cache needs none) ...
    let mut a = parse_args(&[]).unwrap();
    assert_eq!(a.mirror, "");
    // ... building the image asks for one, naming the image, the sources read and the fix
    let e = resolve_mirror_in(&mut a, d.path()).unwrap_err().to_string();
    assert!(
        e.contains("name no Debian mirror")
            && e.contains(&image_name(&a))
            && e.contains("is not cached")
            && e.contains("--mirror"),
        "{e}"
    );
    // a mirror given on the command line is kept and never looked up
    let mut a = parse_args(&["--mirror=http://given.test/debian".into()]).unwrap();
    resolve_mirror_in(&mut a, d.path()).unwrap();
    assert_eq!(a.mirror, "http://given.test/debian");
    // one-line format, with options, after a disabled deb822 stanza and a foreign source
    fs::create_dir(d.path().join("sources.list.d")).unwrap();
    fs::write(
        d.path().join("sources.list.d/a.sources"),
        "Types: deb\nURIs: http://off.test/debian\nSuites: bookworm\nEnabled: no\n",
    )
    .unwrap();
    fs::write(
        d.path().join("sources.list.d/b.list"),
        "deb https://other.test/apt cloud-sdk main\n",
    )
    .unwrap();
    fs::write(
        d.path().join("sources.list"),
        "# deb http://old.test/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.test/debian bookworm main\n",
    )
    .unwrap();
    assert_eq!(
        host_mirror_in(d.path()).as_deref(),
        Some("http://one.test/debian")
    );
    assert_eq!(
        host_mirror_in(apt_dir().path()).as_deref(),
        Some("http://mirror.test/debian")
    );
}

#[test]
fn defaults_and_flags() {
    let a = args(&[]).unwrap();
    assert_eq!(a.release, "bookworm");
    assert_eq!(a.arch, host_arch());
    assert_eq!(a.mirror, "http://mirror.test/debian");
    assert!(a.packages.is_empty() && a.user.is_none() && !a.password);
    let a = args(&[
        "-r",
        "bullseye",
        "--mirror=http://m/debian",
        "--packages",
        "htop,curl",
        "--packages=htop",
        "--user",
        "alice",
        "--ssh-key",
        "/k.pub",
        "--password",
    ])
    .unwrap();
    assert_eq!(a.release, "bullseye");
    assert_eq!(a.mirror, "http://m/debian");
    assert_eq!(a.packages, vec!["curl", "htop"]);
    assert_eq!(a.user.as_deref(), Some("alice"));
    assert_eq!(a.ssh_key, Some(PathBuf::from("/k.pub")));
    assert!(a.password);
    assert_eq!(args(&["--release", "sid"]).unwrap().release, "sid");
}

#[test]
fn bad_arguments_are_clear() {
    let cases: &[(&[&str], &str)] = &[
        (&["-r", "wheezy-nope"], "unknown release \"wheezy-nope\""),
        (&["-a", "vax"], "unknown architecture \"vax\""),
        (&["--mirror", "mirror.test"], "invalid mirror"),
        (&["--packages", "Bad_Name"], "not a Debian package name"),
        (&["--user", "Root Admin"], "invalid user name"),
        (&["--frobnicate"], "unknown argument \"--frobnicate\""),
        (&["-r"], "-r needs a value"),
    ];
    for (a, want) in cases {
        let e = args(a).unwrap_err().to_string();
        assert!(e.contains(want), "{a:?}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
    let e = args(&["-r", "x"]).unwrap_err().to_string();
    assert!(e.contains("bookworm"), "lists the releases: {e}");
}

#[test]
fn foreign_arch_needs_binfmt() {
    let other = if host_arch() == "s390x" {
        "amd64"
    } else {
        "s390x"
    };
    if Path::new("/proc/sys/fs/binfmt_misc/qemu-s390x").exists() {
        return;
    }
    let e = args(&["-a", other]).unwrap_err().to_string();
    assert!(e.contains("qemu-user-static"), "{e}");
}

#[test]
fn image_names() {
    let a = args(&[]).unwrap();
    assert_eq!(image_name(&a), format!("bookworm-{}", host_arch()));
    let b = args(&["--packages", "htop,curl"]).unwrap();
    let c = args(&["--packages", "curl", "--packages", "htop,curl"]).unwrap();
    assert_eq!(image_name(&b), image_name(&c), "the order does not matter");
    assert!(image_name(&b).starts_with(&format!("bookworm-{}-", host_arch())));
    assert_ne!(image_name(&a), image_name(&b));
}

#[test]
fn builder_command_lines() {
    let a = args(&["--packages", "htop"]).unwrap();
    let c = builder_command("mmdebstrap", &a, Path::new("/c/.x.tmp/rootfs"));
    let v: Vec<String> = c
        .get_args()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    assert!(v.contains(&"--variant=minbase".to_string()));
    let inc = v.iter().find(|x| x.starts_with("--include=")).unwrap();
    for p in [
        "init",
        "openssh-server",
        "sudo",
        "iproute2",
        "less",
        "vim-tiny",
        "dnsutils",
        "htop",
    ] {
        assert!(inc.split(['=', ',']).any(|x| x == p), "{p} in {inc}");
    }
    assert_eq!(
        &v[v.len() - 3..],
        &["bookworm", "/c/.x.tmp/rootfs", "http://mirror.test/debian"]
    );
    let d = builder_command("debootstrap", &a, Path::new("/t"));
    assert_eq!(d.get_program(), "debootstrap");
}

#[test]
fn progress_from_builder_output() {
    let mut p = BuildPhase::default();
    for l in [
        "I: running apt-get update...",
        "I: downloading packages with apt...",
        "Get:1 http://mirror.test/debian bookworm/main amd64 libc6 amd64 2.36 [2757 kB]",
        "Get:2 http://mirror.test/debian bookworm/main amd64 bash amd64 5.2 [1500 kB]",
    ] {
        p.line(l);
    }
    assert_eq!(p.show(), "downloading packages (2 downloaded)");
    p.line("I: extracting archives...");
    assert!(p.show().starts_with("extracting"));
    p.line("Unpacking bash (5.2.15-2+b2) ...");
    p.line("Setting up bash (5.2.15-2+b2) ...");
    assert_eq!(p.show(), "configuring (2 downloaded, 1 unpacked, 1 set up)");
    // debootstrap's lines
    let mut d = BuildPhase::default();
    d.line("I: Retrieving InRelease ");
    assert_eq!(d.phase, "reading package lists");
    d.line("I: Retrieving libc6 2.36-9");
    d.line("I: Unpacking required packages...");
    d.line("I: Unpacking libc6...");
    d.line("I: Configuring required packages...");
    d.line("I: Configuring libc6...");
    assert_eq!((d.fetched, d.unpacked, d.configured), (1, 1, 1));
}

#[test]
fn failure_hints() {
    let a = args(&["--mirror", "http://127.0.0.1:9/debian"]).unwrap();
    let c = Path::new("/cache");
    assert!(
        build_failure_hint("E: Unable to locate package nosuchpkg\n", &a, c)
            .contains("nosuchpkg does not exist")
    );
    assert!(build_failure_hint(
        "Err:1 http://127.0.0.1:9/debian bookworm InRelease\n  Could not connect to 127.0.0.1:9",
        &a,
        c
    )
    .contains("mirror http://127.0.0.1:9/debian cannot be reached"));
    assert!(build_failure_hint("dpkg: error: No space left on device", &a, c).contains("/cache"));
    let q = quote_tail("I: x\nE: first\nnoise\nE: second\n");
    assert_eq!(q, "E: first | E: second");
}

#[test]
fn image_preparation_strips_identity() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    for dir in ["etc/ssh", "var/lib/dbus", "lib/systemd/system"] {
        fs::create_dir_all(r.join(dir)).unwrap();
    }
    fs::write(
        r.join("etc/machine-id"),
        "abcdef0123456789abcdef0123456789\n",
    )
    .unwrap();
    fs::write(r.join("var/lib/dbus/machine-id"), "abc\n").unwrap();
    fs::write(r.join("etc/ssh/ssh_host_ed25519_key"), "k").unwrap();
    fs::write(r.join("etc/ssh/ssh_host_ed25519_key.pub"), "k").unwrap();
    fs::write(r.join("etc/ssh/sshd_config"), "x").unwrap();
    fs::write(r.join("etc/hostname"), "buildhost\n").unwrap();
    fs::write(r.join("etc/hosts"), "127.0.1.1 buildhost\n").unwrap();
    fs::write(r.join("etc/resolv.conf"), "nameserver 10.0.0.1\n").unwrap();
    for u in [
        "systemd-networkd.service",
        "systemd-networkd.socket",
        "systemd-resolved.service",
        "getty@.service",
    ] {
        fs::write(r.join("lib/systemd/system").join(u), "").unwrap();
    }
    prepare_image(r).unwrap();
    assert_eq!(fs::read_to_string(r.join("etc/machine-id")).unwrap(), "");
    assert!(!r.join("var/lib/dbus/machine-id").exists());
    assert!(!r.join("etc/ssh/ssh_host_ed25519_key").exists());
    assert!(!r.join("etc/ssh/ssh_host_ed25519_key.pub").exists());
    assert!(r.join("etc/ssh/sshd_config").exists());
    assert!(!r.join("etc/hostname").exists());
    assert!(!fs::read_to_string(r.join("etc/hosts"))
        .unwrap()
        .contains("buildhost"));
    assert!(
        fs::read_to_string(r.join("etc/systemd/network/80-hako-eth0.network"))
            .unwrap()
            .contains("DHCP=yes")
    );
    assert_eq!(
        fs::read_link(
            r.join("etc/systemd/system/multi-user.target.wants/systemd-networkd.service")
        )
        .unwrap(),
        PathBuf::from("/lib/systemd/system/systemd-networkd.service")
    );
    assert_eq!(
        fs::read_link(r.join("etc/resolv.conf")).unwrap(),
        PathBuf::from("../run/systemd/resolve/stub-resolv.conf")
    );
    let g = fs::read_to_string(r.join("etc/systemd/system/getty@.service.d/hako-container.conf"))
        .unwrap();
    assert!(
        g.contains("ConditionPathExists=\nConditionPathExists=/dev/%I"),
        "{g}"
    );
    prepare_image(r).unwrap(); // idempotent
}

#[test]
fn boot_profile_stamps_and_masks() {
    use std::os::unix::fs::MetadataExt;
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    // no systemd: nothing
    fs::create_dir_all(r.join("usr")).unwrap();
    boot_profile(r).unwrap();
    assert!(!r.join("etc").exists());
    fs::create_dir_all(r.join("lib/systemd/system-generators")).unwrap();
    fs::write(r.join("lib/systemd/systemd"), "").unwrap();
    for g in ["systemd-gpt-auto-generator", "systemd-fstab-generator"] {
        fs::write(r.join("lib/systemd/system-generators").join(g), "").unwrap();
    }
    boot_profile(r).unwrap();
    let usr = fs::metadata(r.join("usr")).unwrap();
    let want = usr.mtime() as i128 * 1_000_000_000 + usr.mtime_nsec() as i128;
    for f in ["etc/.updated", "var/.updated"] {
        let t = fs::read_to_string(r.join(f)).unwrap();
        assert!(
            t.contains(&format!("\nTIMESTAMP_NSEC={want}\n")),
            "{f}: {t}"
        );
        let m = fs::metadata(r.join(f)).unwrap();
        assert_eq!(
            (m.mtime(), m.mtime_nsec()),
            (usr.mtime(), usr.mtime_nsec()),
            "{f}"
        );
    }
    let gen = r.join("etc/systemd/system-generators");
    assert_eq!(
        fs::read_link(gen.join("systemd-gpt-auto-generator")).unwrap(),
        PathBuf::from("/dev/null")
    );
    // the fstab generator is needed; generators the tree lacks are left alone
    assert!(fs::symlink_metadata(gen.join("systemd-fstab-generator")).is_err());
    assert!(fs::symlink_metadata(gen.join("systemd-cryptsetup-generator")).is_err());
    // logind stays at boot unless D-Bus can start it on demand
    let logind_wants = r.join("etc/systemd/system/multi-user.target.wants/systemd-logind.service");
    assert!(fs::symlink_metadata(&logind_wants).is_err());
    fs::create_dir_all(r.join("lib/systemd/system")).unwrap();
    fs::write(r.join("lib/systemd/system/systemd-logind.service"), "").unwrap();
    boot_profile(r).unwrap();
    assert!(fs::symlink_metadata(&logind_wants).is_err());
    fs::create_dir_all(r.join("usr/share/dbus-1/system-services")).unwrap();
    fs::write(
        r.join("usr/share/dbus-1/system-services/org.freedesktop.login1.service"),
        "",
    )
    .unwrap();
    boot_profile(r).unwrap();
    assert_eq!(
        fs::read_link(&logind_wants).unwrap(),
        PathBuf::from("/dev/null")
    );
    // the password agents are masked when the tree has them; a unit the user placed in
    // /etc is left as it is
    let units = r.join("etc/systemd/system");
    assert!(fs::symlink_metadata(units.join("systemd-ask-password-wall.path")).is_err());
    for u in CONTAINER_MASKED_UNITS {
        fs::write(r.join("lib/systemd/system").join(u), "").unwrap();
    }
    fs::write(units.join("systemd-ask-password-wall.path"), "[Path]\n").unwrap();
    boot_profile(r).unwrap();
    assert_eq!(
        fs::read_link(units.join("systemd-ask-password-console.path")).unwrap(),
        PathBuf::from("/dev/null")
    );
    assert_eq!(
        fs::read_to_string(units.join("systemd-ask-password-wall.path")).unwrap(),
        "[Path]\n"
    );
    // resolved: its own temporary directories, once; a drop-in the user edited stays
    let dropin = units.join("systemd-resolved.service.d/hako-container.conf");
    assert!(fs::symlink_metadata(&dropin).is_err());
    fs::write(r.join("lib/systemd/system/systemd-resolved.service"), "").unwrap();
    boot_profile(r).unwrap();
    let t = fs::read_to_string(&dropin).unwrap();
    assert!(
        t.contains(
            "\n[Service]\nPrivateTmp=no\nTemporaryFileSystem=/tmp:mode=1777 /var/tmp:mode=1777\n"
        ),
        "{t}"
    );
    fs::write(&dropin, "[Service]\n").unwrap();
    boot_profile(r).unwrap();
    assert_eq!(fs::read_to_string(&dropin).unwrap(), "[Service]\n");
    // done already: nothing is written again
    let ino = fs::metadata(r.join("etc/.updated")).unwrap().ino();
    boot_profile(r).unwrap();
    assert_eq!(fs::metadata(r.join("etc/.updated")).unwrap().ino(), ino);
}

#[test]
fn boot_profile_journal_in_memory_and_sshd_per_connection() {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    let sys = r.join("lib/systemd/system");
    fs::create_dir_all(&sys).unwrap();
    fs::write(r.join("lib/systemd/systemd"), "").unwrap();
    for u in ["systemd-journald.service", "ssh.service", "ssh.socket"] {
        fs::write(sys.join(u), "").unwrap();
    }
    fs::create_dir_all(r.join("usr")).unwrap();
    let wants = r.join("etc/systemd/system/multi-user.target.wants");
    fs::create_dir_all(&wants).unwrap();
    std::os::unix::fs::symlink("/lib/systemd/system/ssh.service", wants.join("ssh.service"))
        .unwrap();
    let gettys = r.join("etc/systemd/system/getty.target.wants");
    fs::create_dir_all(&gettys).unwrap();
    std::os::unix::fs::symlink(
        "/lib/systemd/system/getty@.service",
        gettys.join("getty@tty1.service"),
    )
    .unwrap();
    fs::write(gettys.join("other.service"), "").unwrap();
    boot_profile(r).unwrap();
    assert!(fs::symlink_metadata(gettys.join("getty@tty1.service")).is_err());
    assert!(gettys.join("other.service").exists());
    let j = fs::read_to_string(r.join("etc/systemd/journald.conf.d/hako-container.conf")).unwrap();
    assert_eq!(j, JOURNALD_DROPIN);
    assert!(j.contains("Storage=volatile\n") && j.contains("RuntimeMaxUse="));
    assert!(fs::symlink_metadata(wants.join("ssh.service")).is_err());
    assert_eq!(
        fs::read_link(r.join("etc/systemd/system/sockets.target.wants/ssh.socket")).unwrap(),
        PathBuf::from("/lib/systemd/system/ssh.socket")
    );
    // a drop-in of the user's under that name stays; a second run changes nothing
    fs::write(
        r.join("etc/systemd/journald.conf.d/hako-container.conf"),
        "[Journal]\nStorage=persistent\n",
    )
    .unwrap();
    boot_profile(r).unwrap();
    assert_eq!(
        fs::read_to_string(r.join("etc/systemd/journald.conf.d/hako-container.conf")).unwrap(),
        "[Journal]\nStorage=persistent\n"
    );
    // --persistent-journal
    persist_journal(r).unwrap();
    let p =
        fs::read_to_string(r.join("etc/systemd/journald.conf.d/zz-hako-persistent.conf")).unwrap();
    assert_eq!(p, JOURNALD_PERSISTENT);
    // no ssh.socket (an older openssh): ssh.service keeps its place
    let d2 = tempfile::tempdir().unwrap();
    let r2 = d2.path();
    fs::create_dir_all(r2.join("lib/systemd/system")).unwrap();
    fs::create_dir_all(r2.join("usr")).unwrap();
    fs::write(r2.join("lib/systemd/systemd"), "").unwrap();
    fs::write(r2.join("lib/systemd/system/ssh.service"), "").unwrap();
    let w2 = r2.join("etc/systemd/system/multi-user.target.wants");
    fs::create_dir_all(&w2).unwrap();
    std::os::unix::fs::symlink("/lib/systemd/system/ssh.service", w2.join("ssh.service")).unwrap();
    boot_profile(r2).unwrap();
    assert!(fs::symlink_metadata(w2.join("ssh.service")).is_ok());
}
