//! Per-container identity and login setup, written into a container's root filesystem at
//! create (and refreshed for copies): hostname, /etc/hosts, machine-id, SSH host keys, the
//! sshd login policy, a sudo user, authorized keys and a password. Never shared through the image cache.
//!
//! Each step takes the root directory to work in. hako runs them chrooted into the
//! container's root (`root` = `/`, see [`crate::view`]), so a symlink in the container
//! can never redirect a write to the host; the unit tests run them on a plain directory.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::StoreError;

/// The SSH host key types hako generates (RSA is left out: it takes a quarter of a second
/// to make, and every current client speaks ed25519 or ECDSA).
pub const HOST_KEY_TYPES: &[&str] = &["ed25519", "ecdsa"];

/// The drop-in that carries hako's sshd policy.
pub const SSHD_DROPIN: &str = "etc/ssh/sshd_config.d/10-hako.conf";

/// What `create` sets up for logging in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoginSetup {
    /// `--user NAME`: a sudo user (None: root only).
    pub user: Option<String>,
    /// `--ssh-key FILE`: the file's content, for the user's (or root's) authorized_keys.
    pub authorized_keys: Option<String>,
    /// `--password`: the password for the user (or root).
    pub password: Option<String>,
}

/// Everything a new container gets.
#[derive(Clone, Debug)]
pub struct Identity {
    pub hostname: String,
    pub login: LoginSetup,
}

fn err(op: &str, p: &Path, e: io::Error) -> StoreError {
    StoreError::io(op, p, e, "check the container's root filesystem")
}

/// Writes `rel` below `root` (parents made 0755 as needed) through a temporary file and a
/// rename, with `mode`.
pub(crate) fn write_file(
    root: &Path,
    rel: &str,
    content: &[u8],
    mode: u32,
) -> Result<(), StoreError> {
    let p = root.join(rel);
    if let Some(parent) = p.parent() {
        if !parent.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)
                .map_err(|e| err("create directory", parent, e))?;
        }
    }
    // created with its final mode (umask may only narrow it): a secret (a private key, a
    // shadow file) is never readable by others, not even for a moment; a symlink at the
    // final name is replaced, never followed. Not synced one by one: the caller writes
    // the whole layer to disk once it is done (crate::view).
    crate::fsutil::replace_file(&p, content, mode, false).map_err(|e| err("write", &p, e))
}

fn read_opt(root: &Path, rel: &str) -> Result<Option<String>, StoreError> {
    let p = root.join(rel);
    // inside the container's root: a FIFO or /dev/zero there must not hang or exhaust us
    match crate::cfg::read_config_text(&p) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err("read", &p, e)),
    }
}

/// What goes into /etc/hostname and /etc/hosts must be a valid host name (callers make it
/// from the container name with `hostname_from_name`): checked here, before it is written.
fn check_hostname(name: &str) -> Result<(), StoreError> {
    hako_config::values::validate_hostname(name).map_err(|e| {
        StoreError::other(format!(
            "cannot write the host name \"{name}\" into the container: {e}"
        ))
    })
}

/// `/etc/hostname`
pub fn set_hostname(root: &Path, name: &str) -> Result<(), StoreError> {
    check_hostname(name)?;
    write_file(root, "etc/hostname", format!("{name}\n").as_bytes(), 0o644)
}

/// The new `/etc/hosts`: `existing` with any `127.0.1.1` line replaced by `127.0.1.1 NAME`,
/// which follows the `127.0.0.1` line (added if missing).
pub fn hosts_text(existing: &str, name: &str) -> String {
    let mut out = String::new();
    let mut placed = false;
    let has_localhost = existing
        .lines()
        .any(|l| l.split_whitespace().next() == Some("127.0.0.1"));
    if !has_localhost {
        out.push_str("127.0.0.1\tlocalhost\n");
        out.push_str(&format!("127.0.1.1\t{name}\n"));
        placed = true;
    }
    for line in existing.lines() {
        let first = line.split_whitespace().next();
        if first == Some("127.0.1.1") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
        if first == Some("127.0.0.1") && !placed {
            out.push_str(&format!("127.0.1.1\t{name}\n"));
            placed = true;
        }
    }
    out
}

