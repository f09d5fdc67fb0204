//! From an `lxc-*` tool's parsed options to an [`Action`]: LXC's rules between the options,
//! the values parsed into the facade's options, and what hako does not support.

use std::path::PathBuf;

use super::{autostart_action, defines, not_supported, split_groups, uid_gid};
use crate::cli::action::*;
use crate::cli::getopt::Matches;
use crate::cli::values;
use crate::{AttachOptions, CreateOptions, EnvPolicy, ExecuteOptions, StartOptions, StopOptions};

pub(super) fn build(
    tool: Tool,
    name: String,
    m: &Matches,
    operands: Vec<String>,
) -> Result<Action, EarlyExit> {
    let face = Face::Lxc(tool);
    let usage = |msg: String| EarlyExit::usage_error(face, msg);
    let no_operands = |what: &str| -> Result<(), EarlyExit> {
        if operands.is_empty() {
            Ok(())
        } else {
            Err(usage(format!(
                "unexpected argument \"{}\" after the container name; {what}",
                operands[0]
            )))
        }
    };
    Ok(match tool {
        Tool::Create => {
            if m.has("bdevopt") {
                return Err(not_supported(
                    tool,
                    "--lvname/--vgname/--thinpool/--fstype/--fssize/--zfsroot/--rbdname/--rbdpool",
                    "these are options of the lvm, loop, zfs and rbd backing stores, which hako does not have; use -B dir",
                ));
            }
            if m.has("dir") {
                return Err(not_supported(
                    tool,
                    "--dir",
                    "the rootfs always lives in LXCPATH/NAME/rootfs; drop --dir",
                ));
            }
            let Some(template) = m.last("template") else {
                return Err(usage(
                    "A template must be specified; use -t busybox, -t /path/to/template-script, or -t none for a container without a rootfs".into(),
                ));
            };
            Action::Create {
                name,
                opts: CreateOptions {
                    template: Some(template.to_string()),
                    template_args: operands,
                    config_file: m.last("config").map(PathBuf::from),
                    backing: m.last("bdev").map(str::to_string),
                    quiet: m.has("quiet"),
                    // LXC's semantics: privileged unless the config maps ids
                    ids: hako_store::IdMapping::AsConfigured,
                },
            }
        }
        Tool::Destroy => {
            no_operands("lxc-destroy takes only the name")?;
            Action::Destroy {
                name,
                force: m.has("force"),
                snapshots: m.has("snapshots"),
            }
        }
        Tool::Copy => build_copy(tool, name, m, operands)?,
        Tool::Snapshot => build_snapshot(tool, name, m, operands)?,
        Tool::Start => {
            if m.has("share") {
                return Err(not_supported(
                    tool,
                    "--share-net/--share-ipc/--share-uts/--share-pid",
                    "namespaces cannot be shared between containers yet",
                ));
            }
            // -d and -F: the last one given wins, as in LXC.
            let foreground = m
                .opts
                .iter()
                .rev()
                .find(|(id, _)| *id == "daemon" || *id == "foreground")
                .is_some_and(|(id, _)| *id == "foreground");
            Action::Start {
                name,
                opts: StartOptions {
                    foreground,
                    config_file: m.last("rcfile").map(PathBuf::from),
                    overrides: defines(face, m)?,
                    command: operands,
                    console_file: m.last("console").map(PathBuf::from),
                    console_log: m.last("console-log").map(PathBuf::from),
                    pidfile: m.last("pidfile").map(PathBuf::from),
                    close_all_fds: m.has("close-all-fds"),
                },
            }
        }
        Tool::Stop => {
            no_operands("lxc-stop takes only the name")?;
            let kill = m.has("kill");
            let nokill = m.has("nokill");
            let reboot = m.has("reboot");
            let nowait = m.has("nowait");
            let timeout = m
                .last("timeout")
                .map(values::parse_stop_timeout)
                .transpose()
                .map_err(usage)?;
            if kill && nokill {
                return Err(usage("-k can't be used with --nokill".into()));
            }
            if kill && reboot {
                return Err(usage("-k can't be used with -r".into()));
            }
            if kill && timeout.is_some_and(|t| t != 0) {
                return Err(usage("-k doesn't allow timeouts".into()));
            }
            if m.has("nolock") && !kill {
                return Err(usage("--nolock may only be used with -k".into()));
            }
            Action::Stop {
                name,
                opts: StopOptions {
                    timeout,
                    kill,
                    reboot,
                    nowait,
                    nokill,
                },
                extras: StopExtras { nokill },
            }
        }
        Tool::Attach => {
            // repeated -e: the union, as LXC ORs its flags
            let mut elevated = hako_runtime::attach::Elevated::default();
            for e in m.opts.iter().filter(|(id, _)| *id == "elevated") {
                let x = values::parse_elevated_privileges(e.1.as_deref()).map_err(usage)?;
                elevated.cap |= x.cap;
                elevated.cgroup |= x.cgroup;
                elevated.lsm |= x.lsm;
            }
            let namespaces = match m.last("namespaces") {
                Some(v) => Some(values::parse_attach_namespaces(v).map_err(usage)?),
                None => None,
            };
            if let Some(ctx) = m.last("context") {
                return Err(usage(values::selinux_context_message(ctx)));
            }
            if let Some(a) = m.last("arch") {
                values::check_attach_arch(a).map_err(usage)?;
            }
            let env_policy = match m
                .opts
                .iter()
                .rev()
                .find(|(id, _)| *id == "clear-env" || *id == "keep-env")
            {
                Some(("clear-env", _)) => EnvPolicy::Clear,
                _ => EnvPolicy::Keep,
            };
            let set_env = m
                .all("set-var")
                .into_iter()
                .map(values::parse_env_var)
                .collect::<Result<Vec<_>, _>>()
                .map_err(usage)?;
            let (uid, gid) = uid_gid(face, m)?;
            Action::Attach {
                name,
                opts: AttachOptions {
                    command: operands,
                    env_policy,
                    set_env,
                    keep_vars: m.all("keep-var").into_iter().map(str::to_string).collect(),
                    uid,
                    gid,
                    cwd: None,
                    elevated,
                    pty_log: m.last("pty-log").map(PathBuf::from),
                    namespaces,
                    remount_sys_proc: m.has("remount"),
                },
            }
        }
        Tool::Execute => {
            if m.has("share") {
                return Err(not_supported(
                    tool,
                    "--share-net/--share-ipc/--share-uts/--share-pid",
                    "namespaces cannot be shared between containers yet",
                ));
            }
            if m.has("daemon") {
                return Err(not_supported(tool, "-d/--daemon", "an application container runs in the foreground; use lxc-start -d with a command instead"));
            }
            let (uid, gid) = uid_gid(face, m)?;
            Action::Execute {
                name,
                opts: ExecuteOptions {
                    command: operands,
                    config_file: m.last("rcfile").map(PathBuf::from),
                    overrides: defines(face, m)?,
                    uid,
                    gid,
                },
            }
        }
        Tool::Freeze => {
            no_operands("lxc-freeze takes only the name")?;
            Action::Freeze { name }
        }
        Tool::Unfreeze => {
            no_operands("lxc-unfreeze takes only the name")?;
            Action::Unfreeze { name }
        }
        Tool::Cgroup => {
            let mut it = operands.into_iter();
            let Some(key) = it.next() else {
                return Err(usage(
                    "Missing state object; give a cgroup file such as memory.limit_in_bytes".into(),
                ));
            };
            let value = it.next();
            if let Some(extra) = it.next() {
                return Err(usage(format!(
                    "unexpected argument \"{extra}\"; lxc-cgroup takes NAME KEY [VALUE]"
                )));
            }
            Action::Cgroup { name, key, value }
        }
        Tool::Info => {
            no_operands("lxc-info takes only the name")?;
            Action::Info {
                name,
                req: InfoRequest {
                    state: m.has("state"),
                    pid: m.has("pid"),
                    ips: m.has("ips"),
                    stats: m.has("stats"),
                    humanize: !m.has("no-humanize"),
                    keys: m.all("config").into_iter().map(str::to_string).collect(),
                    format: Format::Text,
                },
            }
        }
        Tool::Ls => {
            if m.has("nesting") {
                return Err(not_supported(
                    tool,
                    "--nesting",
                    "hako does not list containers nested inside containers; drop --nesting",
                ));
            }
            // LXC uses -F only together with -f.
            let fancy = if m.has("fancy") {
                Some(match m.last("fancy-format") {
                    Some(f) => Column::parse_list(f).map_err(usage)?,
                    None => Column::DEFAULT.to_vec(),
                })
            } else {
                None
            };
            let filter = match (m.last("filter"), operands.as_slice()) {
                (Some(f), _) => Some(f.to_string()),
                (None, [one]) => Some(one.clone()),
                (None, []) => None,
                (None, [_, extra, ..]) => {
                    return Err(usage(format!(
                        "unexpected argument \"{extra}\"; lxc-ls takes at most one REGEX"
                    )))
                }
            };
            Action::Ls(LsRequest {
                one_per_line: m.has("line"),
                fancy,
                running: m.has("running"),
                stopped: m.has("stopped"),
                frozen: m.has("frozen"),
                active: m.has("active"),
                defined: m.has("defined"),
                groups: m.last("groups").map(split_groups).unwrap_or_default(),
                filter,
                format: Format::Text,
            })
        }
        Tool::Wait => {
            no_operands("lxc-wait takes only the name")?;
            let Some(states) = m.last("state") else {
                return Err(usage(
                    "missing state option to wait for; pass -s, for example -s 'RUNNING|FROZEN'"
                        .into(),
                ));
            };
            let states = values::parse_states(states).map_err(usage)?;
            let timeout = match m.last("timeout") {
                Some(t) => values::parse_wait_timeout(t).map_err(usage)?,
                None => None,
            };
            Action::Wait {
                name,
                states,
                timeout,
            }
        }
        Tool::Console => {
            no_operands("lxc-console takes only the name")?;
            let tty = m
                .last("tty")
                .map(|t| values::parse_u32(t, "tty number"))
                .transpose()
                .map_err(usage)?
                .unwrap_or(0);
            let escape = m
                .last("escape")
                .map(values::parse_escape)
                .transpose()
                .map_err(usage)?
                .unwrap_or(b'a');
            Action::Console { name, tty, escape }
        }
        Tool::Autostart => {
            if let Some(extra) = operands.first() {
                return Err(usage(format!(
                    "unexpected argument \"{extra}\"; lxc-autostart takes only options (select containers with -g GROUPS or -a)"
                )));
            }
            let action = autostart_action(m.has("shutdown"), m.has("kill"), m.has("reboot"))
                .map_err(|e| usage(e.into()))?;
            let timeout = m
                .last("timeout")
                .map(values::parse_stop_timeout)
                .transpose()
                .map_err(usage)?;
            Action::Autostart(crate::autostart::AutostartOptions {
                action,
                all: m.has("all"),
                ignore_auto: m.has("ignore-auto"),
                groups: crate::autostart::parse_groups(
                    &m.all("groups")
                        .into_iter()
                        .map(str::to_string)
                        .collect::<Vec<_>>(),
                ),
                list: m.has("list"),
                timeout,
            })
        }
        Tool::Monitor => Action::Monitor(MonitorRequest {
            names: Vec::new(),
            regex: (!name.is_empty()).then(|| format!("^({name})$")),
            json: false,
            quit: m.has("quit"),
        }),
        Tool::Top => {
            no_operands("lxc-top takes no container names")?;
            top_request(
                m.last("delay"),
                m.has("batch"),
                m.last("sort"),
                m.has("reverse"),
            )
            .map(Action::Top)
            .map_err(usage)?
        }
        Tool::Unshare => {
            let o = crate::unshare::UnshareOptions {
                namespaces: m.all("namespaces").into_iter().map(String::from).collect(),
                user: m
                    .last("user")
                    .map(|u| values::parse_u32(u, "user id"))
                    .transpose()
                    .map_err(usage)?,
                hostname: m.last("hostname").map(String::from),
                ifnames: m.all("ifname").into_iter().map(String::from).collect(),
                daemon: m.has("daemon"),
                remount: m.has("remount"),
                command: operands,
            };
            crate::unshare::check(&o).map_err(usage)?;
            Action::Unshare(o)
        }
        Tool::Device => {
            use crate::device::{DeviceOp, DeviceRequest};
            let mut it = operands.into_iter();
            let (Some(cmd), Some(dev)) = (it.next(), it.next()) else {
                return Err(usage(
                    "Error: no command given (Please see --help output); use lxc-device -n NAME add|del DEV [NAME]".into(),
                ));
            };
            let dest = it.next();
            if let Some(extra) = it.next() {
                return Err(usage(format!(
                    "unexpected argument \"{extra}\"; lxc-device takes add|del DEV [NAME]"
                )));
            }
            let op = match cmd.as_str() {
                "add" => DeviceOp::Add {
                    src: dev,
                    dest,
                    readonly: false,
                },
                "del" => DeviceOp::Remove {
                    dev,
                    host_name: dest,
                },
                other => {
                    return Err(usage(format!(
                        "Error: Please use add or del (Please see --help output), not \"{other}\""
                    )))
                }
            };
            Action::Device {
                name,
                req: DeviceRequest { op, persist: false },
            }
        }
        Tool::Checkconfig | Tool::Config | Tool::Usernsexec | Tool::UpdateConfig => {
            unreachable!("handled in parse()")
        }
    })
}

