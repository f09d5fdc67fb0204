//! What a command line asks for, independent of the face it was written in. Both parsers
//! (`hako ...` and `lxc-*`) produce an [`Invocation`]; [`super::run`] carries it out
//! against the facade. Parsing is pure, so the tests check argument vectors against these
//! values without running anything.

use std::path::PathBuf;
use std::time::Duration;

use crate::{AttachOptions, CreateOptions, ExecuteOptions, StartOptions, State, StopOptions};

/// The LXC tools hako answers to when called through a link of that name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Create,
    Destroy,
    Start,
    Stop,
    Attach,
    Execute,
    Freeze,
    Unfreeze,
    Cgroup,
    Info,
    Ls,
    Wait,
    Console,
    Checkconfig,
    Config,
    Copy,
    Snapshot,
    Autostart,
    Usernsexec,
    Monitor,
    UpdateConfig,
    Top,
    Unshare,
    Device,
}

impl Tool {
    pub const ALL: [Tool; 24] = [
        Tool::Create,
        Tool::Destroy,
        Tool::Start,
        Tool::Stop,
        Tool::Attach,
        Tool::Execute,
        Tool::Freeze,
        Tool::Unfreeze,
        Tool::Cgroup,
        Tool::Info,
        Tool::Ls,
        Tool::Wait,
        Tool::Console,
        Tool::Checkconfig,
        Tool::Config,
        Tool::Copy,
        Tool::Snapshot,
        Tool::Autostart,
        Tool::Usernsexec,
        Tool::Monitor,
        Tool::UpdateConfig,
        Tool::Top,
        Tool::Unshare,
        Tool::Device,
    ];

    /// The program name, `lxc-start` etc.
    pub fn program(self) -> &'static str {
        match self {
            Tool::Create => "lxc-create",
            Tool::Destroy => "lxc-destroy",
            Tool::Start => "lxc-start",
            Tool::Stop => "lxc-stop",
            Tool::Attach => "lxc-attach",
            Tool::Execute => "lxc-execute",
            Tool::Freeze => "lxc-freeze",
            Tool::Unfreeze => "lxc-unfreeze",
            Tool::Cgroup => "lxc-cgroup",
            Tool::Info => "lxc-info",
            Tool::Ls => "lxc-ls",
            Tool::Wait => "lxc-wait",
            Tool::Console => "lxc-console",
            Tool::Checkconfig => "lxc-checkconfig",
            Tool::Config => "lxc-config",
            Tool::Copy => "lxc-copy",
            Tool::Snapshot => "lxc-snapshot",
            Tool::Autostart => "lxc-autostart",
            Tool::Usernsexec => "lxc-usernsexec",
            Tool::Monitor => "lxc-monitor",
            Tool::UpdateConfig => "lxc-update-config",
            Tool::Top => "lxc-top",
            Tool::Unshare => "lxc-unshare",
            Tool::Device => "lxc-device",
        }
    }

    pub fn from_program(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.program() == name)
    }
}

/// Which face the command line was written for; decides defaults, the error prefix and
/// the exit code of usage errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Face {
    Hako,
    Lxc(Tool),
}

impl Face {
    /// `hako` or `lxc-start`: the prefix of error lines.
    pub fn program(self) -> &'static str {
        match self {
            Face::Hako => "hako",
            Face::Lxc(t) => t.program(),
        }
    }

    pub fn flavour(self) -> crate::Flavour {
        match self {
            Face::Hako => crate::Flavour::Hako,
            Face::Lxc(_) => crate::Flavour::Lxc,
        }
    }

    /// Exit code of a command line that cannot be parsed: LXC's tools exit 1, clap's
    /// convention (used by the hako face) is 2.
    pub fn usage_exit_code(self) -> i32 {
        match self {
            Face::Hako => 2,
            Face::Lxc(_) => 1,
        }
    }
}

/// LXC's log priorities (`-l`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Notice,
    Warn,
    Error,
    Crit,
    Alert,
    Fatal,
}

