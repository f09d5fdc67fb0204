//! The clap definitions of `hako`'s verbs (the `network` and `file` groups are in their
//! own files).

use std::path::PathBuf;

use clap::Subcommand;

use super::file::FileCmd;
use super::network::NetCmd;
use super::{FormatArg, NameArg};

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub(super) enum Cmd {
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
        /// Keep the caller's privileges: CAP (capabilities), CGROUP (not moved into the container's cgroup), LSM (no AppArmor label); '|'-separated, all without a value.
        #[arg(short = 'e', long = "elevated-privileges", value_name = "PRIVILEGES", num_args = 0..=1, require_equals = true)]
        elevated: Option<Option<String>>,
        /// Architecture of the command (the host's only).
        #[arg(short = 'a', long = "arch", value_name = "ARCH")]
        arch: Option<String>,
        /// Enter only these namespaces: MOUNT, PID, UTSNAME, IPC, USER, NETWORK, CGROUP ('|'-separated); the host's others are kept.
        #[arg(short = 's', long = "namespaces", value_name = "NAMESPACES")]
        namespaces: Option<String>,
        /// With -s lacking MOUNT: a private mount namespace with /proc and /sys remounted for the namespaces joined.
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
        /// Append the command's terminal output to this host file too (only when a pty is used).
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
    /// Print state changes of containers as they happen, one line each (LXC's lines, or a
    /// JSON object per line with --format json); runs until interrupted. Costs nothing
    /// while nothing happens.
    Monitor {
        /// Only these containers (default: every container of the lxcpath, including ones
        /// not created yet).
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        /// Output format.
        #[arg(long = "format", value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
    },
    /// CPU, block I/O and memory of the running containers: a refreshing table on a
    /// terminal, CSV lines with -b (as lxc-top -b), one JSON sample with --format json.
    Top {
        /// Seconds between refreshes.
        #[arg(short = 'd', long = "delay", value_name = "SECS")]
        delay: Option<String>,
        /// CSV lines, one per container and refresh (also when stdout is not a terminal).
        #[arg(short = 'b', long = "batch")]
        batch: bool,
        /// Sort by n (name), c (CPU), b (block I/O), m (memory), s (memory + swap), k
        /// (kernel memory).
        #[arg(short = 's', long = "sort", value_name = "KEY")]
        sort: Option<String>,
        /// Descending order.
        #[arg(short = 'r', long = "reverse")]
        reverse: bool,
        /// Stop after N refreshes (default: until interrupted).
        #[arg(short = 'n', long = "iterations", value_name = "N")]
        iterations: Option<u64>,
        /// Output format (json: one sample).
        #[arg(long = "format", value_enum, default_value_t = FormatArg::Text)]
        format: FormatArg,
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
        /// NAME KEY, or `upgrade FILE` (rewrite a config file's legacy keys, keeping
        /// FILE.backup, as lxc-update-config)
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
    /// Add a device to a running container, or remove it: a host network interface
    /// (moved in, renamed DEST there; given back at rm and at stop), a device node
    /// (/dev/ttyUSB0: made in its /dev and allowed in its device cgroup), or a host
    /// directory or file (bind-mounted at DEST).
    #[command(
        after_help = "Examples:\n  hako device add web /dev/ttyUSB0\n  hako device add web eth1 lan0\n  hako device add web /srv/data /data --readonly --persist\n  hako device rm web /data\n  hako device rm web lan0"
    )]
    Device {
        /// add or rm
        #[arg(value_name = "add|rm")]
        op: String,
        /// The container.
        #[arg(value_name = "NAME")]
        name: String,
        /// add: a host interface, device node, directory or file; rm: the interface or
        /// path inside the container
        #[arg(value_name = "DEV")]
        src: String,
        /// add: its name or path inside (default: the same); rm: an interface's name back
        /// on the host (default: the one it had)
        #[arg(value_name = "DEST")]
        dest: Option<String>,
        /// Also write the change into the container's config (add) or remove it (rm).
        #[arg(long)]
        persist: bool,
        /// Bind mounts: read-only inside the container.
        #[arg(long)]
        readonly: bool,
    },
    /// Run a command in new namespaces (lxc-unshare).
    Unshare {
        /// Namespaces separated by '|': MOUNT, PID, UTSNAME, IPC, USER, NETWORK, CGROUP.
        #[arg(
            short = 's',
            long = "namespaces",
            value_name = "FLAGS",
            required = true
        )]
        namespaces: Vec<String>,
        /// Become this user id.
        #[arg(short = 'u', long = "user", value_name = "UID")]
        user: Option<u32>,
        /// Host name in the new UTS namespace.
        #[arg(short = 'H', long = "hostname", value_name = "NAME")]
        hostname: Option<String>,
        /// Move this host interface into the new network namespace (repeatable).
        #[arg(short = 'i', long = "ifname", value_name = "IFNAME")]
        ifname: Vec<String>,
        /// Do not wait for the command (its pid is printed).
        #[arg(short = 'd', long = "daemon")]
        daemon: bool,
        /// Mount /proc, /dev/shm and /dev/mqueue afresh (with MOUNT).
        #[arg(short = 'M', long = "remount")]
        remount: bool,
        /// The command (default /bin/sh), after `--`.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub(super) enum ImageCmd {
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
        #[arg(value_name = "IMAGE", add = crate::cli::docs::image_candidates())]
        name: String,
    },
}
