//! `lxc-usernsexec` / `hako usernsexec`: run a command as root in a new user namespace
//! (and a mount namespace it owns), as LXC's tool does.
//!
//! `-m u|g|b:NSID:HOSTID:COUNT` (repeatable) gives the maps; without any, the caller's
//! first entry in `/etc/subuid` and in `/etc/subgid` is mapped at 0 (LXC's default); `-s`
//! also maps the caller's own uid and gid, just above the ids mapped from 0. The maps are
//! written with newuidmap/newgidmap (package uidmap) when the caller is not root, which
//! check them against the two files; root writes `/proc/PID/{uid,gid}_map` itself. The
//! command (default `/bin/sh`) runs as uid and gid 0 in the namespace, with no
//! supplementary groups and `/` a dependent mount (the host's mounts reach it, its own do
//! not reach the host); the exit status is the command's.
//!
//! `$HAKO_SUBUID_FILE` and `$HAKO_SUBGID_FILE` name other files than /etc/subuid and
//! /etc/subgid for the default map (tests; newuidmap reads the real files).

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use hako_store::subid::user::{first_entry, missing_range, Owner};
use hako_store::subid::{parse_subid, SubidEntry};
use nix::errno::Errno;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{ForkResult, Pid};

/// What to run and with which maps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsernsexecOptions {
    /// `-m` values, parsed (a `b` map is two lines, `u` and `g`)
    pub maps: Vec<IdMapLine>,
    /// `-s`: map the caller's own uid and gid too
    pub map_self: bool,
    /// the command and its arguments; empty: `/bin/sh`
    pub command: Vec<String>,
}

/// One line of a uid or gid map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMapLine {
    /// true: a uid map line; false: gid
    pub uid: bool,
    pub ns: u64,
    pub host: u64,
    pub count: u64,
}

/// Parses one `-m` value: `u|g|b:NSID:HOSTID:COUNT`.
pub fn parse_map(v: &str) -> Result<Vec<IdMapLine>, String> {
    let bad = |why: &str| {
        format!("invalid map \"{v}\": {why}; write it as u|g|b:NSID:HOSTID:COUNT, e.g. b:0:100000:65536")
    };
    let f: Vec<&str> = v.split(':').collect();
    if f.len() != 4 {
        return Err(bad("it does not have four fields separated by ':'"));
    }
    let num = |s: &str, what: &str| {
        s.parse::<u32>().map(u64::from).map_err(|_| {
            bad(&format!(
                "the {what} \"{s}\" is not a number below 4294967296"
            ))
        })
    };
    let (ns, host, count) = (
        num(f[1], "NSID")?,
        num(f[2], "HOSTID")?,
        num(f[3], "COUNT")?,
    );
    if count == 0 {
        return Err(bad("the COUNT is 0"));
    }
    if ns + count > u64::from(u32::MAX) || host + count > u64::from(u32::MAX) {
        return Err(bad("the range goes past 4294967294"));
    }
    let line = |uid| IdMapLine {
        uid,
        ns,
        host,
        count,
    };
    match f[0] {
        "u" => Ok(vec![line(true)]),
        "g" => Ok(vec![line(false)]),
        "b" => Ok(vec![line(true), line(false)]),
        k => Err(bad(&format!("the kind \"{k}\" is not u, g or b"))),
    }
}

/// LXC's default map: the owner's first entry of each file, mapped at 0.
pub fn default_maps(
    uids: &[SubidEntry],
    gids: &[SubidEntry],
    owner: &Owner,
    uid_file: &Path,
    gid_file: &Path,
) -> Result<Vec<IdMapLine>, String> {
    let (u, g) = (first_entry(uids, owner), first_entry(gids, owner));
    match (u, g) {
        (Some(u), Some(g)) => Ok(vec![
            IdMapLine {
                uid: true,
                ns: 0,
                host: u.start,
                count: u.count,
            },
            IdMapLine {
                uid: false,
                ns: 0,
                host: g.start,
                count: g.count,
            },
        ]),
        _ => {
            let mut missing = Vec::new();
            if u.is_none() {
                missing.push(uid_file);
            }
            if g.is_none() {
                missing.push(gid_file);
            }
            Err(format!(
                "cannot make a default map: {}; or give the maps with -m",
                missing_range(owner, &missing, uids, gids, 1)
            ))
        }
    }
}