impl LogLevel {
    /// Case-insensitive, as LXC. `WARNING` is accepted for `WARN`.
    pub fn parse(s: &str) -> Option<LogLevel> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "TRACE" => LogLevel::Trace,
            "DEBUG" => LogLevel::Debug,
            "INFO" => LogLevel::Info,
            "NOTICE" => LogLevel::Notice,
            "WARN" | "WARNING" => LogLevel::Warn,
            "ERROR" => LogLevel::Error,
            "CRIT" => LogLevel::Crit,
            "ALERT" => LogLevel::Alert,
            "FATAL" => LogLevel::Fatal,
            _ => return None,
        })
    }

    /// tracing has five levels; NOTICE maps to INFO, CRIT/ALERT/FATAL to ERROR.
    pub fn to_tracing(self) -> tracing::Level {
        match self {
            LogLevel::Trace => tracing::Level::TRACE,
            LogLevel::Debug => tracing::Level::DEBUG,
            LogLevel::Info | LogLevel::Notice => tracing::Level::INFO,
            LogLevel::Warn => tracing::Level::WARN,
            LogLevel::Error | LogLevel::Crit | LogLevel::Alert | LogLevel::Fatal => {
                tracing::Level::ERROR
            }
        }
    }
}

/// Options every verb takes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Globals {
    /// `-P`
    pub lxcpath: Option<PathBuf>,
    /// `-l`
    pub log_level: Option<LogLevel>,
    /// `-o`
    pub log_file: Option<PathBuf>,
    /// `-q`
    pub quiet: bool,
}

/// `--format`
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// What `info` prints (lxc-info's flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InfoRequest {
    /// `-s`
    pub state: bool,
    /// `-p`
    pub pid: bool,
    /// `-i`
    pub ips: bool,
    /// `-S`
    pub stats: bool,
    /// false with `-H`
    pub humanize: bool,
    /// `-c KEY` (repeatable)
    pub keys: Vec<String>,
    pub format: Format,
}

impl Default for InfoRequest {
    fn default() -> Self {
        InfoRequest {
            state: false,
            pid: false,
            ips: false,
            stats: false,
            humanize: true,
            keys: Vec::new(),
            format: Format::Text,
        }
    }
}

impl InfoRequest {
    /// No selection flag at all: print everything, with the Name line.
    pub fn is_full(&self) -> bool {
        !self.state && !self.pid && !self.ips && !self.stats && self.keys.is_empty()
    }

    /// lxc-info counts what was asked for (-S counts 5); with `-H` and exactly one field
    /// asked for, the bare value is printed without its label.
    pub fn filter_count(&self) -> u32 {
        self.state as u32 + self.pid as u32 + self.ips as u32 + 5 * self.stats as u32
    }
}

/// A column of `ls -f` / `ls -F`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Name,
    State,
    Pid,
    Ram,
    Swap,
    Autostart,
    Groups,
    Interface,
    Ipv4,
    Ipv6,
    Unprivileged,
}

impl Column {
    /// The default fancy table.
    pub const DEFAULT: [Column; 7] = [
        Column::Name,
        Column::State,
        Column::Autostart,
        Column::Groups,
        Column::Ipv4,
        Column::Ipv6,
        Column::Unprivileged,
    ];

    pub fn parse(s: &str) -> Option<Column> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "NAME" => Column::Name,
            "STATE" => Column::State,
            "PID" => Column::Pid,
            "RAM" => Column::Ram,
            "SWAP" => Column::Swap,
            "AUTOSTART" => Column::Autostart,
            "GROUPS" => Column::Groups,
            "INTERFACE" => Column::Interface,
            "IPV4" => Column::Ipv4,
            "IPV6" => Column::Ipv6,
            "UNPRIVILEGED" => Column::Unprivileged,
            _ => return None,
        })
    }

    pub fn header(self) -> &'static str {
        match self {
            Column::Name => "NAME",
            Column::State => "STATE",
            Column::Pid => "PID",
            Column::Ram => "RAM",
            Column::Swap => "SWAP",
            Column::Autostart => "AUTOSTART",
            Column::Groups => "GROUPS",
            Column::Interface => "INTERFACE",
            Column::Ipv4 => "IPV4",
            Column::Ipv6 => "IPV6",
            Column::Unprivileged => "UNPRIVILEGED",
        }
    }

    /// Parses `-F name,state,...`.
    pub fn parse_list(s: &str) -> Result<Vec<Column>, String> {
        let mut cols = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match Column::parse(part) {
                Some(c) => cols.push(c),
                None => {
                    return Err(format!(
                        "invalid column \"{part}\" in the fancy format; valid columns are NAME, STATE, PID, RAM, SWAP, AUTOSTART, GROUPS, INTERFACE, IPV4, IPV6, UNPRIVILEGED"
                    ))
                }
            }
        }
        if cols.is_empty() {
            return Err("empty fancy format; give a comma separated list of columns such as NAME,STATE,IPV4".into());
        }
        Ok(cols)
    }
}

