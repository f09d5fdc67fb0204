use super::*;
use std::os::unix::fs::symlink;
use std::os::unix::fs::MetadataExt;

/// A fake Debian root: the files the steps read.
fn fake_root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let r = d.path();
    for dir in [
        "etc/ssh/sshd_config.d",
        "etc/skel",
        "lib/systemd/system",
        "usr/sbin",
        "bin",
        "var/lib/dbus",
        "home",
    ] {
        fs::create_dir_all(r.join(dir)).unwrap();
    }
    fs::write(r.join("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n").unwrap();
    fs::write(
        r.join("etc/group"),
        "root:x:0:\nshadow:x:42:\nsudo:x:27:\nusers:x:100:\n",
    )
    .unwrap();
    fs::write(r.join("etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    fs::write(r.join("etc/gshadow"), "root:*::\nsudo:*::\n").unwrap();
    fs::write(
        r.join("etc/hosts"),
        "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n",
    )
    .unwrap();
    fs::write(r.join("etc/machine-id"), "").unwrap();
    fs::write(r.join("var/lib/dbus/machine-id"), "0123\n").unwrap();
    fs::write(
        r.join("etc/ssh/sshd_config"),
        "Include /etc/ssh/sshd_config.d/*.conf\n",
    )
    .unwrap();
    fs::write(r.join("etc/ssh/ssh_host_rsa_key"), "old").unwrap();
    fs::write(r.join("etc/skel/.bashrc"), "# bashrc\n").unwrap();
    fs::write(r.join("lib/systemd/system/getty@.service"), "[Unit]\n").unwrap();
    fs::write(r.join("bin/bash"), "").unwrap();
    d
}

#[test]
fn hostname_and_hosts() {
    let d = fake_root();
    set_hostname(d.path(), "web1").unwrap();
    assert_eq!(
        fs::read_to_string(d.path().join("etc/hostname")).unwrap(),
        "web1\n"
    );
    set_hosts(d.path(), "web1").unwrap();
    let h = fs::read_to_string(d.path().join("etc/hosts")).unwrap();
    assert!(
        h.starts_with("127.0.0.1\tlocalhost\n127.0.1.1\tweb1\n::1"),
        "{h}"
    );
    // a copy renames: the old line goes, never two
    set_hosts(d.path(), "web2").unwrap();
    let h = fs::read_to_string(d.path().join("etc/hosts")).unwrap();
    assert_eq!(h.matches("127.0.1.1").count(), 1, "{h}");
    assert!(
        h.contains("127.0.1.1\tweb2\n") && !h.contains("web1"),
        "{h}"
    );
    // no localhost line at all: both added
    assert_eq!(hosts_text("", "x"), "127.0.0.1\tlocalhost\n127.0.1.1\tx\n");
}

#[test]
fn only_valid_host_names_are_written_and_hostile_files_are_not_read() {
    let d = fake_root();
    for bad in ["$(reboot);x", "web_1", "a\nb", ""] {
        let e = set_hostname(d.path(), bad).unwrap_err().to_string();
        assert!(e.contains("cannot write the host name"), "{e}");
        assert!(set_hosts(d.path(), bad).is_err());
    }
    // the container's /etc/hosts is a FIFO or /dev/zero: refused, not read
    let hosts = d.path().join("etc/hosts");
    fs::remove_file(&hosts).unwrap();
    symlink("/dev/zero", &hosts).unwrap();
    let e = set_hosts(d.path(), "web").unwrap_err().to_string();
    assert!(e.contains("character device"), "{e}");
}

#[test]
fn a_symlinked_file_is_replaced_not_followed() {
    let d = fake_root();
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    fs::write(&victim, "keep").unwrap();
    fs::remove_file(d.path().join("etc/hosts")).unwrap();
    symlink(&victim, d.path().join("etc/hostname")).unwrap();
    set_hostname(d.path(), "web").unwrap();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
    assert!(fs::symlink_metadata(d.path().join("etc/hostname"))
        .unwrap()
        .is_file());
}

#[test]
fn machine_ids_are_fresh_and_well_formed() {
    let d = fake_root();
    set_machine_id(d.path()).unwrap();
    let a = fs::read_to_string(d.path().join("etc/machine-id")).unwrap();
    assert_eq!(a.len(), 33);
    assert!(a
        .trim()
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(&a[12..13], "4", "version 4: {a}");
    assert!(!d.path().join("var/lib/dbus/machine-id").exists());
    set_machine_id(d.path()).unwrap();
    let b = fs::read_to_string(d.path().join("etc/machine-id")).unwrap();
    assert_ne!(a, b);
}

#[test]
fn ssh_host_keys_are_new_and_per_container() {
    let d = fake_root();
    new_ssh_host_keys(d.path(), "web").unwrap();
    let ssh = d.path().join("etc/ssh");
    assert!(
        !ssh.join("ssh_host_rsa_key").exists(),
        "old keys are removed"
    );
    for t in HOST_KEY_TYPES {
        let k = ssh.join(format!("ssh_host_{t}_key"));
        assert_eq!(fs::metadata(&k).unwrap().mode() & 0o777, 0o600);
        let pubkey = fs::read_to_string(ssh.join(format!("ssh_host_{t}_key.pub"))).unwrap();
        assert!(pubkey.trim_end().ends_with("root@web"), "{pubkey}");
        // OpenSSH itself reads the private key and derives the same public key
        let out = Command::new("ssh-keygen")
            .arg("-y")
            .arg("-f")
            .arg(&k)
            .output()
            .expect("ssh-keygen (openssh-client) is needed to check the keys: apt-get install openssh-client (make deps does)");
        assert!(
            out.status.success(),
            "ssh-keygen -y {}: {}",
            k.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let derived = String::from_utf8(out.stdout).unwrap();
        let two = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
        assert_eq!(two(&derived), two(&pubkey), "{t} key");
        let want = if *t == "ed25519" {
            "ssh-ed25519 "
        } else {
            "ecdsa-sha2-nistp256 "
        };
        assert!(pubkey.starts_with(want), "{pubkey}");
    }
    let first = fs::read(ssh.join("ssh_host_ed25519_key")).unwrap();
    new_ssh_host_keys(d.path(), "web").unwrap();
    assert_ne!(first, fs::read(ssh.join("ssh_host_ed25519_key")).unwrap());
    // no sshd in the container: nothing
    let e = tempfile::tempdir().unwrap();
    new_ssh_host_keys(e.path(), "x").unwrap();
    assert!(!e.path().join("etc").exists());
}

#[test]
fn sshd_policy() {
    let d = fake_root();
    set_sshd_policy(d.path(), false).unwrap();
    let t = fs::read_to_string(d.path().join(SSHD_DROPIN)).unwrap();
    assert!(t.contains("PermitRootLogin prohibit-password\n"));
    assert!(t.contains("PasswordAuthentication no\n"));
    assert!(t.contains("HostKey /etc/ssh/ssh_host_ed25519_key\n"));
    set_sshd_policy(d.path(), true).unwrap();
    let t = fs::read_to_string(d.path().join(SSHD_DROPIN)).unwrap();
    assert!(t.contains("PasswordAuthentication yes\n"));
    assert!(t.contains("PermitRootLogin prohibit-password\n"));
}

#[test]
fn user_with_sudo_home_and_keys() {
    let d = fake_root();
    let me = nix::unistd::geteuid().as_raw();
    let u = add_user(d.path(), "alice", false).unwrap();
    assert_eq!((u.uid, u.gid), (1000, 1000));
    let passwd = fs::read_to_string(d.path().join("etc/passwd")).unwrap();
    assert!(
        passwd.ends_with("alice:x:1000:1000:,,,:/home/alice:/bin/bash\n"),
        "{passwd}"
    );
    let group = fs::read_to_string(d.path().join("etc/group")).unwrap();
    assert!(
        group.contains("sudo:x:27:alice\n") && group.contains("alice:x:1000:\n"),
        "{group}"
    );
    let shadow = fs::read_to_string(d.path().join("etc/shadow")).unwrap();
    assert!(
        shadow.lines().any(|l| l.starts_with("alice:*:")),
        "{shadow}"
    );
    let gshadow = fs::read_to_string(d.path().join("etc/gshadow")).unwrap();
    assert!(
        gshadow.contains("sudo:*::alice\n") && gshadow.contains("alice:!::\n"),
        "{gshadow}"
    );
    let sudoers = d.path().join("etc/sudoers.d/hako-alice");
    assert!(fs::read_to_string(&sudoers)
        .unwrap()
        .contains("alice ALL=(ALL:ALL) NOPASSWD:ALL"));
    assert_eq!(fs::metadata(&sudoers).unwrap().mode() & 0o777, 0o440);
    let home = d.path().join("home/alice");
    assert_eq!(fs::metadata(&home).unwrap().mode() & 0o777, 0o700);
    assert_eq!(
        fs::read_to_string(home.join(".bashrc")).unwrap(),
        "# bashrc\n"
    );
    if me == 0 {
        assert_eq!(fs::metadata(home.join(".bashrc")).unwrap().uid(), 1000);
    }
    // the second user gets the next id; the same name is refused
    let b = add_user(d.path(), "bob", true).unwrap();
    assert_eq!(b.uid, 1001);
    assert!(
        !d.path().join("etc/sudoers.d/hako-bob").exists(),
        "with a password sudo asks for it"
    );
    assert!(fs::read_to_string(d.path().join("etc/group"))
        .unwrap()
        .contains("sudo:x:27:alice,bob\n"));
    let e = add_user(d.path(), "alice", false).unwrap_err().to_string();
    assert!(e.contains("already has a user"), "{e}");
    let e = add_user(d.path(), "daemon", false).unwrap_err().to_string();
    assert!(e.contains("already has a user"), "{e}");
    for bad in ["Alice", "1x", "a b", "", "x/y", &"a".repeat(33)] {
        assert!(add_user(d.path(), bad, false).is_err(), "{bad}");
    }
    // authorized keys
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests alice@laptop\n";
    validate_public_keys(key, "k.pub").unwrap();
    authorize_keys(d.path(), &u, key).unwrap();
    let ak = home.join(".ssh/authorized_keys");
    assert_eq!(fs::read_to_string(&ak).unwrap(), key);
    assert_eq!(fs::metadata(&ak).unwrap().mode() & 0o777, 0o600);
    assert_eq!(
        fs::metadata(home.join(".ssh")).unwrap().mode() & 0o777,
        0o700
    );
}

#[test]
fn public_key_files_are_checked() {
    assert!(validate_public_keys("ecdsa-sha2-nistp256 AAAA x\n", "f").is_ok());
    assert!(validate_public_keys("from=\"10.0.0.1\" ssh-rsa AAAA x\n", "f").is_ok());
    let e = validate_public_keys("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n", "id")
        .unwrap_err()
        .to_string();
    assert!(e.contains("private key") && e.contains(".pub"), "{e}");
    let e = validate_public_keys("# nothing\n\n", "f")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no SSH public key"), "{e}");
}

#[test]
fn identity_for_root_only() {
    let d = fake_root();
    let id = Identity {
        hostname: "db".into(),
        login: LoginSetup {
            user: None,
            authorized_keys: Some("ssh-ed25519 AAAA root-key\n".into()),
            password: None,
        },
    };
    apply_identity(d.path(), &id).unwrap();
    assert_eq!(
        fs::read_to_string(d.path().join("etc/hostname")).unwrap(),
        "db\n"
    );
    assert_eq!(
        fs::read_to_string(d.path().join("root/.ssh/authorized_keys")).unwrap(),
        "ssh-ed25519 AAAA root-key\n"
    );
    assert!(!fs::read_to_string(d.path().join("etc/passwd"))
        .unwrap()
        .contains(":1000:"));
    assert!(fs::read_to_string(d.path().join(SSHD_DROPIN))
        .unwrap()
        .contains("PasswordAuthentication no"));
    // gettys start when a console attaches (`hako console -t N`), none at boot
    assert!(!d
        .path()
        .join("etc/systemd/system/getty.target.wants")
        .exists());
}