/// `-s`: the caller's uid and gid, each mapped at the first id past the ranges that cover
/// 0 (as LXC's do_map_self counts).
pub fn add_self(maps: &mut Vec<IdMapLine>, uid: u32, gid: u32) {
    let next = |want_uid: bool| {
        let mut n = 0u64;
        for m in maps.iter().filter(|m| m.uid == want_uid) {
            if n >= m.ns && n < m.ns + m.count {
                n += m.count;
            }
        }
        n
    };
    let (nu, ng) = (next(true), next(false));
    maps.push(IdMapLine {
        uid: false,
        ns: ng,
        host: u64::from(gid),
        count: 1,
    });
    maps.push(IdMapLine {
        uid: true,
        ns: nu,
        host: u64::from(uid),
        count: 1,
    });
}

/// The command switches to uid and gid 0: both must be mapped.
pub fn check_root_mapped(maps: &[IdMapLine]) -> Result<(), String> {
    for (uid, what) in [(true, "uid"), (false, "gid")] {
        if !maps.iter().any(|m| m.uid == uid && m.ns == 0) {
            return Err(format!(
                "no map gives {what} 0 in the new namespace, and the command runs as root there; add one, e.g. -m b:0:100000:65536"
            ));
        }
    }
    Ok(())
}

/// The text of `/proc/PID/uid_map` (or gid_map) and newuidmap's arguments for one kind.
fn map_lines(maps: &[IdMapLine], uid: bool) -> Vec<[u64; 3]> {
    maps.iter()
        .filter(|m| m.uid == uid)
        .map(|m| [m.ns, m.host, m.count])
        .collect()
}

/// Who runs this: root, or the user /etc/passwd names for the real uid.
fn caller() -> Owner {
    let uid = nix::unistd::getuid().as_raw();
    if uid == 0 {
        return Owner {
            name: Some("root".into()),
            uid,
        };
    }
    let passwd = hako_config::read_bounded_text(Path::new("/etc/passwd"), 16 << 20).ok();
    Owner {
        name: passwd
            .as_deref()
            .and_then(|t| hako_store::userdirs::passwd_entry(t, uid))
            .map(|(n, _)| n),
        uid,
    }
}