/// `lxc-copy`
fn build_copy(
    tool: Tool,
    name: String,
    m: &Matches,
    operands: Vec<String>,
) -> Result<Action, EarlyExit> {
    let face = Face::Lxc(tool);
    for (id, what, why) in [
        (
            "newpath",
            "-p/--newpath",
            "the copy lives in the same lxcpath; use -P to pick the lxcpath of both",
        ),
        (
            "allowrunning",
            "-a/--allowrunning",
            "a copy of a running container is not consistent; stop it first",
        ),
        (
            "rename",
            "-R/--rename",
            "rename by copying and destroying the original",
        ),
        (
            "tmpfs",
            "-t/--tmpfs",
            "ephemeral copies are overlay clones on disk",
        ),
        (
            "mount",
            "-m/--mount",
            "add lxc.mount.entry lines to the copy's config instead",
        ),
        (
            "fssize",
            "-L/--fssize",
            "it sizes lvm and loop backing stores, which hako does not have",
        ),
    ] {
        if m.has(id) {
            return Err(not_supported(tool, what, why));
        }
    }
    let ephemeral = m.has("ephemeral");
    let new = m.last("newname").map(str::to_string);
    if new.is_none() && !ephemeral {
        return Err(EarlyExit::usage_error(
            face,
            "no new name given; pass -N NEWNAME (only -e makes one up)",
        ));
    }
    for (id, what) in [("keepdata", "-D"), ("foreground", "-F"), ("daemon", "-d")] {
        if m.has(id) && !ephemeral {
            return Err(EarlyExit::usage_error(
                face,
                format!("{what} goes only with -e (an ephemeral copy)"),
            ));
        }
    }
    let foreground = m
        .opts
        .iter()
        .rev()
        .find(|(id, _)| *id == "foreground" || *id == "daemon")
        .map(|(id, _)| *id == "foreground")
        .unwrap_or(false);
    Ok(Action::Copy {
        opts: crate::storage::CopyOptions {
            src: name,
            new,
            snapshot: m.has("snapshot"),
            ephemeral,
            keep_data: m.has("keepdata"),
            foreground,
            backing: m.last("bdev").map(str::to_string),
            keep_name: m.has("keepname"),
            keep_mac: m.has("keepmac"),
            quiet: m.has("quiet"),
            hook_args: operands,
        },
    })
}

