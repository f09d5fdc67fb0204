//! The `hako <verb>` face (clap). Every verb takes the container name as a positional
//! argument (`hako start web`) or with `-n NAME` as LXC does, and the flags of the LXC
//! tool of the same name with their long forms. Usage errors exit 2 (clap's convention).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::action::*;
use super::lxc_face::split_groups;
use super::values;
use crate::{AttachOptions, CreateOptions, EnvPolicy, ExecuteOptions, StartOptions, StopOptions};

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
    #[arg(value_name = "NAME")]
    name: Option<String>,
    /// Container name (LXC style).
    #[arg(short = 'n', long = "name", value_name = "NAME")]
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

#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum Cmd {
    /// Create a container from a template.
    Create {
        #[command(flatten)]
        name: NameArg,
        /// busybox, debian (a cached Debian image: -- -r RELEASE -a ARCH --mirror URL
        /// --packages a,b --user NAME --ssh-key FILE --password), none (config only), or the
        /// path of an LXC template script.
        #[arg(short = 't', long = "template", value_name = "TEMPLATE")]
        template: Option<String>,
        /// Config file merged into the new container's config.
        #[arg(short = 'f', long = "config", value_name = "CONFIG")]
        config: Option<PathBuf>,
        /// Backing store: dir, overlay (default for debian: a copy-on-write layer over the
        /// cached image) or btrfs (when the lxcpath is on btrfs).
        #[arg(short = 'B', long = "bdev", value_name = "BACKING")]
        bdev: Option<String>,
        /// Root in the container is root on the host (no user namespace, no id range).
        #[arg(long = "privileged", conflicts_with = "unprivileged")]
        privileged: bool,
        /// Give the container an id range of its own (65536 ids from root's block in
        /// /etc/subuid and /etc/subgid), written as lxc.idmap lines.
        #[arg(long = "unprivileged")]
        unprivileged: bool,
        /// Arguments for the template, after `--`.
        #[arg(last = true, value_name = "TEMPLATE-ARGS")]
        template_args: Vec<String>,
    },
    /// Remove a container and everything made for it.
    Destroy {
        #[command(flatten)]
        name: NameArg,
        /// Stop it first if it is running.
        #[arg(short = 'f', long = "force")]
        force: bool,
        /// Also remove its snapshots.
        #[arg(short = 's', long = "snapshots")]
        snapshots: bool,
    },
    /// Start a container (in the background by default; returns once it is RUNNING).
    Start {
        #[command(flatten)]
        name: NameArg,
        /// Run in the background (default).
        #[arg(short = 'd', long = "daemon", overrides_with = "foreground")]
        daemon: bool,
        /// Stay in the foreground with the console on this terminal.
        #[arg(short = 'F', long = "foreground", overrides_with = "daemon")]
        foreground: bool,
        /// Use this config file instead of the container's.
        #[arg(short = 'f', long = "rcfile", value_name = "CONFIG")]
        rcfile: Option<PathBuf>,
        /// Set config KEY to VAL for this start (repeatable).
        #[arg(short = 's', long = "define", value_name = "KEY=VAL")]
        define: Vec<String>,
        /// Send the console to this file.
        #[arg(short = 'c', long = "console", value_name = "CONSOLE")]
        console: Option<PathBuf>,
        /// Log the console output to this file.
        #[arg(short = 'L', long = "console-log", value_name = "CONSOLE_LOG")]
        console_log: Option<PathBuf>,
        /// Write the init pid to this file.
        #[arg(short = 'p', long = "pidfile", value_name = "PIDFILE")]
        pidfile: Option<PathBuf>,
        /// Close inherited file descriptors (always done).
        #[arg(short = 'C', long = "close-all-fds")]
        close_all_fds: bool,
        /// Command to run as init instead of lxc.init.cmd, after `--`.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Stop a container (clean shutdown, then kill after the timeout).
    Stop {
        #[command(flatten)]
        name: NameArg,
        /// Kill at once.
        #[arg(short = 'k', long = "kill")]
        kill: bool,
        /// Seconds to wait for a clean shutdown before killing (-1: forever; default 60).
        #[arg(
            short = 't',
            long = "timeout",
            value_name = "SECS",
            allow_hyphen_values = true
        )]
        timeout: Option<String>,
        /// Reboot in place.
        #[arg(short = 'r', long = "reboot")]
        reboot: bool,
        /// Ask and return at once, without waiting.
        #[arg(short = 'W', long = "nowait")]
        nowait: bool,
        /// Only ask for a clean shutdown; never kill.
        #[arg(long = "nokill")]
        nokill: bool,
        /// With -k: accepted for compatibility.
        #[arg(long = "nolock")]
        nolock: bool,
    },
    /// Run a command (default: a shell) inside a running container.
    Attach {
        #[command(flatten)]
        name: NameArg,
        /// Accepted for compatibility with lxc-attach (CAP, CGROUP, LSM).
        #[arg(short = 'e', long = "elevated-privileges", value_name = "PRIVILEGES", num_args = 0..=1, require_equals = true)]
        elevated: Option<Option<String>>,
        /// Architecture of the command (the host's only).
        #[arg(short = 'a', long = "arch", value_name = "ARCH")]
        arch: Option<String>,
        /// Enter only these namespaces (not supported).
        #[arg(short = 's', long = "namespaces", value_name = "NAMESPACES")]
        namespaces: Option<String>,
        /// Remount /sys and /proc (only meaningful with -s).
        #[arg(short = 'R', long = "remount-sys-proc")]
        remount_sys_proc: bool,
        /// Start from an empty environment (container=lxc, PATH and -v variables).
        #[arg(long = "clear-env", overrides_with = "keep_env")]
        clear_env: bool,
        /// Keep this environment (default).
        #[arg(long = "keep-env", overrides_with = "clear_env")]
        keep_env: bool,
        /// With --clear-env, keep this variable (repeatable).
        #[arg(long = "keep-var", value_name = "VAR")]
        keep_var: Vec<String>,
        /// Set VAR in the command's environment (repeatable).
        #[arg(short = 'v', long = "set-var", value_name = "VAR=VAL")]
        set_var: Vec<String>,
        /// Log the terminal output to this file (not supported).
        #[arg(short = 'L', long = "pty-log", value_name = "PTYLOG")]
        pty_log: Option<PathBuf>,
        /// Run the command as this uid.
        #[arg(short = 'u', long = "uid", value_name = "UID")]
        uid: Option<String>,
        /// Run the command as this gid.
        #[arg(short = 'g', long = "gid", value_name = "GID")]
        gid: Option<String>,
        /// The command, after `--`.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Run a command as an application container (foreground).
    Execute {
        #[command(flatten)]
        name: NameArg,
        /// Use this config file.
        #[arg(short = 'f', long = "rcfile", value_name = "CONFIG")]
        rcfile: Option<PathBuf>,
        /// Set config KEY to VAL for this run (repeatable).
        #[arg(short = 's', long = "define", value_name = "KEY=VAL")]
        define: Vec<String>,
        /// Run the command as this uid.
        #[arg(short = 'u', long = "uid", value_name = "UID")]
        uid: Option<String>,
        /// Run the command as this gid.
        #[arg(short = 'g', long = "gid", value_name = "GID")]
        gid: Option<String>,
        /// The command, after `--`.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Suspend every process of a container.
    Freeze {
        #[command(flatten)]
        name: NameArg,
    },
    /// Resume a frozen container.
    Unfreeze {
        #[command(flatten)]
        name: NameArg,
    },
    /// Read (NAME KEY) or write (NAME KEY VALUE) a cgroup file of a running container.
    Cgroup {
        /// Container name (then the operands are KEY [VALUE]).
        #[arg(short = 'n', long = "name", value_name = "NAME")]
        name_opt: Option<String>,
        /// NAME KEY [VALUE]
        #[arg(value_name = "NAME KEY [VALUE]", num_args = 1..=3)]
        operands: Vec<String>,
    },
    /// Show a container's state, init pid, addresses and resource use.
    Info {
        #[command(flatten)]
        name: NameArg,
        /// Show the state.
        #[arg(short = 's', long = "state")]
        state: bool,
        /// Show the init pid.
        #[arg(short = 'p', long = "pid")]
        pid: bool,
        /// Show the IP addresses.
        #[arg(short = 'i', long = "ips")]
        ips: bool,
        /// Show resource use.
        #[arg(short = 'S', long = "stats")]
        stats: bool,
        /// Raw numbers; a lone value without its label.
        #[arg(short = 'H', long = "no-humanize")]
        no_humanize: bool,
        /// Show this config item (repeatable).
        #[arg(short = 'c', long = "config", value_name = "KEY")]
        config: Vec<String>,
        /// Output format.
        #[arg(long = "format", value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// List containers.
    Ls {
        /// One name per line.
        #[arg(short = '1', long = "line")]
        line: bool,
        /// A table: NAME STATE AUTOSTART GROUPS IPV4 IPV6 UNPRIVILEGED.
        #[arg(short = 'f', long = "fancy")]
        fancy: bool,
        /// The table's columns, comma separated (NAME, STATE, PID, RAM, SWAP, AUTOSTART, GROUPS, INTERFACE, IPV4, IPV6, UNPRIVILEGED); implies -f.
        #[arg(short = 'F', long = "fancy-format", value_name = "COLUMNS")]
        fancy_format: Option<String>,
        /// Only running and frozen containers.
        #[arg(long = "active")]
        active: bool,
        /// Only running containers.
        #[arg(long = "running")]
        running: bool,
        /// Only frozen containers.
        #[arg(long = "frozen")]
        frozen: bool,
        /// Only stopped containers.
        #[arg(long = "stopped")]
        stopped: bool,
        /// Only defined containers.
        #[arg(long = "defined")]
        defined: bool,
        /// Only containers in all of these groups (comma separated).
        #[arg(short = 'g', long = "groups", value_name = "GROUPS")]
        groups: Option<String>,
        /// Only names matching this POSIX extended regex.
        #[arg(long = "filter", value_name = "REGEX")]
        filter: Option<String>,
        /// Output format.
        #[arg(long = "format", value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
        /// Same as --filter.
        #[arg(value_name = "REGEX")]
        regex: Option<String>,
    },
    /// Wait until a container reaches one of the given states.
    Wait {
        #[command(flatten)]
        name: NameArg,
        /// States separated by '|', e.g. 'RUNNING|FROZEN'.
        #[arg(short = 's', long = "state", value_name = "STATES", required = true)]
        state: String,
        /// Give up after this many seconds (exit 1); default: wait forever.
        #[arg(
            short = 't',
            long = "timeout",
            value_name = "SECS",
            allow_hyphen_values = true
        )]
        timeout: Option<String>,
    },
    /// Connect this terminal to a container's console (Ctrl-a q detaches).
    Console {
        #[command(flatten)]
        name: NameArg,
        /// tty number (0: /dev/console, the default).
        #[arg(short = 't', long = "tty", value_name = "TTYNUM")]
        tty: Option<String>,
        /// Escape prefix letter, e.g. ^b (default ^a).
        #[arg(short = 'e', long = "escape", value_name = "ESCAPE")]
        escape: Option<String>,
    },
    /// Print the value(s) of one config item of a container.
    Config {
        /// Container name (then the operand is KEY).
        #[arg(short = 'n', long = "name", value_name = "NAME")]
        name_opt: Option<String>,
        /// NAME KEY
        #[arg(value_name = "NAME KEY", num_args = 1..=2)]
        operands: Vec<String>,
        /// Rewrite pre-3.0 (legacy) keys in the container's config to their current names,
        /// keeping comments and order.
        #[arg(long = "upgrade")]
        upgrade: bool,
    },
    /// Check the kernel for container features, or with NAME validate that container's config.
    Checkconfig {
        #[command(flatten)]
        name: NameArg,
    },
    /// Managed networks: a bridge with an address, NAT, and a dnsmasq for DHCP and DNS.
    #[command(subcommand_required = true, arg_required_else_help = true)]
    Network {
        #[command(subcommand)]
        cmd: NetCmd,
    },
    /// Copy a container: a full copy, a snapshot clone (-s) that shares SRC's files, or an
    /// ephemeral clone (-e) that is started at once and destroyed when it stops.
    Copy {
        #[command(flatten)]
        name: NameArg,
        /// Name of the copy.
        #[arg(value_name = "NEW")]
        new: Option<String>,
        /// Name of the copy (LXC style).
        #[arg(short = 'N', long = "newname", value_name = "NEW")]
        newname: Option<String>,
        /// Snapshot clone: an overlay whose lower layers are SRC's (or a btrfs snapshot).
        #[arg(short = 's', long = "snapshot")]
        snapshot: bool,
        /// Ephemeral: a snapshot clone with lxc.ephemeral = 1, started now, destroyed when it stops.
        #[arg(short = 'e', long = "ephemeral")]
        ephemeral: bool,
        /// With -e: keep the copy when it stops.
        #[arg(short = 'D', long = "keepdata", requires = "ephemeral")]
        keep_data: bool,
        /// With -e: start it in the foreground, console on this terminal.
        #[arg(short = 'F', long = "foreground", requires = "ephemeral")]
        foreground: bool,
        /// Backing store of the copy: dir, overlay or btrfs (default: SRC's).
        #[arg(
            short = 'B',
            long = "backingstorage",
            visible_alias = "bdev",
            value_name = "BACKING"
        )]
        backing: Option<String>,
        /// Keep SRC's hostname.
        #[arg(short = 'K', long = "keepname")]
        keep_name: bool,
        /// Keep SRC's MAC addresses.
        #[arg(short = 'M', long = "keepmac")]
        keep_mac: bool,
        /// Arguments for the copy's clone hooks (lxc.hook.clone), after --.
        #[arg(last = true, value_name = "HOOK-ARGS")]
        hook_args: Vec<String>,
    },
    /// Snapshots of a container (NAME/snaps/snapN): take one (default), list (-L), restore
    /// (-r SNAP [-N NEW]) or delete (-d SNAP).
    Snapshot {
        #[command(flatten)]
        name: NameArg,
        /// List the snapshots.
        #[arg(short = 'L', long = "list", conflicts_with_all = ["restore", "destroy"])]
        list: bool,
        /// With -L: show the comments (always shown with --format json).
        #[arg(short = 'C', long = "showcomments")]
        show_comments: bool,
        /// With a new snapshot: keep this file's text as its comment.
        #[arg(short = 'c', long = "comment", value_name = "FILE", conflicts_with_all = ["list", "restore", "destroy"])]
        comment: Option<PathBuf>,
        /// Restore snapshot SNAP into the container (stopped), or into a new one with -N.
        #[arg(
            short = 'r',
            long = "restore",
            value_name = "SNAP",
            conflicts_with = "destroy"
        )]
        restore: Option<String>,
        /// With -r: restore into a new container NEW.
        #[arg(
            short = 'N',
            long = "newname",
            value_name = "NEW",
            requires = "restore"
        )]
        newname: Option<String>,
        /// Delete snapshot SNAP (ALL: every snapshot).
        #[arg(short = 'd', long = "destroy", value_name = "SNAP")]
        destroy: Option<String>,
        /// Output format of -L.
        #[arg(long = "format", value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// The image cache (templates' root filesystems, the lower layer of overlay containers).
    #[command(subcommand_required = true, arg_required_else_help = true)]
    Image {
        #[command(subcommand)]
        cmd: ImageCmd,
    },
    /// Copy files into (push) or out of (pull) a container, running or stopped.
    #[command(subcommand_required = true, arg_required_else_help = true)]
    File {
        #[command(subcommand)]
        cmd: FileCmd,
    },
    /// Start (default), shut down (-s), kill (-k) or reboot (-r) the containers marked with
    /// lxc.start.auto, group by group, in lxc.start.order, waiting lxc.start.delay after each.
    Autostart {
        /// Every auto-started container, whatever its groups.
        #[arg(short = 'a', long = "all")]
        all: bool,
        /// Ignore lxc.start.auto (with -a: every container).
        #[arg(short = 'A', long = "ignore-auto")]
        ignore_auto: bool,
        /// Groups to select, comma separated, processed in order (repeatable); an empty
        /// entry is the containers without a group, the default (e.g. -g onboot,).
        #[arg(short = 'g', long = "groups", value_name = "GROUPS")]
        groups: Vec<String>,
        /// Only list what would be done: NAME DELAY (start, reboot) or NAME (shutdown, kill).
        #[arg(short = 'L', long = "list")]
        list: bool,
        /// Shut the containers down (reverse order) instead of starting them.
        #[arg(short = 's', long = "shutdown")]
        shutdown: bool,
        /// Kill the containers (reverse order) instead of starting them.
        #[arg(short = 'k', long = "kill")]
        kill: bool,
        /// Reboot the running containers instead of starting them.
        #[arg(short = 'r', long = "reboot")]
        reboot: bool,
        /// Seconds to wait for a clean shutdown before killing (-1: forever; default 60).
        #[arg(
            short = 't',
            long = "timeout",
            value_name = "SECS",
            allow_hyphen_values = true
        )]
        timeout: Option<String>,
    },
    /// Print hako's version.
    Version,
    /// Create DIR/lxc-<tool> links to this binary for every lxc-* name hako answers to.
    CompatLinks {
        /// Directory for the links, e.g. /usr/local/bin.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
    /// Run a command as root in a new user namespace (lxc-usernsexec).
    Usernsexec {
        /// A map u|g|b:NSID:HOSTID:COUNT (repeatable); default: your first /etc/subuid
        /// and /etc/subgid entries at 0.
        #[arg(short = 'm', value_name = "MAP")]
        map: Vec<String>,
        /// Also map your own uid and gid.
        #[arg(short = 's')]
        map_self: bool,
        /// The command (default /bin/sh), after `--`.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum ImageCmd {
    /// List cached images: NAME RELEASE ARCH SIZE AGE USED-BY.
    #[command(visible_alias = "list")]
    Ls {
        /// Output format.
        #[arg(long = "format", value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// Remove a cached image (refused while containers use it).
    #[command(visible_alias = "remove")]
    Rm {
        /// Image name, e.g. debian/bookworm-amd64 (or bookworm-amd64).
        #[arg(value_name = "IMAGE")]
        name: String,
    },
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum FileCmd {
    /// Copy LOCAL into the container: hako file push LOCAL NAME:/path (an existing
    /// directory, or a path ending in '/', receives LOCAL under its own name).
    Push {
        /// Copy a directory with its contents.
        #[arg(short = 'r', long = "recursive")]
        recursive: bool,
        /// Owner of the new files inside the container (default 0).
        #[arg(long = "uid", value_name = "UID")]
        uid: Option<String>,
        /// Group of the new files inside the container (default 0).
        #[arg(long = "gid", value_name = "GID")]
        gid: Option<String>,
        /// Mode of the new files, octal (default: the local file's mode).
        #[arg(long = "mode", value_name = "OCTAL")]
        mode: Option<String>,
        /// The local file or directory.
        #[arg(value_name = "LOCAL")]
        local: PathBuf,
        /// The container and the absolute path inside it.
        #[arg(value_name = "NAME:/PATH")]
        remote: String,
    },
    /// Copy a file out of the container: hako file pull NAME:/path LOCAL (an existing
    /// local directory receives it under its own name). Pulled files belong to you and lose
    /// setuid, setgid and sticky bits and write permission for others; FIFOs, devices and
    /// sockets are not copied.
    Pull {
        /// Copy a directory with its contents.
        #[arg(short = 'r', long = "recursive")]
        recursive: bool,
        /// Keep every mode bit: setuid, setgid, sticky and write permission for others.
        #[arg(long = "keep-mode")]
        keep_mode: bool,
        /// The container and the absolute path inside it.
        #[arg(value_name = "NAME:/PATH")]
        remote: String,
        /// The local file or directory.
        #[arg(value_name = "LOCAL")]
        local: PathBuf,
    },
}

/// `NAME:/path` of `file push/pull`.
pub fn parse_remote(s: &str) -> Result<(String, String), String> {
    match crate::files::split_remote(s) {
        Some((n, p)) => Ok((n.to_string(), p.to_string())),
        None => Err(format!(
            "invalid container path \"{s}\"; write NAME:/absolute/path, e.g. web:/etc/hosts"
        )),
    }
}

/// `--mode 0640`: octal permission bits.
pub fn parse_mode(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if !digits.is_empty() && m <= 0o7777 => Ok(m),
        _ => Err(format!(
            "invalid mode \"{s}\"; give octal permission bits such as 0644 or 0755"
        )),
    }
}

// The network name operand (a plain comment, see NameArg).
#[derive(Args, Debug)]
struct NetName {
    /// Network name (also the bridge's name): up to 15 characters.
    #[arg(value_name = "NAME")]
    name: String,
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
enum NetCmd {
    /// Define a managed network; it comes up with the first container that uses it
    /// (lxc.net.N.link = NAME) or with "hako network up NAME".
    Create {
        #[command(flatten)]
        name: NetName,
        /// The bridge's IPv4 address with the subnet's prefix (e.g. 10.47.3.1/24), auto (a
        /// free private /24; the default) or none.
        #[arg(long = "ipv4", value_name = "CIDR|auto|none")]
        ipv4: Option<String>,
        /// The bridge's IPv6 address with the subnet's prefix (e.g. fd42:1:2:3::1/64) or
        /// none (the default).
        #[arg(long = "ipv6", value_name = "CIDR|none")]
        ipv6: Option<String>,
        /// Masquerade the subnet's traffic to other networks (the default).
        #[arg(long = "nat", conflicts_with = "no_nat")]
        nat: bool,
        /// No masquerading: the subnet is reachable only from the host (or by routing).
        #[arg(long = "no-nat")]
        no_nat: bool,
        /// Serve DHCP on the bridge (the default).
        #[arg(long = "dhcp", conflicts_with = "no_dhcp")]
        dhcp: bool,
        /// No DHCP: containers need static addresses (lxc.net.N.ipv4.address).
        #[arg(long = "no-dhcp")]
        no_dhcp: bool,
        /// DNS domain for container names (c1.DOMAIN), also handed out by DHCP.
        #[arg(long = "dns-domain", value_name = "DOMAIN")]
        dns_domain: Option<String>,
    },
    /// List managed networks: NAME BRIDGE IPV4 IPV6 NAT DHCP STATE.
    #[command(visible_alias = "list")]
    Ls {
        /// Output format.
        #[arg(long = "format", value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// Show a network's definition, the state of its parts, attached devices and leases.
    Show {
        #[command(flatten)]
        name: NetName,
        /// Output format.
        #[arg(long = "format", value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// List a network's DHCP leases: IP MAC HOSTNAME EXPIRES.
    Leases {
        #[command(flatten)]
        name: NetName,
        /// Output format.
        #[arg(long = "format", value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// Take a network down and delete its definition (refused while containers use it).
    #[command(visible_alias = "remove")]
    Rm {
        #[command(flatten)]
        name: NetName,
        /// Remove it even while containers are attached (they lose their network).
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
    /// Bring a network up now: bridge, address, nftables table, dnsmasq (repairs missing parts).
    Up {
        #[command(flatten)]
        name: NetName,
    },
    /// Take a network down (the definition stays; refused while containers use it).
    Down {
        #[command(flatten)]
        name: NetName,
        /// Take it down even while containers are attached (they lose their network).
        #[arg(short = 'f', long = "force")]
        force: bool,
    },
}

/// `--ipv4 CIDR|auto|none`
pub fn parse_ipv4_choice(s: &str) -> Result<crate::network::Ipv4Choice, String> {
    use crate::network::Ipv4Choice;
    match s.trim() {
        "auto" => Ok(Ipv4Choice::Auto),
        "none" => Ok(Ipv4Choice::None),
        // (the address is checked before the prefix: "not an address" says more than "no
        // prefix length" for a word like "x")
        cidr => cidr
            .parse::<hako_net::Ipv4Net>()
            .map(Ipv4Choice::Cidr)
            .map_err(|e| e.to_string()),
    }
}

/// `--ipv6 CIDR|none`
pub fn parse_ipv6_choice(s: &str) -> Result<Option<hako_net::Ipv6Net>, String> {
    match s.trim() {
        "none" => Ok(None),
        "auto" => Err("--ipv6 auto is not supported; give the bridge's address and prefix, e.g. --ipv6 fd42:1:2:3::1/64 (a unique local fd00::/8 prefix), or --ipv6 none".into()),
        cidr => {
            cidr.parse::<hako_net::Ipv6Net>()
                .map(Some)
                .map_err(|e| e.to_string())
        }
    }
}

fn build_network(cmd: NetCmd) -> Result<NetworkAction, EarlyExit> {
    Ok(match cmd {
        NetCmd::Create {
            name,
            ipv4,
            ipv6,
            nat: _,
            no_nat,
            dhcp: _,
            no_dhcp,
            dns_domain,
        } => {
            let mut opts = crate::network::CreateNetOpts::default();
            if let Some(v) = ipv4 {
                opts.ipv4 = parse_ipv4_choice(&v).map_err(usage)?;
            }
            if let Some(v) = ipv6 {
                opts.ipv6 = parse_ipv6_choice(&v).map_err(usage)?;
            }
            opts.nat = !no_nat;
            opts.dhcp = !no_dhcp;
            if let Some(d) = &dns_domain {
                hako_net::validate_dns_name("DNS domain", d).map_err(usage)?;
            }
            opts.dns_domain = dns_domain;
            NetworkAction::Create {
                name: name.name,
                opts,
            }
        }
        NetCmd::Ls { format } => NetworkAction::Ls {
            format: format.into(),
        },
        NetCmd::Show { name, format } => NetworkAction::Show {
            name: name.name,
            format: format.into(),
        },
        NetCmd::Leases { name, format } => NetworkAction::Leases {
            name: name.name,
            format: format.into(),
        },
        NetCmd::Rm { name, force } => NetworkAction::Rm {
            name: name.name,
            force,
        },
        NetCmd::Up { name } => NetworkAction::Up { name: name.name },
        NetCmd::Down { name, force } => NetworkAction::Down {
            name: name.name,
            force,
        },
    })
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

fn build(cmd: Cmd, quiet: bool) -> Result<Action, EarlyExit> {
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
            remount_sys_proc: _,
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
            if let Some(e) = &elevated {
                values::parse_elevated_privileges(e.as_deref()).map_err(usage)?;
            }
            if namespaces.is_some() {
                return Err(usage("attach -s/--namespaces is not supported: attach always enters every namespace of the container; drop -s"));
            }
            if pty_log.is_some() {
                return Err(usage(
                    "attach -L/--pty-log is not supported; drop -L and capture the output with tee",
                ));
            }
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
        Cmd::File { cmd } => match cmd {
            FileCmd::Push {
                recursive,
                uid,
                gid,
                mode,
                local,
                remote,
            } => {
                let (name, remote) = parse_remote(&remote).map_err(usage)?;
                Action::FilePush {
                    name,
                    local,
                    remote,
                    opts: crate::files::PushOptions {
                        recursive,
                        uid: parse_id(uid, "uid")?,
                        gid: parse_id(gid, "gid")?,
                        mode: mode.as_deref().map(parse_mode).transpose().map_err(usage)?,
                    },
                }
            }
            FileCmd::Pull {
                recursive,
                keep_mode,
                remote,
                local,
            } => {
                let (name, remote) = parse_remote(&remote).map_err(usage)?;
                Action::FilePull {
                    name,
                    remote,
                    local,
                    opts: crate::files::PullOptions {
                        recursive,
                        keep_mode,
                    },
                }
            }
        },
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
            action: super::lxc_face::autostart_action(shutdown, kill, reboot).map_err(usage)?,
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::State;
    use std::time::Duration;

    fn p(args: &[&str]) -> Parsed {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&v)
    }
    fn ok(args: &[&str]) -> Invocation {
        match p(args) {
            Ok(i) => i,
            Err(e) => panic!("{args:?}: {e:?}"),
        }
    }
    fn err(args: &[&str]) -> EarlyExit {
        match p(args) {
            Ok(i) => panic!("{args:?} parsed: {i:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn name_positional_or_dash_n() {
        let Action::Start { name, .. } = ok(&["start", "web"]).action else {
            panic!()
        };
        assert_eq!(name, "web");
        let Action::Start { name, .. } = ok(&["start", "-n", "web"]).action else {
            panic!()
        };
        assert_eq!(name, "web");
        let Action::Start { name, .. } = ok(&["start", "web", "-n", "web"]).action else {
            panic!()
        };
        assert_eq!(name, "web");
        let e = err(&["start", "a", "-n", "b"]);
        assert_eq!(e.code, 2);
        assert!(
            e.stderr.starts_with("hako: two container names"),
            "{}",
            e.stderr
        );
        let e = err(&["stop"]);
        assert_eq!(e.code, 2);
        assert!(e.stderr.contains("hako stop NAME"), "{}", e.stderr);
    }

    #[test]
    fn globals_before_or_after_the_verb() {
        let i = ok(&[
            "-P", "/tmp/p", "-l", "DEBUG", "info", "web", "-o", "/tmp/log", "-q",
        ]);
        assert_eq!(i.face, Face::Hako);
        assert_eq!(
            i.globals,
            Globals {
                lxcpath: Some("/tmp/p".into()),
                log_level: Some(LogLevel::Debug),
                log_file: Some("/tmp/log".into()),
                quiet: true
            }
        );
        let i = ok(&["ls", "--lxcpath", "/x", "--log-level", "notice"]);
        assert_eq!(i.globals.lxcpath, Some("/x".into()));
        assert_eq!(i.globals.log_level, Some(LogLevel::Notice));
        let e = err(&["-l", "LOUD", "ls"]);
        assert_eq!(e.code, 2);
        assert!(e.stderr.contains("invalid log level \"LOUD\""));
    }

    #[test]
    fn help_version_and_clap_errors() {
        let e = err(&["--help"]);
        assert_eq!(e.code, 0);
        assert!(e.stdout.contains("compat-links"));
        let e = err(&["--version"]);
        assert_eq!(e.code, 0);
        assert_eq!(
            e.stdout.trim(),
            format!("hako {}", env!("CARGO_PKG_VERSION"))
        );
        let e = err(&["frobnicate"]);
        assert_eq!(e.code, 2);
        assert!(!e.stderr.is_empty());
        let e = err(&["info", "web", "--bogus"]);
        assert_eq!(e.code, 2);
        assert!(matches!(ok(&["version"]).action, Action::Version));
    }

    #[test]
    fn create() {
        let i = ok(&[
            "create", "web", "-t", "debian", "-f", "/c", "-B", "dir", "--", "-r", "bookworm",
        ]);
        let Action::Create { name, opts } = i.action else {
            panic!()
        };
        assert_eq!(name, "web");
        assert_eq!(opts.template.as_deref(), Some("debian"));
        assert_eq!(opts.template_args, vec!["-r", "bookworm"]);
        assert_eq!(opts.config_file, Some(PathBuf::from("/c")));
        assert_eq!(opts.backing.as_deref(), Some("dir"));
        let Action::Create { opts, .. } =
            ok(&["-q", "create", "-n", "x", "--template", "busybox"]).action
        else {
            panic!()
        };
        assert!(opts.quiet && opts.template_args.is_empty());
        assert!(err(&["create", "web"]).stderr.contains("-t busybox"));
    }

    #[test]
    fn create_privileged_or_unprivileged() {
        use hako_store::IdMapping;
        let ids = |args: &[&str]| {
            let Action::Create { opts, .. } = ok(args).action else {
                panic!()
            };
            opts.ids
        };
        assert_eq!(
            ids(&["create", "web", "-t", "busybox", "--unprivileged"]),
            IdMapping::OwnRange
        );
        assert_eq!(
            ids(&["create", "web", "-t", "busybox", "--privileged"]),
            IdMapping::Privileged
        );
        let default = if hako_store::UNPRIVILEGED_BY_DEFAULT {
            IdMapping::OwnRange
        } else {
            IdMapping::AsConfigured
        };
        assert_eq!(ids(&["create", "web", "-t", "busybox"]), default);
        let e = err(&[
            "create",
            "web",
            "-t",
            "busybox",
            "--privileged",
            "--unprivileged",
        ]);
        assert_eq!(e.code, 2);
        assert!(e.stderr.contains("--privileged"), "{}", e.stderr);
    }

    #[test]
    fn destroy() {
        let Action::Destroy { name, force, .. } = ok(&["destroy", "web", "--force"]).action else {
            panic!()
        };
        assert_eq!((name.as_str(), force), ("web", true));
        let Action::Destroy { snapshots, .. } = ok(&["destroy", "web", "-s"]).action else {
            panic!()
        };
        assert!(snapshots);
    }

    #[test]
    fn copy_snapshot_image() {
        use crate::storage::{ImageRequest, SnapshotRequest};
        let Action::Copy { opts } = ok(&["copy", "web", "web2", "-s", "-B", "overlay"]).action
        else {
            panic!()
        };
        assert_eq!(
            (opts.src.as_str(), opts.new.as_deref()),
            ("web", Some("web2"))
        );
        assert!(opts.snapshot && !opts.ephemeral);
        assert_eq!(opts.backing.as_deref(), Some("overlay"));
        let Action::Copy { opts } = ok(&["copy", "-n", "web", "-N", "x", "-K", "-M"]).action else {
            panic!()
        };
        assert_eq!(opts.new.as_deref(), Some("x"));
        assert!(opts.keep_name && opts.keep_mac);
        let Action::Copy { opts } = ok(&["copy", "web", "-e", "-F"]).action else {
            panic!()
        };
        assert!(opts.ephemeral && opts.foreground && opts.new.is_none());
        assert!(err(&["copy", "web"])
            .stderr
            .contains("no name for the copy"));
        assert!(err(&["copy", "web", "a", "-N", "b"])
            .stderr
            .contains("two new names"));
        assert_eq!(err(&["copy", "web", "x", "-D"]).code, 2, "-D needs -e");

        let snap = |a: &[&str]| match ok(a).action {
            Action::Snapshot { name, req, .. } => (name, req),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            snap(&["snapshot", "web"]),
            ("web".into(), SnapshotRequest::Create { comment_file: None })
        );
        assert_eq!(
            snap(&["snapshot", "web", "-L", "-C"]).1,
            SnapshotRequest::List { comments: true }
        );
        assert_eq!(
            snap(&["snapshot", "web", "-r", "snap0", "-N", "new"]).1,
            SnapshotRequest::Restore {
                snap: "snap0".into(),
                new: Some("new".into())
            }
        );
        assert_eq!(
            snap(&["snapshot", "-n", "web", "-d", "snap1"]).1,
            SnapshotRequest::Destroy {
                snap: "snap1".into()
            }
        );
        assert_eq!(err(&["snapshot", "web", "-L", "-d", "snap0"]).code, 2);
        assert_eq!(err(&["snapshot", "web", "-N", "x"]).code, 2, "-N needs -r");

        let Action::Image { req, format } = ok(&["image", "ls", "--format", "json"]).action else {
            panic!()
        };
        assert_eq!((req, format), (ImageRequest::Ls, Format::Json));
        let Action::Image { req, .. } = ok(&["image", "rm", "debian/bookworm-amd64"]).action else {
            panic!()
        };
        assert_eq!(
            req,
            ImageRequest::Rm {
                name: "debian/bookworm-amd64".into()
            }
        );
        assert!(!ok(&["image", "ls"]).action.needs_root());
        assert!(ok(&["image", "rm", "x"]).action.needs_root());
        assert!(!ok(&["snapshot", "web", "-L"]).action.needs_root());
        assert!(ok(&["snapshot", "web"]).action.needs_root());
    }

    #[test]
    fn start() {
        let i = ok(&[
            "start",
            "web",
            "-F",
            "-s",
            "lxc.uts.name=x",
            "--define",
            "k=v",
            "-p",
            "/pid",
            "-L",
            "/log",
            "-c",
            "/con",
            "-C",
            "-f",
            "/rc",
            "--",
            "/bin/sh",
            "-c",
            "true",
        ]);
        let Action::Start { opts, .. } = i.action else {
            panic!()
        };
        assert!(opts.foreground && opts.close_all_fds);
        assert_eq!(
            opts.overrides,
            vec![
                ("lxc.uts.name".into(), "x".into()),
                ("k".into(), "v".into())
            ]
        );
        assert_eq!(opts.pidfile, Some(PathBuf::from("/pid")));
        assert_eq!(opts.console_log, Some(PathBuf::from("/log")));
        assert_eq!(opts.console_file, Some(PathBuf::from("/con")));
        assert_eq!(opts.config_file, Some(PathBuf::from("/rc")));
        assert_eq!(opts.command, vec!["/bin/sh", "-c", "true"]);
        let Action::Start { opts, .. } = ok(&["start", "web", "-F", "-d"]).action else {
            panic!()
        };
        assert!(!opts.foreground);
        let Action::Start { opts, .. } = ok(&["start", "web"]).action else {
            panic!()
        };
        assert!(!opts.foreground && opts.command.is_empty());
    }

    #[test]
    fn stop() {
        let Action::Stop { opts, extras, .. } = ok(&["stop", "web", "-t", "-1"]).action else {
            panic!()
        };
        assert_eq!(opts.timeout, Some(-1));
        assert!(!opts.kill && !extras.nokill);
        let Action::Stop { opts, .. } = ok(&["stop", "web", "-k"]).action else {
            panic!()
        };
        assert!(opts.kill);
        let Action::Stop { opts, extras, .. } = ok(&["stop", "web", "-r", "-W", "--nokill"]).action
        else {
            panic!()
        };
        assert!(opts.reboot && opts.nowait && extras.nokill);
        assert!(err(&["stop", "web", "-k", "--nokill"])
            .stderr
            .contains("--nokill"));
        assert!(err(&["stop", "web", "-k", "-t", "3"])
            .stderr
            .contains("no -t timeout"));
        assert!(err(&["stop", "web", "-t", "-5"])
            .stderr
            .contains("invalid timeout"));
    }

    #[test]
    fn attach() {
        let i = ok(&[
            "attach",
            "web",
            "-e",
            "--clear-env",
            "-v",
            "A=1",
            "--keep-var",
            "TERM",
            "-u",
            "0",
            "-g",
            "0",
            "--",
            "ls",
            "-la",
        ]);
        let Action::Attach { name, opts } = i.action else {
            panic!()
        };
        assert_eq!(name, "web");
        assert_eq!(opts.env_policy, EnvPolicy::Clear);
        assert_eq!(opts.set_env, vec![("A".into(), "1".into())]);
        assert_eq!(opts.keep_vars, vec!["TERM"]);
        assert_eq!((opts.uid, opts.gid), (Some(0), Some(0)));
        assert_eq!(opts.command, vec!["ls", "-la"]);
        let Action::Attach { opts, .. } =
            ok(&["attach", "web", "--elevated-privileges=CAP"]).action
        else {
            panic!()
        };
        assert_eq!(opts.env_policy, EnvPolicy::Keep);
        assert!(opts.command.is_empty());
        let Action::Attach { opts, .. } =
            ok(&["attach", "web", "--clear-env", "--keep-env"]).action
        else {
            panic!()
        };
        assert_eq!(opts.env_policy, EnvPolicy::Keep);
        assert!(err(&["attach", "web", "-s", "NETWORK"])
            .stderr
            .contains("not supported"));
        assert!(err(&["attach", "web", "-v", "X"])
            .stderr
            .contains("VAR=VALUE"));
    }

    #[test]
    fn execute() {
        let Action::Execute { name, opts } =
            ok(&["execute", "app", "-s", "a=b", "-u", "1", "--", "echo", "hi"]).action
        else {
            panic!()
        };
        assert_eq!(name, "app");
        assert_eq!(opts.overrides, vec![("a".into(), "b".into())]);
        assert_eq!(opts.uid, Some(1));
        assert_eq!(opts.command, vec!["echo", "hi"]);
    }

    #[test]
    fn cgroup_and_config_operands() {
        let Action::Cgroup { name, key, value } = ok(&["cgroup", "web", "devices.list"]).action
        else {
            panic!()
        };
        assert_eq!(
            (name.as_str(), key.as_str(), value),
            ("web", "devices.list", None)
        );
        let Action::Cgroup { name, key, value } =
            ok(&["cgroup", "-n", "web", "pids.max", "10"]).action
        else {
            panic!()
        };
        assert_eq!(
            (name.as_str(), key.as_str(), value.as_deref()),
            ("web", "pids.max", Some("10"))
        );
        let Action::Cgroup { name, key, value } = ok(&["cgroup", "web", "pids.max", "10"]).action
        else {
            panic!()
        };
        assert_eq!(
            (name.as_str(), key.as_str(), value.as_deref()),
            ("web", "pids.max", Some("10"))
        );
        assert!(err(&["cgroup", "web"]).stderr.contains("hako cgroup NAME"));
        let Action::ConfigItem { name, key } = ok(&["config", "web", "lxc.uts.name"]).action else {
            panic!()
        };
        assert_eq!((name.as_str(), key.as_str()), ("web", "lxc.uts.name"));
        let Action::ConfigItem { name, key } = ok(&["config", "-n", "web", "lxc.arch"]).action
        else {
            panic!()
        };
        assert_eq!((name.as_str(), key.as_str()), ("web", "lxc.arch"));
        assert!(p(&["config", "web"]).is_err());
    }

    #[test]
    fn info_ls_format() {
        let Action::Info { req, .. } = ok(&["info", "web", "--format", "json"]).action else {
            panic!()
        };
        assert_eq!(req.format, Format::Json);
        assert!(req.is_full());
        let Action::Info { req, .. } = ok(&["info", "web", "-pH", "-c", "lxc.arch"]).action else {
            panic!()
        };
        assert!(req.pid && !req.humanize && req.keys == vec!["lxc.arch"]);
        let Action::Ls(r) = ok(&["ls", "--format=json", "--running"]).action else {
            panic!()
        };
        assert_eq!(r.format, Format::Json);
        assert!(r.running);
        let Action::Ls(r) = ok(&["ls", "-F", "name,state"]).action else {
            panic!()
        };
        assert_eq!(r.fancy, Some(vec![Column::Name, Column::State]));
        let Action::Ls(r) = ok(&["ls", "-f", "web.*"]).action else {
            panic!()
        };
        assert_eq!(r.fancy, Some(Column::DEFAULT.to_vec()));
        assert_eq!(r.filter.as_deref(), Some("web.*"));
        assert!(p(&["ls", "--format", "yaml"]).is_err());
    }

    #[test]
    fn wait_and_console() {
        let Action::Wait {
            states, timeout, ..
        } = ok(&["wait", "web", "-s", "RUNNING|FROZEN", "-t", "3"]).action
        else {
            panic!()
        };
        assert_eq!(states, vec![State::Running, State::Frozen]);
        assert_eq!(timeout, Some(Duration::from_secs(3)));
        assert!(p(&["wait", "web"]).is_err());
        let Action::Console { tty, escape, .. } =
            ok(&["console", "web", "-t", "1", "-e", "b"]).action
        else {
            panic!()
        };
        assert_eq!((tty, escape), (1, b'b'));
    }

    #[test]
    fn checkconfig_links_root() {
        assert!(matches!(
            ok(&["checkconfig"]).action,
            Action::CheckConfig { name: None }
        ));
        let Action::CheckConfig { name } = ok(&["checkconfig", "web"]).action else {
            panic!()
        };
        assert_eq!(name.as_deref(), Some("web"));
        let a = ok(&["compat-links", "/usr/local/bin"]).action;
        assert!(!a.needs_root());
        let Action::CompatLinks { dir } = a else {
            panic!()
        };
        assert_eq!(dir, PathBuf::from("/usr/local/bin"));
        for (args, root) in [
            (&["create", "a", "-t", "none"][..], true),
            (&["destroy", "a"][..], true),
            (&["start", "a"][..], true),
            (&["stop", "a"][..], true),
            (&["attach", "a"][..], true),
            (&["execute", "a"][..], true),
            (&["freeze", "a"][..], true),
            (&["unfreeze", "a"][..], true),
            (&["console", "a"][..], true),
            (&["cgroup", "a", "k", "v"][..], true),
            (&["cgroup", "a", "k"][..], false),
            (&["info", "a"][..], false),
            (&["ls"][..], false),
            (&["wait", "a", "-s", "RUNNING"][..], false),
            (&["config", "a", "k"][..], false),
            (&["checkconfig"][..], false),
            (&["version"][..], false),
        ] {
            assert_eq!(ok(args).action.needs_root(), root, "{args:?}");
        }
    }

    #[test]
    fn file_push_pull() {
        let Action::FilePush {
            name,
            local,
            remote,
            opts,
        } = ok(&[
            "file",
            "push",
            "--uid",
            "1000",
            "--gid",
            "100",
            "--mode",
            "0640",
            "/tmp/x",
            "web:/etc/x",
        ])
        .action
        else {
            panic!()
        };
        assert_eq!(
            (name.as_str(), local, remote.as_str()),
            ("web", PathBuf::from("/tmp/x"), "/etc/x")
        );
        assert_eq!(
            (opts.recursive, opts.uid, opts.gid, opts.mode),
            (false, Some(1000), Some(100), Some(0o640))
        );
        let Action::FilePush { opts, remote, .. } =
            ok(&["file", "push", "-r", "/tmp/d", "web:/tmp/"]).action
        else {
            panic!()
        };
        assert!(opts.recursive && opts.uid.is_none() && opts.mode.is_none());
        assert_eq!(remote, "/tmp/");
        let Action::FilePull {
            name,
            remote,
            local,
            opts,
        } = ok(&["file", "pull", "-r", "web:/etc", "/tmp/out"]).action
        else {
            panic!()
        };
        assert_eq!(
            (name.as_str(), remote.as_str(), local, opts.recursive),
            ("web", "/etc", PathBuf::from("/tmp/out"), true)
        );
        // setuid bits and o+w are stripped unless asked
        assert!(!opts.keep_mode);
        let Action::FilePull { opts, .. } =
            ok(&["file", "pull", "--keep-mode", "web:/bin/su", "/tmp/su"]).action
        else {
            panic!()
        };
        assert_eq!(
            opts,
            crate::files::PullOptions {
                recursive: false,
                keep_mode: true
            }
        );
        // LXC's globals anywhere
        let i = ok(&["file", "pull", "web:/a", "b", "-P", "/lp"]);
        assert_eq!(i.globals.lxcpath, Some(PathBuf::from("/lp")));
        assert!(i.action.needs_root());
        assert_eq!(i.action.verb(), "file pull");
        for (args, want) in [
            (
                &["file", "push", "/x", "web"][..],
                "invalid container path \"web\"",
            ),
            (
                &["file", "push", "/x", "web:etc"][..],
                "NAME:/absolute/path",
            ),
            (&["file", "push", "/x", ":/etc"][..], "NAME:/absolute/path"),
            (
                &["file", "pull", "/etc/x", "/tmp"][..],
                "invalid container path",
            ),
            (
                &["file", "push", "--mode", "rw", "/x", "w:/x"][..],
                "invalid mode \"rw\"",
            ),
            (
                &["file", "push", "--mode", "0888", "/x", "w:/x"][..],
                "invalid mode",
            ),
            (
                &["file", "push", "--mode", "17777", "/x", "w:/x"][..],
                "invalid mode",
            ),
            (
                &["file", "push", "--uid", "1x", "/x", "w:/x"][..],
                "invalid uid",
            ),
            (
                &["file", "push", "--gid", "x", "/x", "w:/x"][..],
                "invalid gid",
            ),
        ] {
            let e = err(args);
            assert_eq!(e.code, 2, "{args:?}");
            assert!(e.stderr.contains(want), "{args:?}: {}", e.stderr);
            assert_eq!(e.stderr.lines().count(), 1, "{args:?}: {}", e.stderr);
        }
        assert_eq!(err(&["file"]).code, 2);
        assert_eq!(err(&["file", "push", "/x"]).code, 2);
        assert_eq!(err(&["file", "pull", "w:/x"]).code, 2);
        assert_eq!(err(&["file", "push", "/a", "w:/b", "w:/c"]).code, 2);
        assert_eq!(parse_mode("755"), Ok(0o755));
        assert_eq!(parse_mode("0o4755"), Ok(0o4755));
        assert!(parse_mode("").is_err());
    }

    #[test]
    fn autostart() {
        use crate::autostart::{AutostartAction, AutostartOptions};
        let a = |args: &[&str]| match ok(args).action {
            Action::Autostart(o) => o,
            other => panic!("{other:?}"),
        };
        assert_eq!(a(&["autostart"]), AutostartOptions::default());
        let o = a(&["autostart", "-L", "-a", "-A", "-s", "-t", "30"]);
        assert_eq!(
            o,
            AutostartOptions {
                action: AutostartAction::Shutdown,
                all: true,
                ignore_auto: true,
                groups: vec![],
                list: true,
                timeout: Some(30),
            }
        );
        // -g repeats and accumulates, an empty entry is the NULL group, duplicates dropped
        let o = a(&[
            "autostart",
            "-g",
            "onboot,",
            "--groups",
            "web",
            "-g",
            "onboot",
        ]);
        assert_eq!(o.groups, vec!["onboot", "", "web"]);
        let o = a(&["autostart", "-g", "", "-g", "web"]);
        assert_eq!(o.groups, vec!["", "web"]);
        assert_eq!(a(&["autostart", "-k"]).action, AutostartAction::Kill);
        assert_eq!(
            a(&["autostart", "--reboot"]).action,
            AutostartAction::Reboot
        );
        assert!(a(&["autostart", "--kill", "--list"]).list);
        assert_eq!(a(&["autostart", "-s", "-t", "-1"]).timeout, Some(-1));
        for bad in [
            &["autostart", "-s", "-k"][..],
            &["autostart", "-k", "-r"][..],
            &["autostart", "-s", "-r"][..],
        ] {
            let e = err(bad);
            assert_eq!(e.code, 2);
            assert!(e.stderr.contains("at most one of -s"), "{}", e.stderr);
        }
        assert!(err(&["autostart", "-t", "x"])
            .stderr
            .contains("invalid timeout"));
        assert_eq!(err(&["autostart", "web"]).code, 2);
        // -L only reads; acting needs root
        assert!(!ok(&["autostart", "-L"]).action.needs_root());
        assert!(ok(&["autostart"]).action.needs_root());
        assert!(ok(&["autostart", "-s"]).action.needs_root());
        assert_eq!(ok(&["autostart"]).action.verb(), "autostart");
    }

    fn net(args: &[&str]) -> NetworkAction {
        let mut v = vec!["network"];
        v.extend_from_slice(args);
        match ok(&v).action {
            Action::Network(n) => n,
            a => panic!("{args:?}: {a:?}"),
        }
    }

    fn net_create(args: &[&str]) -> (String, crate::network::CreateNetOpts) {
        let mut v = vec!["create"];
        v.extend_from_slice(args);
        match net(&v) {
            NetworkAction::Create { name, opts } => (name, opts),
            a => panic!("{a:?}"),
        }
    }

    #[test]
    fn network_create_variants() {
        use crate::network::{CreateNetOpts, Ipv4Choice};
        // defaults: auto IPv4, no IPv6, NAT and DHCP on
        let (name, opts) = net_create(&["hkn1"]);
        assert_eq!(name, "hkn1");
        assert_eq!(opts, CreateNetOpts::default());
        assert_eq!(opts.ipv4, Ipv4Choice::Auto);
        assert!(opts.nat && opts.dhcp && opts.ipv6.is_none() && opts.dns_domain.is_none());
        let (_, opts) = net_create(&[
            "hkn1",
            "--ipv4",
            "10.47.3.1/24",
            "--ipv6",
            "fd42:1:2:3::1/64",
            "--no-nat",
            "--no-dhcp",
            "--dns-domain",
            "lan.example",
        ]);
        assert_eq!(opts.ipv4, Ipv4Choice::Cidr("10.47.3.1/24".parse().unwrap()));
        assert_eq!(opts.ipv6, Some("fd42:1:2:3::1/64".parse().unwrap()));
        assert!(!opts.nat && !opts.dhcp);
        assert_eq!(opts.dns_domain.as_deref(), Some("lan.example"));
        let (_, opts) = net_create(&["hkn1", "--ipv4=none", "--ipv6=none", "--nat", "--dhcp"]);
        assert_eq!(opts.ipv4, Ipv4Choice::None);
        assert!(opts.ipv6.is_none() && opts.nat && opts.dhcp);
        let (_, opts) = net_create(&["--ipv4", "auto", "hkn1", "--no-nat"]);
        assert_eq!(opts.ipv4, Ipv4Choice::Auto);
        assert!(!opts.nat && opts.dhcp);
        // globals after the nested verb
        let i = ok(&["network", "create", "hkn1", "-P", "/tmp/p", "-q"]);
        assert_eq!(i.globals.lxcpath, Some(PathBuf::from("/tmp/p")));
        assert!(i.globals.quiet);
    }

    #[test]
    fn network_create_bad_input() {
        for (args, want) in [
            (&["--nat", "--no-nat"][..], "--no-nat"),
            (&["--no-dhcp", "--dhcp"][..], "--dhcp"),
            (
                &["--ipv4", "10.0.0.300/24"][..],
                "invalid IP address \"10.0.0.300/24\"",
            ),
            (&["--ipv4", "10.0.0.1"][..], "has no prefix length"),
            (&["--ipv4", "fd00::1/64"][..], "it is an IPv6 address"),
            (&["--ipv4", "10.0.0.1/33"][..], "not a prefix length"),
            (&["--ipv6", "10.1.1.1/24"][..], "it is an IPv4 address"),
            (&["--ipv6", "auto"][..], "--ipv6 auto is not supported"),
            (&["--dns-domain", "a..b"][..], "invalid DNS domain \"a..b\""),
        ] {
            let mut v = vec!["network", "create", "hkn1"];
            v.extend_from_slice(args);
            let e = err(&v);
            assert_eq!(e.code, 2, "{args:?}");
            assert!(e.stderr.contains(want), "{args:?}: {}", e.stderr);
        }
        // our own messages carry the prefix; the library's text is kept as is
        let e = err(&["network", "create", "hkn1", "--ipv4", "x"]);
        assert!(
            e.stderr.starts_with("hako: invalid IP address \"x\""),
            "{}",
            e.stderr
        );
        assert_eq!(e.stderr.lines().count(), 1);
        // a name is required
        assert_eq!(err(&["network", "create"]).code, 2);
        assert_eq!(err(&["network", "create", "--ipv4", "auto"]).code, 2);
    }

    #[test]
    fn network_other_verbs() {
        assert_eq!(
            net(&["ls"]),
            NetworkAction::Ls {
                format: Format::Text
            }
        );
        assert_eq!(
            net(&["list", "--format", "json"]),
            NetworkAction::Ls {
                format: Format::Json
            }
        );
        assert_eq!(
            net(&["show", "hkn1"]),
            NetworkAction::Show {
                name: "hkn1".into(),
                format: Format::Text
            }
        );
        assert_eq!(
            net(&["show", "hkn1", "--format=json"]),
            NetworkAction::Show {
                name: "hkn1".into(),
                format: Format::Json
            }
        );
        assert_eq!(
            net(&["leases", "hkn1", "--format", "json"]),
            NetworkAction::Leases {
                name: "hkn1".into(),
                format: Format::Json
            }
        );
        assert_eq!(
            net(&["rm", "hkn1"]),
            NetworkAction::Rm {
                name: "hkn1".into(),
                force: false
            }
        );
        assert_eq!(
            net(&["rm", "-f", "hkn1"]),
            NetworkAction::Rm {
                name: "hkn1".into(),
                force: true
            }
        );
        assert_eq!(
            net(&["remove", "hkn1", "--force"]),
            NetworkAction::Rm {
                name: "hkn1".into(),
                force: true
            }
        );
        assert_eq!(
            net(&["up", "hkn1"]),
            NetworkAction::Up {
                name: "hkn1".into()
            }
        );
        assert_eq!(
            net(&["down", "hkn1"]),
            NetworkAction::Down {
                name: "hkn1".into(),
                force: false
            }
        );
        assert_eq!(
            net(&["down", "hkn1", "-f"]),
            NetworkAction::Down {
                name: "hkn1".into(),
                force: true
            }
        );
        for bad in [
            &["network"][..],
            &["network", "show"][..],
            &["network", "leases"][..],
            &["network", "rm"][..],
            &["network", "up"][..],
            &["network", "up", "a", "b"][..],
            &["network", "ls", "--format", "yaml"][..],
            &["network", "frob"][..],
        ] {
            assert_eq!(err(bad).code, 2, "{bad:?}");
        }
    }

    #[test]
    fn network_root_and_verbs() {
        for (args, root, verb) in [
            (&["network", "create", "n"][..], true, "network create"),
            (&["network", "rm", "n"][..], true, "network rm"),
            (&["network", "up", "n"][..], true, "network up"),
            (&["network", "down", "n"][..], true, "network down"),
            (&["network", "ls"][..], false, "network ls"),
            (&["network", "show", "n"][..], false, "network show"),
            (&["network", "leases", "n"][..], false, "network leases"),
        ] {
            let a = ok(args).action;
            assert_eq!(a.needs_root(), root, "{args:?}");
            assert_eq!(a.verb(), verb);
        }
        let a = ok(&["network", "rm", "n"]).action;
        assert_eq!(
            super::super::run::root_check(&a, 1000).unwrap_err(),
            "network rm needs root (running as uid 1000); run it with sudo"
        );
    }
}