/// `/etc/hosts` with `127.0.1.1 NAME`.
pub fn set_hosts(root: &Path, name: &str) -> Result<(), StoreError> {
    check_hostname(name)?;
    let existing = read_opt(root, "etc/hosts")?.unwrap_or_else(|| {
        "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n".to_string()
    });
    write_file(
        root,
        "etc/hosts",
        hosts_text(&existing, name).as_bytes(),
        0o644,
    )
}

/// A fresh random machine id: 32 lower-case hex digits (a version 4 UUID, as systemd makes).
pub fn new_machine_id_text() -> Result<String, StoreError> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(|e| {
        StoreError::other(format!(
            "cannot make a machine id: the kernel gave no random bytes ({e}); retry"
        ))
    })?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect::<String>() + "\n")
}

/// `/etc/machine-id`, fresh. D-Bus's copy, if it is a file of its own, goes (systemd
/// links it to /etc/machine-id at boot).
pub fn set_machine_id(root: &Path) -> Result<(), StoreError> {
    write_file(
        root,
        "etc/machine-id",
        new_machine_id_text()?.as_bytes(),
        0o444,
    )?;
    let dbus = root.join("var/lib/dbus/machine-id");
    if let Ok(m) = fs::symlink_metadata(&dbus) {
        if m.file_type().is_file() {
            fs::remove_file(&dbus).map_err(|e| err("remove", &dbus, e))?;
        }
    }
    Ok(())
}

fn has_sshd(root: &Path) -> bool {
    root.join("usr/sbin/sshd").exists() || root.join("etc/ssh/sshd_config").exists()
}

/// Removes every SSH host key and makes new ones ([`HOST_KEY_TYPES`]), written as
/// ssh-keygen writes them (OpenSSH private key format, mode 0600; `.pub` with
/// `root@NAME`, mode 0644). The keys are generated in this process (the `ssh-key`
/// crate, randomness from getrandom(2)), which takes microseconds where running
/// ssh-keygen took about ten milliseconds per clone. Nothing when the container has
/// no sshd.
pub fn new_ssh_host_keys(root: &Path, name: &str) -> Result<(), StoreError> {
    use ssh_key::{rand_core::OsRng, Algorithm, EcdsaCurve, LineEnding, PrivateKey};
    if !has_sshd(root) {
        return Ok(());
    }
    let dir = root.join("etc/ssh");
    if let Ok(rd) = fs::read_dir(&dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with("ssh_host_") {
                fs::remove_file(e.path())
                    .map_err(|x| err("remove the old host key", &e.path(), x))?;
            }
        }
    }
    for t in HOST_KEY_TYPES {
        let alg = match *t {
            "ed25519" => Algorithm::Ed25519,
            "ecdsa" => Algorithm::Ecdsa {
                curve: EcdsaCurve::NistP256,
            },
            other => unreachable!("no host key generator for type {other}"),
        };
        let key_rel = format!("etc/ssh/ssh_host_{t}_key");
        let bad = |e: ssh_key::Error| {
            StoreError::other(format!(
                "cannot make the SSH host key /{key_rel} of container \"{name}\": {e}; this is a bug in hako, please report it"
            ))
        };
        let mut key = PrivateKey::random(&mut OsRng, alg).map_err(bad)?;
        key.set_comment(format!("root@{name}"));
        let private = key.to_openssh(LineEnding::LF).map_err(bad)?;
        let public = key.public_key().to_openssh().map_err(bad)?;
        write_file(root, &key_rel, private.as_bytes(), 0o600)?;
        write_file(
            root,
            &format!("{key_rel}.pub"),
            format!("{public}\n").as_bytes(),
            0o644,
        )?;
    }
    Ok(())
}