/// `lxc-snapshot`
fn build_snapshot(
    tool: Tool,
    name: String,
    m: &Matches,
    operands: Vec<String>,
) -> Result<Action, EarlyExit> {
    use crate::storage::SnapshotRequest;
    let face = Face::Lxc(tool);
    if !operands.is_empty() {
        return Err(EarlyExit::usage_error(
            face,
            format!(
                "unexpected argument \"{}\" after the container name",
                operands[0]
            ),
        ));
    }
    let asked = [m.has("list"), m.has("restore"), m.has("destroy")]
        .iter()
        .filter(|x| **x)
        .count();
    if asked > 1 {
        return Err(EarlyExit::usage_error(face, "give one of -L, -r and -d"));
    }
    if m.has("newname") && !m.has("restore") {
        return Err(EarlyExit::usage_error(face, "-N goes only with -r SNAP"));
    }
    let req = if m.has("list") {
        SnapshotRequest::List {
            comments: m.has("showcomments"),
        }
    } else if let Some(snap) = m.last("restore") {
        SnapshotRequest::Restore {
            snap: snap.to_string(),
            new: m.last("newname").map(str::to_string),
        }
    } else if let Some(snap) = m.last("destroy") {
        SnapshotRequest::Destroy {
            snap: snap.to_string(),
        }
    } else {
        SnapshotRequest::Create {
            comment_file: m.last("comment").map(PathBuf::from),
        }
    };
    Ok(Action::Snapshot {
        name,
        req,
        format: Format::Text,
    })
}

/// `-d`, `-b`, `-s`, `-r` of lxc-top (and hako top).
pub(crate) fn top_request(
    delay: Option<&str>,
    batch: bool,
    sort: Option<&str>,
    reverse: bool,
) -> Result<TopRequest, String> {
    let mut r = TopRequest {
        batch,
        reverse,
        ..TopRequest::default()
    };
    if let Some(d) = delay {
        r.delay = crate::cli::run::parse_top_delay(d)?;
    }
    if let Some(s) = sort {
        r.sort = match s {
            "n" | "c" | "b" | "m" | "s" | "k" => s.chars().next().unwrap_or('n'),
            _ => {
                return Err(format!(
                    "invalid sort key \"{s}\": use n (name), c (CPU), b (block I/O), m (memory), s (memory + swap) or k (kernel memory)"
                ))
            }
        };
    }
    Ok(r)
}
