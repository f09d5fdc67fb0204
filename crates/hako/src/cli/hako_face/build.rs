//! From a parsed verb to an [`Action`]: the checks clap can't express, the names and values
//! parsed into the facade's options.

use super::commands::{Cmd, ImageCmd};
use super::file::build_file;
use super::network::build_network;
use super::{defines, id_mapping, parse_id, resolve_name, split_name, usage, NameArg};
use crate::cli::action::*;
use crate::cli::lxc_face::split_groups;
use crate::cli::values;
use crate::{AttachOptions, CreateOptions, EnvPolicy, ExecuteOptions, StartOptions, StopOptions};

pub(super) fn build(cmd: Cmd, quiet: bool) -> Result<Action, EarlyExit> {
    Ok(match cmd {
        Cmd::Create {
            name,
            template,
            config,
            bdev,
            privileged,
            unprivileged,
            template_args,
        } => {
            let name = resolve_name(name, "create")?;
            let Some(template) = template else {
                return Err(usage(format!(
                    "create needs a template; run \"hako create {name} -t busybox\", -t none for a config-only container, or -t /path/to/lxc-template-script"
                )));
            };
            Action::Create {
                name,
                opts: CreateOptions {
                    template: Some(template),
                    template_args,
                    config_file: config,
                    backing: bdev,
                    quiet,
                    ids: id_mapping(privileged, unprivileged),
                },
            }
        }
        Cmd::Destroy {
            name,
            force,
            snapshots,
        } => {
            let name = resolve_name(name, "destroy")?;
            Action::Destroy {
                name,
                force,
                snapshots,
            }
        }
        Cmd::Copy {
            name,
            new,
            newname,
            snapshot,
            ephemeral,
            keep_data,
            foreground,
            backing,
            keep_name,
            keep_mac,
            hook_args,
        } => {
            let src = resolve_name(name, "copy")?;
            let new = match (new, newname) {
                (Some(a), Some(b)) if a != b => {
                    return Err(usage(format!(
                        "two new names given (\"{a}\" and -N \"{b}\"); give one"
                    )))
                }
                (Some(a), _) | (None, Some(a)) => Some(a),
                (None, None) if ephemeral => None,
                (None, None) => {
                    return Err(usage(format!(
                        "no name for the copy; run \"hako copy {src} NEW\" (only -e makes one up)"
                    )))
                }
            };
            Action::Copy {
                opts: crate::storage::CopyOptions {
                    src,
                    new,
                    snapshot,
                    ephemeral,
                    keep_data,
                    foreground,
                    backing,
                    keep_name,
                    keep_mac,
                    quiet,
                    hook_args,
                },
            }
        }
        Cmd::Snapshot {
            name,
            list,
            show_comments,
            comment,
            restore,
            newname,
            destroy,
            format,
        } => {
            use crate::storage::SnapshotRequest;
            let name = resolve_name(name, "snapshot")?;
            let req = if list {
                SnapshotRequest::List {
                    comments: show_comments,
                }
            } else if let Some(snap) = restore {
                SnapshotRequest::Restore { snap, new: newname }
            } else if let Some(snap) = destroy {
                SnapshotRequest::Destroy { snap }
            } else {
                SnapshotRequest::Create {
                    comment_file: comment,
                }
            };
            Action::Snapshot {
                name,
                req,
                format: format.into(),
            }
        }
        Cmd::Image { cmd } => match cmd {
            ImageCmd::Ls { format } => Action::Image {
                req: crate::storage::ImageRequest::Ls,
                format: format.into(),
            },
            ImageCmd::Rm { name } => Action::Image {
                req: crate::storage::ImageRequest::Rm { name },
                format: Format::Text,
            },
        },
        Cmd::Start {
            name,
            daemon: _,
            foreground,
            rcfile,
            define,
            console,
            console_log,
            pidfile,
            close_all_fds,
            command,
        } => Action::Start {
            name: resolve_name(name, "start")?,
            opts: StartOptions {
                foreground,
                config_file: rcfile,
                overrides: defines(define)?,
                command,
                console_file: console,
                console_log,
                pidfile,
                close_all_fds,
            },
        },
        Cmd::Stop {
            name,
            kill,
            timeout,
            reboot,
            nowait,
            nokill,
            nolock,
        } => {
            let name = resolve_name(name, "stop")?;
            let timeout = timeout
                .map(|t| values::parse_stop_timeout(&t))
                .transpose()
                .map_err(usage)?;
            if kill && nokill {
                return Err(usage("-k/--kill can't be used with --nokill"));
            }
            if kill && reboot {
                return Err(usage("-k/--kill can't be used with -r/--reboot"));
            }
            if kill && timeout.is_some_and(|t| t != 0) {
                return Err(usage("-k/--kill kills at once and takes no -t timeout"));
            }
            if nolock && !kill {
                return Err(usage("--nolock may only be used with -k"));
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
        Cmd::Attach {
            name,
            elevated,
            arch,
            namespaces,
            remount_sys_proc,
            clear_env,
            keep_env: _,
            keep_var,
            set_var,
            pty_log,
            uid,
            gid,
            command,
        } => {
            let name = resolve_name(name, "attach")?;
            let elevated = match &elevated {
                Some(e) => values::parse_elevated_privileges(e.as_deref()).map_err(usage)?,
                None => Default::default(),
            };
            let namespaces = match &namespaces {
                Some(v) => Some(values::parse_attach_namespaces(v).map_err(usage)?),
                None => None,
            };
            if let Some(a) = arch {
                values::check_attach_arch(&a).map_err(usage)?;
            }
            let set_env = set_var
                .iter()
                .map(|v| values::parse_env_var(v))
                .collect::<Result<Vec<_>, _>>()
                .map_err(usage)?;
            Action::Attach {
                name,
                opts: AttachOptions {
                    command,
                    env_policy: if clear_env {
                        EnvPolicy::Clear
                    } else {
                        EnvPolicy::Keep
                    },
                    set_env,
                    keep_vars: keep_var,
                    uid: parse_id(uid, "uid")?,
                    gid: parse_id(gid, "gid")?,
                    cwd: None,
                    elevated,
                    pty_log,
                    namespaces,
                    remount_sys_proc,
                },
            }
        }
        Cmd::Execute {
            name,
            rcfile,
            define,
            uid,
            gid,
            command,
        } => Action::Execute {
            name: resolve_name(name, "execute")?,
            opts: ExecuteOptions {
                command,
                config_file: rcfile,
                overrides: defines(define)?,
                uid: parse_id(uid, "uid")?,
                gid: parse_id(gid, "gid")?,
            },
        },
        Cmd::Freeze { name } => Action::Freeze {
            name: resolve_name(name, "freeze")?,
        },
        Cmd::Unfreeze { name } => Action::Unfreeze {
            name: resolve_name(name, "unfreeze")?,
        },
        Cmd::Cgroup { name_opt, operands } => {
            let (name, rest) = split_name(name_opt, operands, "cgroup", "KEY [VALUE]")?;
            let mut it = rest.into_iter();
            let key = it
                .next()
                .ok_or_else(|| usage("missing cgroup KEY; run \"hako cgroup NAME KEY [VALUE]\""))?;
            let value = it.next();
            if let Some(extra) = it.next() {
                return Err(usage(format!(
                    "unexpected argument \"{extra}\"; run \"hako cgroup NAME KEY [VALUE]\""
                )));
            }
            Action::Cgroup { name, key, value }
        }
        Cmd::Info {
            name,
            state,
            pid,
            ips,
            stats,
            no_humanize,
            config,
            format,
        } => Action::Info {
            name: resolve_name(name, "info")?,
            req: InfoRequest {
                state,
                pid,
                ips,
                stats,
                humanize: !no_humanize,
                keys: config,
                format: format.into(),
            },
        },
        Cmd::Ls {
            line,
            fancy,
            fancy_format,
            active,
            running,
            frozen,
            stopped,
            defined,
            groups,
            filter,
            format,
            regex,
        } => {
            let fancy = match fancy_format {
                Some(f) => Some(Column::parse_list(&f).map_err(usage)?),
                None if fancy => Some(Column::DEFAULT.to_vec()),
                None => None,
            };
            if filter.is_some() && regex.is_some() {
                return Err(usage(
                    "give the name filter once: either --filter REGEX or a REGEX operand",
                ));
            }
            Action::Ls(LsRequest {
                one_per_line: line,
                fancy,
                running,
                stopped,
                frozen,
                active,
                defined,
                groups: groups.as_deref().map(split_groups).unwrap_or_default(),
                filter: filter.or(regex),
                format: format.into(),
            })
        }
        Cmd::Monitor { names, format } => {
            for n in &names {
                hako_store::validate_name(n).map_err(|e| usage(e.to_string()))?;
            }
            Action::Monitor(MonitorRequest {
                names,
                regex: None,
                json: matches!(Format::from(format), Format::Json),
                quit: false,
            })
        }
        Cmd::Top {
            delay,
            batch,
            sort,
            reverse,
            iterations,
            format,
        } => {
            let mut r = crate::cli::lxc_face::top_request(
                delay.as_deref(),
                batch,
                sort.as_deref(),
                reverse,
            )
            .map_err(usage)?;
            r.json = matches!(Format::from(format), Format::Json);
            r.iterations = iterations;
            Action::Top(r)
        }
        Cmd::Wait {
            name,
            state,
            timeout,
        } => Action::Wait {
            name: resolve_name(name, "wait")?,
            states: values::parse_states(&state).map_err(usage)?,
            timeout: match timeout {
                Some(t) => values::parse_wait_timeout(&t).map_err(usage)?,
                None => None,
            },
        },
        Cmd::Console { name, tty, escape } => Action::Console {
            name: resolve_name(name, "console")?,
            tty: match tty {
                Some(t) => values::parse_u32(&t, "tty number").map_err(usage)?,
                None => 0,
            },
            escape: match escape {
                Some(e) => values::parse_escape(&e).map_err(usage)?,
                None => b'a',
            },
        },
        Cmd::Config {
            name_opt,
            operands,
            upgrade,
        } => {
            // `hako config upgrade FILE` (a key always starts with "lxc.")
            if let (None, [verb, file]) = (&name_opt, operands.as_slice()) {
                if verb == "upgrade" && !file.starts_with("lxc.") && !upgrade {
                    return Ok(Action::ConfigUpgradeFile { path: file.into() });
                }
            }
            if upgrade {
                let name = match (name_opt, operands.as_slice()) {
                    (Some(n), []) => n,
                    (None, [n]) => n.clone(),
                    _ => return Err(usage("run \"hako config NAME --upgrade\"")),
                };
                return Ok(Action::ConfigUpgrade { name });
            }
            let (name, rest) = split_name(name_opt, operands, "config", "KEY")?;
            match rest.as_slice() {
                [key] => Action::ConfigItem {
                    name,
                    key: key.clone(),
                },
                _ => return Err(usage("run \"hako config NAME KEY\" (one key)")),
            }
        }
        Cmd::Checkconfig { name } => Action::CheckConfig {
            name: match (name.name, name.name_opt) {
                (None, None) => None,
                (a, b) => Some(resolve_name(
                    NameArg {
                        name: a,
                        name_opt: b,
                    },
                    "checkconfig",
                )?),
            },
        },
        Cmd::Network { cmd } => Action::Network(build_network(cmd)?),
        Cmd::File { cmd } => build_file(cmd)?,
        Cmd::Autostart {
            all,
            ignore_auto,
            groups,
            list,
            shutdown,
            kill,
            reboot,
            timeout,
        } => Action::Autostart(crate::autostart::AutostartOptions {
            action: crate::cli::lxc_face::autostart_action(shutdown, kill, reboot)
                .map_err(usage)?,
            all,
            ignore_auto,
            groups: crate::autostart::parse_groups(&groups),
            list,
            timeout: timeout
                .map(|t| values::parse_stop_timeout(&t))
                .transpose()
                .map_err(usage)?,
        }),
        Cmd::Version => Action::Version,
        Cmd::CompatLinks { dir } => Action::CompatLinks { dir },
        Cmd::Usernsexec {
            map,
            map_self,
            command,
        } => {
            let mut maps = Vec::new();
            for m in &map {
                maps.extend(crate::usernsexec::parse_map(m).map_err(usage)?);
            }
            Action::Usernsexec(crate::usernsexec::UsernsexecOptions {
                maps,
                map_self,
                command,
            })
        }
        Cmd::Device {
            op,
            name,
            src,
            dest,
            persist,
            readonly,
        } => {
            use crate::device::{DeviceOp, DeviceRequest};
            hako_store::validate_name(&name).map_err(|e| usage(e.to_string()))?;
            let op = match op.as_str() {
                "add" => DeviceOp::Add {
                    src,
                    dest,
                    readonly,
                },
                "rm" | "del" | "remove" if readonly => {
                    return Err(usage("--readonly goes with add, not with rm".to_string()))
                }
                "rm" | "del" | "remove" => DeviceOp::Remove {
                    dev: src,
                    host_name: dest,
                },
                _ => {
                    return Err(usage(format!(
                        "unknown device operation \"{op}\": use add or rm"
                    )))
                }
            };
            Action::Device {
                name,
                req: DeviceRequest { op, persist },
            }
        }
        Cmd::Unshare {
            namespaces,
            user,
            hostname,
            ifname,
            daemon,
            remount,
            command,
        } => {
            let o = crate::unshare::UnshareOptions {
                namespaces,
                user,
                hostname,
                ifnames: ifname,
                daemon,
                remount,
                command,
            };
            crate::unshare::check(&o).map_err(usage)?;
            Action::Unshare(o)
        }
    })
}
