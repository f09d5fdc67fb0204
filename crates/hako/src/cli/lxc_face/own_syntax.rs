//! The `lxc-*` tools with an argument syntax of their own (no getopt table): `lxc-config`,
//! `lxc-usernsexec` and `lxc-update-config`.

use crate::cli::action::*;

const CONFIG_USAGE: &str = "Usage: lxc-config -l: list all available configuration items\n       lxc-config item: print configuration item\n";

/// `lxc-config -l` / `lxc-config ITEM`.
pub(super) fn parse_config(args: &[String]) -> Parsed {
    let face = Face::Lxc(Tool::Config);
    let request = match args {
        [] => {
            return Err(EarlyExit {
                stdout: CONFIG_USAGE.into(),
                stderr: String::new(),
                code: 0,
            })
        }
        [flag] if flag == "-h" || flag == "--help" => {
            return Err(EarlyExit {
                stdout: CONFIG_USAGE.into(),
                stderr: String::new(),
                code: 0,
            })
        }
        [flag, ..] if flag == "-l" => SystemConfigRequest::List,
        [item] => SystemConfigRequest::Item(item.clone()),
        [_, extra, ..] => {
            return Err(EarlyExit::usage_error(
                face,
                format!("unexpected argument \"{extra}\"; lxc-config takes one item"),
            ))
        }
    };
    Ok(Invocation {
        face,
        globals: Globals::default(),
        action: Action::SystemConfig(request),
    })
}

/// `lxc-usernsexec [-m MAP]... [-s] [-h] [--] [COMMAND...]`: LXC's short options
/// (`-mMAP` too); options end at `--` or the first word that is not one.
pub(super) fn parse_usernsexec(args: &[String]) -> Parsed {
    let face = Face::Lxc(Tool::Usernsexec);
    let mut o = crate::usernsexec::UsernsexecOptions::default();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        match a {
            "--" => break,
            "-h" | "--help" => {
                return Err(EarlyExit {
                    stdout: USERNSEXEC_USAGE.into(),
                    stderr: String::new(),
                    code: 0,
                })
            }
            "-s" => o.map_self = true,
            _ if a.starts_with("-m") => {
                let v = if a.len() > 2 {
                    a[2..].to_string()
                } else if i < args.len() {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    return Err(EarlyExit::usage_error(
                        face,
                        format!("-m needs a map, e.g. -m b:0:100000:65536\n{USERNSEXEC_USAGE}"),
                    ));
                };
                let lines = crate::usernsexec::parse_map(&v)
                    .map_err(|e| EarlyExit::usage_error(face, e))?;
                o.maps.extend(lines);
            }
            _ if a.starts_with('-') && a.len() > 1 => {
                return Err(EarlyExit::usage_error(
                    face,
                    format!("unknown option \"{a}\"\n{USERNSEXEC_USAGE}"),
                ))
            }
            _ => {
                i -= 1;
                break;
            }
        }
    }
    o.command = args[i..].to_vec();
    Ok(Invocation {
        face,
        globals: Globals::default(),
        action: Action::Usernsexec(o),
    })
}

const USERNSEXEC_USAGE: &str =
    "usage: lxc-usernsexec [-h] [-m <uid-maps>] [-s] -- [command [arg ..]]

  -h            this message

  -m <uid-maps> uid maps to use (repeatable)
  -s            map self: also map your own uid and gid
  uid-maps: [u|g|b]:ns_id:host_id:range
            [u|g|b]: map user id, group id, or both
            ns_id: the base id in the new namespace
            host_id: the base id in the parent namespace
            range: how many ids to map
  Without -m, your first ranges in /etc/subuid and /etc/subgid are mapped at 0.
  Note: a non-root user's maps are written by newuidmap and newgidmap, so
        /etc/subuid and /etc/subgid must grant the calling user the mapped ranges.
";

const UPDATE_CONFIG_USAGE: &str =
    "lxc-update-config -h|--help [-c|--config]\nconfig: the container configuration to update\n";

/// `lxc-update-config -c CONFIG` (also `--config CONFIG`, `--config=CONFIG`, `-cCONFIG`);
/// no arguments or -h: the usage, exit 0, as LXC's script.
pub(super) fn parse_update_config(args: &[String]) -> Parsed {
    let face = Face::Lxc(Tool::UpdateConfig);
    let usage = || {
        Err(EarlyExit {
            stdout: UPDATE_CONFIG_USAGE.into(),
            stderr: String::new(),
            code: 0,
        })
    };
    let mut path = None;
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        i += 1;
        match a {
            "-h" | "--help" => return usage(),
            "-c" | "--config" => match args.get(i) {
                Some(p) => {
                    path = Some(p.clone());
                    i += 1;
                }
                None => {
                    return Err(EarlyExit::usage_error(
                        face,
                        format!(
                            "{a} needs the config file to update, e.g. {a} /var/lib/lxc/web/config"
                        ),
                    ))
                }
            },
            "--" => break,
            _ if a.starts_with("--config=") => path = Some(a["--config=".len()..].to_string()),
            _ if a.starts_with("-c") => path = Some(a[2..].to_string()),
            _ => {
                return Err(EarlyExit::usage_error(
                    face,
                    format!("unexpected argument \"{a}\"; run lxc-update-config -c CONFIG"),
                ))
            }
        }
    }
    match path {
        None if args.is_empty() => usage(),
        None => Err(EarlyExit::usage_error(
            face,
            "no config file given; run lxc-update-config -c CONFIG".to_string(),
        )),
        Some(p) => Ok(Invocation {
            face,
            globals: Globals::default(),
            action: Action::ConfigUpgradeFile { path: p.into() },
        }),
    }
}