fn subid_file(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

fn read_entries(path: &Path) -> Result<Vec<SubidEntry>, String> {
    let text = match hako_config::read_bounded_text(path, 4 << 20) {
        Ok(t) => t,
        Err(e) if e.is_not_found() => String::new(),
        Err(e) => {
            return Err(format!(
                "cannot read {}: {}; make it readable",
                path.display(),
                e.reason()
            ))
        }
    };
    parse_subid(&text, path).map_err(|e| e.to_string())
}

/// The maps to write: the options' own, or the default; `-s` added; root checked.
pub fn resolve_maps(o: &UsernsexecOptions) -> Result<Vec<IdMapLine>, String> {
    let mut maps = o.maps.clone();
    if maps.is_empty() {
        let (uf, gf) = (
            subid_file("HAKO_SUBUID_FILE", "/etc/subuid"),
            subid_file("HAKO_SUBGID_FILE", "/etc/subgid"),
        );
        maps = default_maps(
            &read_entries(&uf)?,
            &read_entries(&gf)?,
            &caller(),
            &uf,
            &gf,
        )?;
    }
    if o.map_self {
        add_self(
            &mut maps,
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        );
    }
    check_root_mapped(&maps)?;
    Ok(maps)
}

/// Writes the child's maps: directly as root, else through newuidmap/newgidmap.
fn write_maps(pid: Pid, maps: &[IdMapLine]) -> Result<(), String> {
    let root = nix::unistd::geteuid().is_root();
    for (uid, file) in [(true, "uid_map"), (false, "gid_map")] {
        let lines = map_lines(maps, uid);
        if root {
            let text: String = lines
                .iter()
                .map(|[n, h, c]| format!("{n} {h} {c}\n"))
                .collect();
            let path = format!("/proc/{pid}/{file}");
            std::fs::write(&path, text).map_err(|e| {
                format!("cannot write {path}: {e}; the kernel refused the map (overlapping lines?)")
            })?;
            continue;
        }
        hako_runtime::userns::rootless::newidmap(pid.as_raw(), uid, &lines, &caller().who())?;
    }
    Ok(())
}

/// Runs the command; returns its exit status (128+N for a signal), or an error before it
/// ran.
pub fn run(o: &UsernsexecOptions) -> Result<i32, String> {
    let maps = resolve_maps(o)?;
    let command = if o.command.is_empty() {
        vec!["/bin/sh".to_string()]
    } else {
        o.command.clone()
    };
    let argv: Vec<CString> = command
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| "the command contains a NUL byte".to_string())?;
    let (ready_r, ready_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let (go_r, go_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let child = match fork_child()? {
        ForkResult::Child => {
            drop(ready_r);
            drop(go_w);
            let code = child_main(ready_w, go_r, &argv);
            // SAFETY: end of the forked child (exec failed or it was told to stop).
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => child,
    };
    drop(ready_w);
    drop(go_r);
    let mut b = [0u8; 1];
    let ready = matches!(nix::unistd::read(ready_r.as_raw_fd(), &mut b), Ok(1));
    let mapped = if ready {
        write_maps(child, &maps)
    } else {
        Err("the new process could not make its user namespace".into())
    };
    let go = if mapped.is_ok() { b"1" } else { b"0" };
    let _ = nix::unistd::write(&go_w, go);
    drop(go_w);
    let status = loop {
        match waitpid(child, None) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(format!("cannot wait for the command: {e}")),
            Ok(s) => break s,
        }
    };
    mapped?;
    Ok(match status {
        WaitStatus::Exited(_, c) => c,
        WaitStatus::Signaled(_, s, _) => 128 + s as i32,
        _ => 1,
    })
}

fn fork_child() -> Result<ForkResult, String> {
    // SAFETY: the CLI is single-threaded (no logging or other threads); the child only
    // makes system calls, writes an error line and execs or _exits.
    unsafe { nix::unistd::fork() }.map_err(|e| format!("cannot fork: {e}"))
}

/// The child: new user and mount namespaces, wait for the maps, become root, exec.
fn child_main(ready: OwnedFd, go: OwnedFd, argv: &[CString]) -> i32 {
    use nix::sched::CloneFlags;
    let fail = |what: &str, e: Errno| {
        crate::cli::sys::print_err(&format!("usernsexec: {what}: {e}\n"));
        1
    };
    if let Err(e) = nix::sched::unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS) {
        let hint = if e == Errno::EPERM || e == Errno::ENOSPC {
            " (is kernel.unprivileged_userns_clone or user.max_user_namespaces 0?)"
        } else {
            ""
        };
        return fail(&format!("cannot make a user namespace{hint}"), e);
    }
    if nix::unistd::write(&ready, b"1").is_err() {
        return 1;
    }
    let mut b = [0u8; 1];
    if !matches!(nix::unistd::read(go.as_raw_fd(), &mut b), Ok(1)) || b[0] != b'1' {
        return 1; // the parent reports why
    }
    // no supplementary groups (refused where setgroups is denied: then there are none)
    match nix::unistd::setgroups(&[]) {
        Ok(()) | Err(Errno::EPERM) => {}
        Err(e) => return fail("cannot drop the supplementary groups", e),
    }
    let zero_g = nix::unistd::Gid::from_raw(0);
    let zero_u = nix::unistd::Uid::from_raw(0);
    if let Err(e) = nix::unistd::setresgid(zero_g, zero_g, zero_g) {
        return fail("cannot become gid 0 in the namespace", e);
    }
    if let Err(e) = nix::unistd::setresuid(zero_u, zero_u, zero_u) {
        return fail("cannot become uid 0 in the namespace", e);
    }
    // mounts made inside stay inside
    if let Err(e) = nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_SLAVE | nix::mount::MsFlags::MS_REC,
        None::<&str>,
    ) {
        return fail("cannot make / a dependent mount", e);
    }
    let e = nix::unistd::execvp(&argv[0], argv).unwrap_err();
    crate::cli::sys::print_err(&format!(
        "usernsexec: cannot run \"{}\": {e}\n",
        argv[0].to_string_lossy()
    ));
    if e == Errno::ENOENT {
        127
    } else {
        126
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(uid: bool, ns: u64, host: u64, count: u64) -> IdMapLine {
        IdMapLine {
            uid,
            ns,
            host,
            count,
        }
    }

    #[test]
    fn maps_parse_like_lxcs() {
        assert_eq!(
            parse_map("u:0:100000:65536").unwrap(),
            vec![l(true, 0, 100000, 65536)]
        );
        assert_eq!(
            parse_map("b:1:190000:1").unwrap(),
            vec![l(true, 1, 190000, 1), l(false, 1, 190000, 1)]
        );
        for (bad, why) in [
            ("x:0:1:1", "kind \"x\""),
            ("u:0:1", "four fields"),
            ("u:a:1:1", "NSID \"a\""),
            ("u:0:-1:1", "HOSTID"),
            ("g:0:1:0", "COUNT is 0"),
            ("u:0:4294967290:10", "past"),
        ] {
            let e = parse_map(bad).unwrap_err();
            assert!(
                e.contains(why) && e.contains("b:0:100000:65536"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn default_is_the_first_entries_at_zero() {
        let uids = parse_subid(
            "root:1048576:268435456\nalice:100000:65536\nalice:300000:65536\n",
            Path::new("/etc/subuid"),
        )
        .unwrap();
        let gids = parse_subid("1000:200000:1000\n", Path::new("/etc/subgid")).unwrap();
        let alice = Owner {
            name: Some("alice".into()),
            uid: 1000,
        };
        let m = default_maps(
            &uids,
            &gids,
            &alice,
            Path::new("/etc/subuid"),
            Path::new("/etc/subgid"),
        )
        .unwrap();
        assert_eq!(
            m,
            vec![l(true, 0, 100000, 65536), l(false, 0, 200000, 1000)]
        );
        let bob = Owner {
            name: Some("bob".into()),
            uid: 1001,
        };
        let e = default_maps(
            &uids,
            &gids,
            &bob,
            Path::new("/etc/subuid"),
            Path::new("/etc/subgid"),
        )
        .unwrap_err();
        assert!(
            e.contains("user \"bob\" (uid 1001)")
                && e.contains("/etc/subuid and /etc/subgid")
                && e.contains(
                    "usermod --add-subuids 201000-266535 --add-subgids 201000-266535 bob"
                )
                && e.contains("-m"),
            "{e}"
        );
    }

    #[test]
    fn map_self_goes_past_the_range_at_zero() {
        let mut m = vec![l(true, 0, 100000, 65536), l(false, 0, 100000, 65536)];
        add_self(&mut m, 1000, 1001);
        assert_eq!(m[2], l(false, 65536, 1001, 1));
        assert_eq!(m[3], l(true, 65536, 1000, 1));
        check_root_mapped(&m).unwrap();
        let e = check_root_mapped(&[l(true, 0, 1, 1), l(false, 1, 1, 1)]).unwrap_err();
        assert!(e.contains("gid 0"), "{e}");
    }
}
