//! The `hako <verb>` face (clap). Every verb takes the container name as a positional
//! argument (`hako start web`) or with `-n NAME` as LXC does, and the flags of the LXC
//! tool of the same name with their long forms. Usage errors exit 2 (clap's convention).
//!
//! The parts: `commands.rs` the clap definitions of the verbs, `build.rs` the dispatch from a
//! parsed verb to an [`Action`], `network.rs` and `file.rs` the `network` and `file` verb
//! groups (their clap definitions, value parsers and actions); tests in `tests/`.

mod build;
mod commands;
mod file;
mod network;

use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};

use super::action::*;
use super::values;
use build::build;
use commands::Cmd;

pub use file::{parse_mode, parse_remote};
pub use network::{parse_ipv4_choice, parse_ipv6_choice};

#[derive(Parser, Debug)]
#[command(
    name = "hako",
    version,
    about = "hako: system containers in the tradition of LXC",
    long_about = "hako: system containers in the tradition of LXC.\n\nThe binary also answers to the lxc-* names (lxc-start, lxc-info, ...) with their flags, output and exit codes; `hako compat-links DIR` creates those links.",
    disable_help_subcommand = true,
    subcommand_required = true,
    arg_required_else_help = true
)]
struct Cli {
    /// Containers live in this directory (default: $HAKO_PATH, lxc.lxcpath in /etc/hako/hako.conf, /var/lib/hako).
    #[arg(short = 'P', long = "lxcpath", value_name = "LXCPATH", global = true)]
    lxcpath: Option<PathBuf>,
    /// Log level: TRACE, DEBUG, INFO, NOTICE, WARN (default), ERROR, CRIT, ALERT, FATAL.
    #[arg(
        short = 'l',
        long = "logpriority",
        visible_alias = "log-level",
        value_name = "LEVEL",
        global = true
    )]
    log_level: Option<String>,
    /// Write the log to this file instead of stderr.
    #[arg(
        short = 'o',
        long = "logfile",
        visible_alias = "log-file",
        value_name = "LOGFILE",
        global = true
    )]
    log_file: Option<PathBuf>,
    /// No log output (errors are still reported).
    #[arg(short = 'q', long = "quiet", global = true)]
    quiet: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

// The container name, positional or `-n` (a plain comment: a doc comment would become the
// "about" of every subcommand that flattens it, the subcommands being built lazily).
#[derive(Args, Debug)]
struct NameArg {
    /// Container name.
    #[arg(value_name = "NAME", add = super::docs::container_candidates())]
    name: Option<String>,
    /// Container name (LXC style).
    #[arg(short = 'n', long = "name", value_name = "NAME", add = super::docs::container_candidates())]
    name_opt: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
enum FormatArg {
    #[default]
    Text,
    Json,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
        }
    }
}

/// `create`'s `--privileged` / `--unprivileged`, and the default without either.
fn id_mapping(privileged: bool, unprivileged: bool) -> hako_store::IdMapping {
    use hako_store::IdMapping;
    match (privileged, unprivileged) {
        (_, true) => IdMapping::OwnRange,
        (true, false) => IdMapping::Privileged,
        (false, false) if hako_store::UNPRIVILEGED_BY_DEFAULT => IdMapping::OwnRange,
        (false, false) => IdMapping::AsConfigured,
    }
}

fn usage(msg: impl std::fmt::Display) -> EarlyExit {
    EarlyExit::usage_error(Face::Hako, msg)
}

fn resolve_name(n: NameArg, verb: &str) -> Result<String, EarlyExit> {
    match (n.name, n.name_opt) {
        (Some(a), Some(b)) if a != b => Err(usage(format!(
            "two container names given (\"{a}\" and -n \"{b}\"); give one"
        ))),
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => Err(usage(format!(
            "no container name given; run \"hako {verb} NAME\" or \"hako {verb} -n NAME\""
        ))),
    }
}

/// `-n NAME KEY...` or `NAME KEY...`: returns the name and the remaining operands.
fn split_name(
    name_opt: Option<String>,
    mut operands: Vec<String>,
    verb: &str,
    rest: &str,
) -> Result<(String, Vec<String>), EarlyExit> {
    let name = match name_opt {
        Some(n) => n,
        None => {
            if operands.len() < 2 {
                return Err(usage(format!(
                    "missing operands; run \"hako {verb} NAME {rest}\""
                )));
            }
            operands.remove(0)
        }
    };
    Ok((name, operands))
}

fn parse_id(s: Option<String>, what: &str) -> Result<Option<u32>, EarlyExit> {
    s.map(|v| values::parse_u32(&v, what))
        .transpose()
        .map_err(usage)
}

fn defines(d: Vec<String>) -> Result<Vec<(String, String)>, EarlyExit> {
    d.iter()
        .map(|s| values::parse_key_val(s, "definition").map_err(usage))
        .collect()
}

/// The whole `hako` command line as clap has it: its man pages and shell completion
/// (cli/docs.rs) come from here, so they cannot drift from what is parsed.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Parses `args` (argv without argv[0]).
pub fn parse(args: &[String]) -> Parsed {
    let argv = std::iter::once("hako".to_string()).chain(args.iter().cloned());
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            let text = e.render().to_string();
            return Err(if e.use_stderr() {
                EarlyExit {
                    stdout: String::new(),
                    stderr: text,
                    code: e.exit_code(),
                }
            } else {
                EarlyExit {
                    stdout: text,
                    stderr: String::new(),
                    code: 0,
                }
            });
        }
    };
    let log_level = match &cli.log_level {
        None => None,
        Some(l) => Some(LogLevel::parse(l).ok_or_else(|| {
            usage(format!("invalid log level \"{l}\"; use one of TRACE, DEBUG, INFO, NOTICE, WARN, ERROR, CRIT, ALERT, FATAL"))
        })?),
    };
    let globals = Globals {
        lxcpath: cli.lxcpath,
        log_level,
        log_file: cli.log_file,
        quiet: cli.quiet,
    };
    let action = build(cli.cmd, globals.quiet)?;
    Ok(Invocation {
        face: Face::Hako,
        globals,
        action,
    })
}

#[cfg(test)]
mod tests;