/// What `ls` prints and which containers it keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LsRequest {
    /// `-1`
    pub one_per_line: bool,
    /// `-f` (or `-F` on the hako face): the table with these columns.
    pub fancy: Option<Vec<Column>>,
    pub running: bool,
    pub stopped: bool,
    pub frozen: bool,
    pub active: bool,
    pub defined: bool,
    /// `-g a,b`: a container must be in all of them.
    pub groups: Vec<String>,
    /// `--filter REGEX` or the one positional argument (POSIX extended regex, as LXC).
    pub filter: Option<String>,
    pub format: Format,
}

/// `lxc-config`
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SystemConfigRequest {
    /// `-l`
    List,
    Item(String),
}

/// `lxc-stop` flags that the facade's [`StopOptions`] does not carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StopExtras {
    /// `--nokill`
    pub nokill: bool,
}

/// `hako network ...` (managed networks; the hako face only, LXC has no equivalent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetworkAction {
    Create {
        name: String,
        opts: crate::network::CreateNetOpts,
    },
    Ls {
        format: Format,
    },
    Show {
        name: String,
        format: Format,
    },
    Leases {
        name: String,
        format: Format,
    },
    Rm {
        name: String,
        force: bool,
    },
    Up {
        name: String,
    },
    Down {
        name: String,
        force: bool,
    },
}

impl NetworkAction {
    /// `network create` etc., for messages.
    pub fn verb(&self) -> &'static str {
        match self {
            NetworkAction::Create { .. } => "network create",
            NetworkAction::Ls { .. } => "network ls",
            NetworkAction::Show { .. } => "network show",
            NetworkAction::Leases { .. } => "network leases",
            NetworkAction::Rm { .. } => "network rm",
            NetworkAction::Up { .. } => "network up",
            NetworkAction::Down { .. } => "network down",
        }
    }

    /// Changing a network (bridge, nftables, dnsmasq, definitions) needs root; reading
    /// does not (as far as the files are readable).
    pub fn needs_root(&self) -> bool {
        match self {
            NetworkAction::Create { .. }
            | NetworkAction::Rm { .. }
            | NetworkAction::Up { .. }
            | NetworkAction::Down { .. } => true,
            NetworkAction::Ls { .. }
            | NetworkAction::Show { .. }
            | NetworkAction::Leases { .. } => false,
        }
    }
}

