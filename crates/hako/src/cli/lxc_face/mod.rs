//! The `lxc-*` face: invoked through a link named `lxc-start` etc., hako takes that LXC 5
//! tool's flags (GNU getopt rules, see getopt.rs), its defaults and its exit codes.
//!
//! The parts: `spec.rs` each tool's option table, synopsis and help text; `build.rs` the
//! dispatch from a tool's parsed options to an [`Action`]; `own_syntax.rs` the tools that
//! take no getopt table (lxc-config, lxc-usernsexec); tests in `tests.rs`.

mod build;
mod own_syntax;
mod spec;

use std::path::PathBuf;

use super::action::*;
use super::getopt::{self, Matches, Opt};
use super::values;
use build::build;
pub(crate) use build::top_request;
use own_syntax::{parse_config, parse_update_config, parse_usernsexec};
use spec::{help_text, spec, usage_text, COMMON};

/// The LXC release whose tools this face reproduces.
pub const LXC_COMPAT_VERSION: &str = "5.0.2";

/// What `lxc-TOOL --version` prints: LXC's version (scripts compare it) tagged with ours.
/// The tool's command line as a clap command (for its shell completion).
pub fn command(tool: Tool) -> clap::Command {
    spec::command(tool)
}

pub fn version_string() -> String {
    format!("{LXC_COMPAT_VERSION}-hako{}", env!("CARGO_PKG_VERSION"))
}

fn not_supported(tool: Tool, what: &str, why: &str) -> EarlyExit {
    EarlyExit::usage_error(
        Face::Lxc(tool),
        format!(
            "{what} is not supported by hako's {}: {why}",
            tool.program()
        ),
    )
}

/// Parses `args` (argv without argv[0]) as `tool` would.
pub fn parse(tool: Tool, args: &[String]) -> Parsed {
    let face = Face::Lxc(tool);
    match tool {
        Tool::Checkconfig => {
            // lxc-checkconfig is a script that takes no options and ignores its arguments.
            return Ok(Invocation {
                face,
                globals: Globals::default(),
                action: Action::CheckConfig { name: None },
            });
        }
        Tool::Config => return parse_config(args),
        Tool::Usernsexec => return parse_usernsexec(args),
        Tool::UpdateConfig => return parse_update_config(args),
        _ => {}
    }
    let s = spec(tool);
    let table: Vec<Opt> = s.opts.iter().chain(COMMON.iter()).copied().collect();
    let m = match getopt::parse(args, &table) {
        Ok(m) => m,
        Err(e) => {
            return Err(EarlyExit::usage_error(
                face,
                format!("{e}; see {} --help", tool.program()),
            ))
        }
    };
    // LXC acts on these as it meets them; the first one wins.
    for (id, _) in &m.opts {
        match *id {
            "help" => {
                return Err(EarlyExit {
                    stdout: String::new(),
                    stderr: help_text(&s),
                    code: 0,
                })
            }
            "help?" => {
                return Err(EarlyExit {
                    stdout: String::new(),
                    stderr: help_text(&s),
                    code: 1,
                })
            }
            "usage" => {
                return Err(EarlyExit {
                    stdout: String::new(),
                    stderr: usage_text(&s),
                    code: 0,
                })
            }
            "version" => {
                return Err(EarlyExit {
                    stdout: format!("{}\n", version_string()),
                    stderr: String::new(),
                    code: 0,
                })
            }
            _ => {}
        }
    }
    let globals = globals(face, &m)?;
    let mut operands = m.operands.clone();
    let name = if matches!(tool, Tool::Ls | Tool::Top | Tool::Unshare) {
        String::new()
    } else if tool == Tool::Monitor {
        // -n NAME is a regular expression (several: any of them), operands too; none:
        // every container
        let mut names: Vec<String> = m.all("name").into_iter().map(String::from).collect();
        names.append(&mut operands);
        names.join("|")
    } else if tool == Tool::Autostart {
        if m.has("name") {
            return Err(EarlyExit::usage_error(
                face,
                "lxc-autostart acts on the containers marked lxc.start.auto, not on one name; drop -n (select with -g GROUPS or -a)",
            ));
        }
        String::new()
    } else {
        match m.last("name") {
            Some(n) => n.to_string(),
            None if !operands.is_empty() => operands.remove(0),
            None => return Err(EarlyExit::usage_error(face, "No container name specified")),
        }
    };
    if m.has("rcfile") && !matches!(tool, Tool::Start | Tool::Execute) {
        return Err(not_supported(
            tool,
            "--rcfile",
            "it always reads the container's own config (LXCPATH/NAME/config); drop --rcfile",
        ));
    }
    let action = build(tool, name, &m, operands)?;
    Ok(Invocation {
        face,
        globals,
        action,
    })
}

fn globals(face: Face, m: &Matches) -> Result<Globals, EarlyExit> {
    let log_level = match m.last("logpriority") {
        None => None,
        Some(l) => Some(LogLevel::parse(l).ok_or_else(|| {
            EarlyExit::usage_error(
                face,
                format!("invalid log priority \"{l}\"; use one of TRACE, DEBUG, INFO, NOTICE, WARN, ERROR, CRIT, ALERT, FATAL"),
            )
        })?),
    };
    Ok(Globals {
        lxcpath: m
            .last("lxcpath")
            .map(|p| PathBuf::from(trim_trailing_slashes(p))),
        log_level,
        // LXC treats "-o none" as no log file.
        log_file: m
            .last("logfile")
            .filter(|f| *f != "none")
            .map(PathBuf::from),
        quiet: m.has("quiet"),
    })
}

fn trim_trailing_slashes(p: &str) -> &str {
    let t = p.trim_end_matches('/');
    if t.is_empty() && !p.is_empty() {
        "/"
    } else {
        t
    }
}

fn defines(face: Face, m: &Matches) -> Result<Vec<(String, String)>, EarlyExit> {
    m.all("define")
        .into_iter()
        .map(|d| {
            values::parse_key_val(d, "definition").map_err(|e| EarlyExit::usage_error(face, e))
        })
        .collect()
}

fn uid_gid(face: Face, m: &Matches) -> Result<(Option<u32>, Option<u32>), EarlyExit> {
    let uid = m
        .last("uid")
        .map(|u| values::parse_u32(u, "uid"))
        .transpose()
        .map_err(|e| EarlyExit::usage_error(face, e))?;
    let gid = m
        .last("gid")
        .map(|g| values::parse_u32(g, "gid"))
        .transpose()
        .map_err(|e| EarlyExit::usage_error(face, e))?;
    Ok((uid, gid))
}

/// `-s`/`-k`/`-r` of autostart: at most one (LXC silently prefers -s, then -k, then -r).
pub fn autostart_action(
    shutdown: bool,
    kill: bool,
    reboot: bool,
) -> Result<crate::autostart::AutostartAction, &'static str> {
    use crate::autostart::AutostartAction as A;
    match (shutdown, kill, reboot) {
        (false, false, false) => Ok(A::Start),
        (true, false, false) => Ok(A::Shutdown),
        (false, true, false) => Ok(A::Kill),
        (false, false, true) => Ok(A::Reboot),
        _ => Err("give at most one of -s (shutdown), -k (kill) and -r (reboot); without any the containers are started"),
    }
}

pub fn split_groups(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests;