/// The sshd policy drop-in: root only with a key; passwords only when asked for.
pub fn sshd_policy_text(password_auth: bool) -> String {
    let mut s =
        String::from("# Written by hako when the container was created: its SSH login policy.\n");
    for t in HOST_KEY_TYPES {
        s.push_str(&format!("HostKey /etc/ssh/ssh_host_{t}_key\n"));
    }
    s.push_str("PermitRootLogin prohibit-password\n");
    s.push_str(&format!(
        "PasswordAuthentication {}\n",
        if password_auth { "yes" } else { "no" }
    ));
    s
}

pub fn set_sshd_policy(root: &Path, password_auth: bool) -> Result<(), StoreError> {
    if !has_sshd(root) {
        return Ok(());
    }
    write_file(
        root,
        SSHD_DROPIN,
        sshd_policy_text(password_auth).as_bytes(),
        0o644,
    )
}

/// Checks a login name as Debian's adduser does by default.
pub fn validate_user_name(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .next()
            .map(|c| c.is_ascii_lowercase() || c == '_')
            .unwrap_or(false)
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(StoreError::other(format!(
            "invalid user name \"{name}\" for --user: use up to 32 lower-case letters, digits, '_' and '-', starting with a letter (e.g. --user admin)"
        )))
    }
}

/// A user in the container's /etc/passwd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

fn parse_passwd(text: &str) -> Vec<User> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(User {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: PathBuf::from(f[5]),
            })
        })
        .collect()
}

/// Looks a user up in the container's /etc/passwd.
pub fn find_user(root: &Path, name: &str) -> Result<Option<User>, StoreError> {
    let text = read_opt(root, "etc/passwd")?.unwrap_or_default();
    Ok(parse_passwd(&text).into_iter().find(|u| u.name == name))
}

fn days_since_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86400)
        .unwrap_or(0)
}