#[derive(Debug)]
pub enum Action {
    Create {
        name: String,
        opts: CreateOptions,
    },
    Destroy {
        name: String,
        force: bool,
        /// `-s`: its snapshots too
        snapshots: bool,
    },
    /// `copy` / `lxc-copy`
    Copy {
        opts: crate::storage::CopyOptions,
    },
    /// `snapshot` / `lxc-snapshot`
    Snapshot {
        name: String,
        req: crate::storage::SnapshotRequest,
        format: Format,
    },
    /// `image ls|rm`
    Image {
        req: crate::storage::ImageRequest,
        format: Format,
    },
    Start {
        name: String,
        opts: StartOptions,
    },
    Stop {
        name: String,
        opts: StopOptions,
        extras: StopExtras,
    },
    Attach {
        name: String,
        opts: AttachOptions,
    },
    Execute {
        name: String,
        opts: ExecuteOptions,
    },
    Freeze {
        name: String,
    },
    Unfreeze {
        name: String,
    },
    Cgroup {
        name: String,
        key: String,
        value: Option<String>,
    },
    Info {
        name: String,
        req: InfoRequest,
    },
    Ls(LsRequest),
    Wait {
        name: String,
        states: Vec<State>,
        /// None: forever
        timeout: Option<Duration>,
    },
    Console {
        name: String,
        tty: u32,
        /// the Ctrl letter of the escape prefix, lower case (`b'a'` = Ctrl-a)
        escape: u8,
    },
    /// `hako config NAME KEY`
    ConfigItem {
        name: String,
        key: String,
    },
    /// `hako config NAME --upgrade`: rewrite legacy keys in the container's config
    ConfigUpgrade {
        name: String,
    },
    /// `hako config upgrade FILE` / `lxc-update-config -c FILE`: rewrite legacy keys in a
    /// config file, keeping the old one as FILE.backup
    ConfigUpgradeFile {
        path: PathBuf,
    },
    /// `hako monitor [NAMES]` / `lxc-monitor [-n REGEX]`: state changes as they happen
    Monitor(MonitorRequest),
    /// `hako top` / `lxc-top`: the running containers' counters
    Top(TopRequest),
    /// `hako unshare` / `lxc-unshare`: a command in new namespaces
    Unshare(crate::unshare::UnshareOptions),
    /// `hako device add|rm` / `lxc-device add|del`
    Device {
        name: String,
        req: crate::device::DeviceRequest,
    },
    /// `lxc-config`
    SystemConfig(SystemConfigRequest),
    /// `checkconfig` (kernel) or `checkconfig NAME` (that container's config)
    CheckConfig {
        name: Option<String>,
    },
    Version,
    CompatLinks {
        dir: PathBuf,
    },
    /// `hako network ...`
    Network(NetworkAction),
    /// `hako file push [-r] [--uid N] [--gid N] [--mode OCTAL] LOCAL NAME:/path`
    FilePush {
        name: String,
        local: PathBuf,
        /// the path inside the container (absolute)
        remote: String,
        opts: crate::files::PushOptions,
    },
    /// `hako file pull [-r] NAME:/path LOCAL`
    FilePull {
        name: String,
        remote: String,
        local: PathBuf,
        opts: crate::files::PullOptions,
    },
    /// `hako autostart` / `lxc-autostart`
    Autostart(crate::autostart::AutostartOptions),
    /// `hako usernsexec` / `lxc-usernsexec`
    Usernsexec(crate::usernsexec::UsernsexecOptions),
}

impl Action {
    /// The verb as the hako face spells it (used in messages).
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Create { .. } => "create",
            Action::Destroy { .. } => "destroy",
            Action::Copy { .. } => "copy",
            Action::Snapshot { .. } => "snapshot",
            Action::Image { .. } => "image",
            Action::Start { .. } => "start",
            Action::Stop { .. } => "stop",
            Action::Attach { .. } => "attach",
            Action::Execute { .. } => "execute",
            Action::Freeze { .. } => "freeze",
            Action::Unfreeze { .. } => "unfreeze",
            Action::Cgroup { .. } => "cgroup",
            Action::Info { .. } => "info",
            Action::Ls(_) => "ls",
            Action::Wait { .. } => "wait",
            Action::Console { .. } => "console",
            Action::ConfigItem { .. }
            | Action::ConfigUpgrade { .. }
            | Action::ConfigUpgradeFile { .. }
            | Action::SystemConfig(_) => "config",
            Action::Monitor(_) => "monitor",
            Action::Top(_) => "top",
            Action::Unshare(_) => "unshare",
            Action::Device { .. } => "device",
            Action::CheckConfig { .. } => "checkconfig",
            Action::Version => "version",
            Action::CompatLinks { .. } => "compat-links",
            Action::Network(n) => n.verb(),
            Action::FilePush { .. } => "file push",
            Action::FilePull { .. } => "file pull",
            Action::Autostart(_) => "autostart",
            Action::Usernsexec(_) => "usernsexec",
        }
    }

    /// Commands that change state need root; reading does not.
    /// A command [`Action::needs_root`] says changes state that a non-root caller may run
    /// on its own containers (rootless: its lxcpath, its id range, its runtime dir).
    pub fn rootless_ok(&self) -> bool {
        matches!(
            self,
            Action::Create { .. }
                | Action::Destroy { .. }
                | Action::Start { .. }
                | Action::Stop { .. }
                | Action::Attach { .. }
                | Action::Console { .. }
        )
    }

    pub fn needs_root(&self) -> bool {
        match self {
            Action::Create { .. }
            | Action::Destroy { .. }
            | Action::Copy { .. }
            | Action::Start { .. }
            | Action::Stop { .. }
            | Action::Attach { .. }
            | Action::Execute { .. }
            | Action::Freeze { .. }
            | Action::Unfreeze { .. }
            | Action::Console { .. }
            | Action::ConfigUpgrade { .. }
            | Action::FilePush { .. }
            | Action::FilePull { .. }
            | Action::Device { .. } => true,
            // -L only reads the configs and states
            Action::Autostart(o) => !o.list,
            Action::Cgroup { value, .. } => value.is_some(),
            Action::Snapshot { req, .. } => {
                !matches!(req, crate::storage::SnapshotRequest::List { .. })
            }
            Action::Image { req, .. } => !matches!(req, crate::storage::ImageRequest::Ls),
            Action::Network(n) => n.needs_root(),
            Action::Info { .. }
            | Action::Ls(_)
            | Action::Wait { .. }
            | Action::ConfigItem { .. }
            | Action::SystemConfig(_)
            | Action::CheckConfig { .. }
            | Action::Version
            | Action::CompatLinks { .. }
            | Action::ConfigUpgradeFile { .. }
            | Action::Monitor(_)
            | Action::Top(_)
            | Action::Unshare(_)
            | Action::Usernsexec(_) => false,
        }
    }
}

/// What `hako monitor` / `lxc-monitor` watch for and how they print it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MonitorRequest {
    /// hako face: these names exactly (none: every container)
    pub names: Vec<String>,
    /// lxc face: names matching this POSIX extended regex, anchored as LXC anchors it
    pub regex: Option<String>,
    /// one JSON object per line instead of LXC's lines
    pub json: bool,
    /// `-Q`: ask lxc-monitord to quit (hako has none: nothing to do)
    pub quit: bool,
}

/// How `hako top` / `lxc-top` sample and print.
#[derive(Debug, Clone, PartialEq)]
pub struct TopRequest {
    /// between refreshes (`-d`, default 3 s as LXC)
    pub delay: Duration,
    /// CSV lines as LXC's `-b` (also when stdout is not a terminal)
    pub batch: bool,
    /// `-s`: n c b m s k
    pub sort: char,
    pub reverse: bool,
    /// one sample as JSON, then exit
    pub json: bool,
    /// stop after this many samples (`hako top -n N`; LXC's runs until interrupted)
    pub iterations: Option<u64>,
}

impl Default for TopRequest {
    fn default() -> Self {
        TopRequest {
            delay: Duration::from_secs(3),
            batch: false,
            sort: 'n',
            reverse: false,
            json: false,
            iterations: None,
        }
    }
}

/// A parsed command line.
#[derive(Debug)]
pub struct Invocation {
    pub face: Face,
    pub globals: Globals,
    pub action: Action,
}

/// A command line that ends before anything runs: help, version, or a usage error.
#[derive(Debug, PartialEq, Eq)]
pub struct EarlyExit {
    /// Text for stdout (help, version).
    pub stdout: String,
    /// Text for stderr (errors, and LXC's help, which goes to stderr).
    pub stderr: String,
    pub code: i32,
}

impl EarlyExit {
    pub fn usage_error(face: Face, message: impl std::fmt::Display) -> EarlyExit {
        EarlyExit {
            stdout: String::new(),
            stderr: format!("{}: {message}\n", face.program()),
            code: face.usage_exit_code(),
        }
    }
}

pub type Parsed = Result<Invocation, EarlyExit>;