/// Adds `name` to the (comma separated) member list of group `group` in a group(5) or
/// gshadow(5) text, whose member list is field `field` (3 for group, 3 for gshadow).
fn add_member(text: &str, group: &str, name: &str, field: usize) -> (String, bool) {
    let mut found = false;
    let mut out = String::new();
    for line in text.lines() {
        let mut f: Vec<String> = line.split(':').map(str::to_string).collect();
        if f.first().map(String::as_str) == Some(group) && f.len() > field {
            found = true;
            let mut members: Vec<&str> = f[field].split(',').filter(|m| !m.is_empty()).collect();
            if !members.contains(&name) {
                members.push(name);
            }
            f[field] = members.join(",");
            out.push_str(&f.join(":"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    (out, found)
}

/// Creates the login user `name`: its own group, member of `sudo`, shell /bin/bash, home
/// /home/NAME from /etc/skel. The password field is `*` (no password, but not locked, so
/// key logins work) until [`set_password`]. Without a password, sudo asks for none.
pub fn add_user(root: &Path, name: &str, with_password: bool) -> Result<User, StoreError> {
    validate_user_name(name)?;
    let passwd = read_opt(root, "etc/passwd")?.unwrap_or_default();
    let users = parse_passwd(&passwd);
    if users.iter().any(|u| u.name == name) {
        return Err(StoreError::other(format!(
            "cannot create user \"{name}\": the image already has a user of that name; pick another --user"
        )));
    }
    let group = read_opt(root, "etc/group")?.unwrap_or_default();
    let gids: Vec<u32> = group
        .lines()
        .filter_map(|l| l.split(':').nth(2)?.parse().ok())
        .collect();
    if group.lines().any(|l| l.split(':').next() == Some(name)) {
        return Err(StoreError::other(format!(
            "cannot create user \"{name}\": the image already has a group of that name; pick another --user"
        )));
    }
    let mut id = 1000;
    while users.iter().any(|u| u.uid == id) || gids.contains(&id) {
        id += 1;
    }
    let home = PathBuf::from(format!("/home/{name}"));
    let shell = if root.join("bin/bash").exists() || root.join("usr/bin/bash").exists() {
        "/bin/bash"
    } else {
        "/bin/sh"
    };
    let mut passwd = passwd;
    if !passwd.is_empty() && !passwd.ends_with('\n') {
        passwd.push('\n');
    }
    passwd.push_str(&format!(
        "{name}:x:{id}:{id}:,,,:{}:{shell}\n",
        home.display()
    ));
    let mut group = group;
    if !group.is_empty() && !group.ends_with('\n') {
        group.push('\n');
    }
    group.push_str(&format!("{name}:x:{id}:\n"));
    let (group, has_sudo) = add_member(&group, "sudo", name, 3);
    write_file(root, "etc/passwd", passwd.as_bytes(), 0o644)?;
    write_file(root, "etc/group", group.as_bytes(), 0o644)?;
    if let Some(shadow) = read_opt(root, "etc/shadow")? {
        let mut s = shadow;
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&format!("{name}:*:{}:0:99999:7:::\n", days_since_epoch()));
        write_file(root, "etc/shadow", s.as_bytes(), 0o640)?;
        chown_like(root, "etc/shadow", "etc/passwd")?;
        restore_group(root, "etc/shadow")?;
    }
    if let Some(gshadow) = read_opt(root, "etc/gshadow")? {
        let mut s = gshadow;
        if !s.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&format!("{name}:!::\n"));
        let (s, _) = add_member(&s, "sudo", name, 3);
        write_file(root, "etc/gshadow", s.as_bytes(), 0o640)?;
        restore_group(root, "etc/gshadow")?;
    }
    if has_sudo && !with_password {
        write_file(
            root,
            &format!("etc/sudoers.d/hako-{name}"),
            format!("# Written by hako: {name} has no password, so sudo asks for none.\n{name} ALL=(ALL:ALL) NOPASSWD:ALL\n").as_bytes(),
            0o440,
        )?;
    }
    // the home directory, from /etc/skel
    let home_abs = root.join(home.strip_prefix("/").expect("absolute"));
    if let Some(parent) = home_abs.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(|e| err("create directory", parent, e))?;
    }
    fs::DirBuilder::new()
        .mode(0o700)
        .create(&home_abs)
        .map_err(|e| err("create the home directory", &home_abs, e))?;
    let skel = root.join("etc/skel");
    if skel.is_dir() {
        crate::backing::copy_tree(&skel, &home_abs, &mut |_| {})?;
    }
    fs::set_permissions(&home_abs, fs::Permissions::from_mode(0o700))
        .map_err(|e| err("set the mode of", &home_abs, e))?;
    chown_tree(&home_abs, id, id)?;
    Ok(User {
        name: name.to_string(),
        uid: id,
        gid: id,
        home,
    })
}

/// /etc/shadow and /etc/gshadow belong to group shadow in Debian.
fn restore_group(root: &Path, rel: &str) -> Result<(), StoreError> {
    let group = read_opt(root, "etc/group")?.unwrap_or_default();
    let gid = group.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"shadow"))
            .then(|| f.get(2)?.parse::<u32>().ok())
            .flatten()
    });
    if let Some(gid) = gid {
        let p = root.join(rel);
        let _ = std::os::unix::fs::lchown(&p, None, Some(gid));
    }
    Ok(())
}

fn chown_like(root: &Path, rel: &str, like: &str) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    if let Ok(m) = fs::metadata(root.join(like)) {
        let _ = std::os::unix::fs::lchown(root.join(rel), Some(m.uid()), None);
    }
    Ok(())
}

/// chown -R (not following symlinks). As a non-root caller, giving files away fails with
/// EPERM: that is ignored only when the owner asked for is already ours.
fn chown_tree(p: &Path, uid: u32, gid: u32) -> Result<(), StoreError> {
    let r = std::os::unix::fs::lchown(p, Some(uid), Some(gid));
    if let Err(e) = r {
        if e.raw_os_error() != Some(libc::EPERM) || nix::unistd::geteuid().is_root() {
            return Err(err("set the owner of", p, e));
        }
    }
    if fs::symlink_metadata(p).map(|m| m.is_dir()).unwrap_or(false) {
        for e in fs::read_dir(p)
            .map_err(|e| err("read directory", p, e))?
            .flatten()
        {
            chown_tree(&e.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Checks that `text` is a public key file (authorized_keys format), not a private key.
pub fn validate_public_keys(text: &str, shown: &str) -> Result<(), StoreError> {
    if text.contains("PRIVATE KEY") {
        return Err(StoreError::other(format!(
            "--ssh-key {shown} is a private key; pass the public key (the .pub file) instead"
        )));
    }
    let keys = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter(|l| {
            l.split_whitespace()
                .any(|w| w.starts_with("ssh-") || w.starts_with("ecdsa-") || w.starts_with("sk-"))
        })
        .count();
    if keys == 0 {
        return Err(StoreError::other(format!(
            "--ssh-key {shown} holds no SSH public key (a line such as \"ssh-ed25519 AAAA... user@host\"); pass a .pub file"
        )));
    }
    Ok(())
}

/// Appends `keys` to the user's `~/.ssh/authorized_keys` (0600 in a 0700 directory, owned
/// by the user).
pub fn authorize_keys(root: &Path, user: &User, keys: &str) -> Result<(), StoreError> {
    let home = root.join(user.home.strip_prefix("/").unwrap_or(&user.home));
    let ssh = home.join(".ssh");
    if !ssh.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&ssh)
            .map_err(|e| err("create directory", &ssh, e))?;
    }
    let rel = ssh
        .join("authorized_keys")
        .strip_prefix(root)
        .expect("below root")
        .to_string_lossy()
        .into_owned();
    let mut text = read_opt(root, &rel)?.unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(keys.trim_end());
    text.push('\n');
    write_file(root, &rel, text.as_bytes(), 0o600)?;
    fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700))
        .map_err(|e| err("set the mode of", &ssh, e))?;
    chown_tree(&ssh, user.uid, user.gid)
}

/// Sets the user's password with the container's own chpasswd (so the hash is what its
/// PAM expects). Runs chrooted when `root` is not `/`.
pub fn set_password(root: &Path, user: &str, password: &str) -> Result<(), StoreError> {
    if password.contains('\n') {
        return Err(StoreError::other(
            "the password contains a newline; use a password without one",
        ));
    }
    let mut cmd = if root == Path::new("/") {
        Command::new("/usr/sbin/chpasswd")
    } else {
        let mut c = Command::new("chroot");
        c.arg(root).arg("/usr/sbin/chpasswd");
        c
    };
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        StoreError::io(
            "run chpasswd in container root",
            root,
            e,
            "the image needs the passwd package",
        )
    })?;
    {
        let mut w = child.stdin.take().expect("piped");
        let _ = w.write_all(format!("{user}:{password}\n").as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| StoreError::io("wait for chpasswd in", root, e, "retry"))?;
    if !out.status.success() {
        return Err(StoreError::other(format!(
            "cannot set the password of \"{user}\": chpasswd failed ({}): {}; check the image's passwd and PAM setup",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Hostname, /etc/hosts, machine id and SSH host keys: what makes a copy a machine of its
/// own.
pub fn refresh_identity(root: &Path, name: &str) -> Result<(), StoreError> {
    set_hostname(root, name)?;
    set_hosts(root, name)?;
    if root.join("etc/machine-id").exists() {
        set_machine_id(root)?;
    }
    new_ssh_host_keys(root, name)
}

/// Everything a new container from an image gets: identity, sshd policy, the
/// login user with its key and password.
pub fn apply_identity(root: &Path, id: &Identity) -> Result<(), StoreError> {
    set_hostname(root, &id.hostname)?;
    set_hosts(root, &id.hostname)?;
    set_machine_id(root)?;
    new_ssh_host_keys(root, &id.hostname)?;
    set_sshd_policy(root, id.login.password.is_some())?;
    let who = match id.login.user.as_deref() {
        Some(u) if u != "root" => add_user(root, u, id.login.password.is_some())?,
        _ => find_user(root, "root")?.unwrap_or(User {
            name: "root".into(),
            uid: 0,
            gid: 0,
            home: PathBuf::from("/root"),
        }),
    };
    if let Some(keys) = &id.login.authorized_keys {
        authorize_keys(root, &who, keys)?;
    }
    if let Some(pw) = &id.login.password {
        set_password(root, &who.name, pw)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
