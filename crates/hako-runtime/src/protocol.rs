//! The monitor's control socket (`monitor.sock`, a Unix stream socket): one request line
//! from the client, one response line (or several, see below) from the monitor.
//!
//! The format is plain text, small enough to encode without a serialisation library (the
//! monitor stays resident for a container's whole life, so its code size is its cost):
//!
//! - a line is fields separated by TAB and ended by LF;
//! - in a field, `\` is written `\\`, TAB `\t`, LF `\n` and CR `\r`;
//! - a request's first field is its verb, the others its arguments:
//!   `state`, `info`, `stop TIMEOUT KILL` (TIMEOUT: seconds, negative = wait forever,
//!   `-` = the default 60; KILL: `0`/`1`), `reboot`, `freeze`, `thaw`, `cgroup_get KEY`,
//!   `cgroup_set KEY VALUE`, `console TTY` (0 = /dev/console), `events`, `pidfd`,
//!   `nic_add HOST INSIDE` (a host interface moved into the running container, named
//!   INSIDE there, recorded so that the monitor gives it back at stop), `nic_rm INSIDE
//!   HOST` (given back now, named HOST on the host; `-`: the name it had there);
//! - a response's first field is `ok` or `err`, the others are `NAME=VALUE`:
//!   `error`, `state`, `init_pid`, `value`, `exit_status`, `stats` (present when the
//!   statistics are), `memory`, `kmem`, `cpu_ns`, `pids`, `blkio`, `cgroup` (one field per
//!   cgroup directory) and `link` (one per interface; its value is itself a field list:
//!   the name inside the container, then the host-side link or bridge if there is one). Unknown names are ignored, so either side can add some.
//!
//! After a `console` request that was answered `ok` the connection carries raw bytes both
//! ways. After `events` the monitor sends one line per state change (`ok state=S`) and
//! closes the connection when the container has stopped. `pidfd` is answered with the
//! init's pidfd attached to the response (SCM_RIGHTS). `stop` is answered once the
//! container has stopped (`ok state=STOPPED exit_status=N`).

use serde::{Deserialize, Serialize};

/// A container's state, LXC's names. Its string form ([`State::as_str`], also `Display`
/// and serde's) is what the control socket carries in `state=` and what `hako info`/`ls`
/// and `--format json` print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Stopped,
    Starting,
    Running,
    Stopping,
    Aborting,
    Freezing,
    Frozen,
    Thawed,
}

impl State {
    /// Every state, in LXC's order.
    pub const ALL: [State; 8] = [
        State::Stopped,
        State::Starting,
        State::Running,
        State::Stopping,
        State::Aborting,
        State::Freezing,
        State::Frozen,
        State::Thawed,
    ];

    /// The wire and display form: `STOPPED`, `RUNNING`, ...
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Stopped => "STOPPED",
            State::Starting => "STARTING",
            State::Running => "RUNNING",
            State::Stopping => "STOPPING",
            State::Aborting => "ABORTING",
            State::Freezing => "FREEZING",
            State::Frozen => "FROZEN",
            State::Thawed => "THAWED",
        }
    }

    /// A state's name, in any case and with surrounding blanks (`running`, ` FROZEN`).
    pub fn parse(s: &str) -> Option<State> {
        let s = s.trim();
        State::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for State {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    State,
    Info,
    /// graceful stop with timeout seconds (None: 60; negative: wait forever), or kill
    Stop {
        timeout: Option<i64>,
        kill: bool,
    },
    Reboot,
    Freeze,
    Thaw,
    CgroupGet {
        key: String,
    },
    CgroupSet {
        key: String,
        value: String,
    },
    Console {
        tty: u32,
    },
    Events,
    /// the init's pidfd, passed with SCM_RIGHTS
    Pidfd,
    /// move host interface `host` into the container as `inside` (answered with
    /// `value=INSIDE`); the monitor gives it back when the container stops
    NicAdd {
        host: String,
        inside: String,
    },
    /// give the container's interface `inside` back to the host, named `host` there (None:
    /// the name it had when it was moved in, else `inside`); answered with `value=HOST`
    NicRm {
        inside: String,
        host: Option<String>,
    },
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    pub error: Option<String>,
    pub state: Option<String>,
    pub init_pid: Option<i32>,
    pub value: Option<String>,
    pub stats: Option<StatsReply>,
    /// host directories of the container's cgroup
    pub cgroup_paths: Vec<String>,
    pub exit_status: Option<i32>,
    /// the container's interfaces: (name inside, host-side link or bridge)
    pub net_links: Vec<(String, Option<String>)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsReply {
    pub memory_bytes: Option<u64>,
    pub kmem_bytes: Option<u64>,
    pub cpu_ns: Option<u64>,
    pub pids: Option<u64>,
    pub blkio_bytes: Option<u64>,
}

impl Response {
    pub fn ok() -> Response {
        Response {
            ok: true,
            ..Default::default()
        }
    }
    pub fn err(msg: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(msg.into()),
            ..Default::default()
        }
    }
    /// `s`: a [`State`] (or its name).
    pub fn with_state(mut self, s: impl AsRef<str>) -> Response {
        self.state = Some(s.as_ref().to_string());
        self
    }

    /// The `state=` field as a [`State`] (None: absent or a name this build does not know).
    pub fn parsed_state(&self) -> Option<State> {
        self.state.as_deref().and_then(State::parse)
    }

    /// The response as one line, LF included.
    pub fn encode(&self) -> Vec<u8> {
        let mut l = Line::default();
        l.field(if self.ok { "ok" } else { "err" });
        l.opt("error", self.error.as_deref());
        l.opt("state", self.state.as_deref());
        l.num("init_pid", self.init_pid.map(i64::from));
        l.opt("value", self.value.as_deref());
        l.num("exit_status", self.exit_status.map(i64::from));
        if let Some(s) = &self.stats {
            l.field("stats");
            for (k, v) in [
                ("memory", s.memory_bytes),
                ("kmem", s.kmem_bytes),
                ("cpu_ns", s.cpu_ns),
                ("pids", s.pids),
                ("blkio", s.blkio_bytes),
            ] {
                if let Some(v) = v {
                    l.kv(k, &v.to_string());
                }
            }
        }
        for p in &self.cgroup_paths {
            l.kv("cgroup", p);
        }
        for (name, host) in &self.net_links {
            let mut pair = Line::default();
            pair.field(name);
            if let Some(h) = host {
                pair.field(h);
            }
            l.kv("link", &String::from_utf8_lossy(&pair.0));
        }
        l.0.push(b'\n');
        l.0
    }

    /// Parse one response line (with or without its LF).
    pub fn decode(line: &[u8]) -> Option<Response> {
        let mut f = fields(line);
        let mut r = Response {
            ok: match f.next()?.as_str() {
                "ok" => true,
                "err" => false,
                _ => return None,
            },
            ..Default::default()
        };
        for field in f {
            if field == "stats" {
                r.stats.get_or_insert_with(StatsReply::default);
                continue;
            }
            let Some((k, v)) = field.split_once('=') else {
                continue;
            };
            let n = || v.parse::<i64>().ok();
            let u = || v.parse::<u64>().ok();
            match k {
                "error" => r.error = Some(v.to_string()),
                "state" => r.state = Some(v.to_string()),
                "init_pid" => r.init_pid = n().map(|x| x as i32),
                "value" => r.value = Some(v.to_string()),
                "exit_status" => r.exit_status = n().map(|x| x as i32),
                "memory" => r.stats.get_or_insert_with(Default::default).memory_bytes = u(),
                "kmem" => r.stats.get_or_insert_with(Default::default).kmem_bytes = u(),
                "cpu_ns" => r.stats.get_or_insert_with(Default::default).cpu_ns = u(),
                "pids" => r.stats.get_or_insert_with(Default::default).pids = u(),
                "blkio" => r.stats.get_or_insert_with(Default::default).blkio_bytes = u(),
                "cgroup" => r.cgroup_paths.push(v.to_string()),
                "link" => {
                    let mut p = fields(v.as_bytes());
                    if let Some(name) = p.next() {
                        r.net_links.push((name, p.next()));
                    }
                }
                _ => {}
            }
        }
        Some(r)
    }
}

impl Request {
    /// The request as one line, LF included.
    pub fn encode(&self) -> Vec<u8> {
        let mut l = Line::default();
        match self {
            Request::State => l.field("state"),
            Request::Info => l.field("info"),
            Request::Stop { timeout, kill } => {
                l.field("stop");
                match timeout {
                    Some(t) => l.field(&t.to_string()),
                    None => l.field("-"),
                }
                l.field(if *kill { "1" } else { "0" });
            }
            Request::Reboot => l.field("reboot"),
            Request::Freeze => l.field("freeze"),
            Request::Thaw => l.field("thaw"),
            Request::CgroupGet { key } => {
                l.field("cgroup_get");
                l.field(key);
            }
            Request::CgroupSet { key, value } => {
                l.field("cgroup_set");
                l.field(key);
                l.field(value);
            }
            Request::Console { tty } => {
                l.field("console");
                l.field(&tty.to_string());
            }
            Request::Events => l.field("events"),
            Request::Pidfd => l.field("pidfd"),
            Request::NicAdd { host, inside } => {
                l.field("nic_add");
                l.field(host);
                l.field(inside);
            }
            Request::NicRm { inside, host } => {
                l.field("nic_rm");
                l.field(inside);
                l.field(host.as_deref().unwrap_or("-"));
            }
        }
        l.0.push(b'\n');
        l.0
    }

    /// Parse one request line; Err names what is wrong with it.
    pub fn decode(line: &[u8]) -> Result<Request, String> {
        let mut f = fields(line);
        let verb = f.next().unwrap_or_default();
        let mut arg = |what: &str| f.next().ok_or_else(|| format!("\"{verb}\" needs {what}"));
        Ok(match verb.as_str() {
            "state" => Request::State,
            "info" => Request::Info,
            "stop" => {
                let t = arg("a timeout")?;
                let timeout = match t.as_str() {
                    "-" => None,
                    s => Some(s.parse().map_err(|_| format!("bad stop timeout \"{s}\""))?),
                };
                Request::Stop {
                    timeout,
                    kill: arg("a kill flag")? == "1",
                }
            }
            "reboot" => Request::Reboot,
            "freeze" => Request::Freeze,
            "thaw" => Request::Thaw,
            "cgroup_get" => Request::CgroupGet { key: arg("a key")? },
            "cgroup_set" => Request::CgroupSet {
                key: arg("a key")?,
                value: arg("a value")?,
            },
            "console" => {
                let t = arg("a tty number")?;
                Request::Console {
                    tty: t.parse().map_err(|_| format!("bad tty number \"{t}\""))?,
                }
            }
            "events" => Request::Events,
            "pidfd" => Request::Pidfd,
            "nic_add" => Request::NicAdd {
                host: arg("a host interface")?,
                inside: arg("a name inside")?,
            },
            "nic_rm" => {
                let inside = arg("an interface inside")?;
                let host = arg("a host name")?;
                Request::NicRm {
                    inside,
                    host: (host != "-").then_some(host),
                }
            }
            v => return Err(format!("unknown request \"{v}\"")),
        })
    }
}

/// A line being built: escaped fields joined by TAB.
#[derive(Default)]
struct Line(Vec<u8>);

impl Line {
    fn field(&mut self, s: &str) {
        if !self.0.is_empty() {
            self.0.push(b'\t');
        }
        escape_into(&mut self.0, s);
    }
    fn kv(&mut self, k: &str, v: &str) {
        if !self.0.is_empty() {
            self.0.push(b'\t');
        }
        self.0.extend_from_slice(k.as_bytes());
        self.0.push(b'=');
        escape_into(&mut self.0, v);
    }
    fn opt(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.kv(k, v);
        }
    }
    fn num(&mut self, k: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.kv(k, &v.to_string());
        }
    }
}

fn escape_into(out: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => out.push(b),
        }
    }
}

/// The unescaped fields of a line (a trailing LF or CR LF is ignored).
fn fields(line: &[u8]) -> impl Iterator<Item = String> + '_ {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = (!line.is_empty()).then(|| line.split(|b| *b == b'\t'));
    std::iter::from_fn(move || {
        let raw = parts.as_mut()?.next()?;
        let mut out = Vec::with_capacity(raw.len());
        let mut it = raw.iter();
        while let Some(&b) = it.next() {
            if b == b'\\' {
                match it.next() {
                    Some(b't') => out.push(b'\t'),
                    Some(b'n') => out.push(b'\n'),
                    Some(b'r') => out.push(b'\r'),
                    Some(&o) => out.push(o),
                    None => out.push(b'\\'),
                }
            } else {
                out.push(b);
            }
        }
        Some(String::from_utf8_lossy(&out).into_owned())
    })
}

/// Runtime state written next to the socket, for tools and for stale-state cleanup after
/// a monitor was killed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StateFile {
    pub name: String,
    pub monitor_pid: i32,
    pub monitor_start: u64,
    pub init_pid: Option<i32>,
    pub cgroup: Option<hako_cgroups::Cgroup>,
    /// host-side network devices hako created (removed at cleanup)
    #[serde(default)]
    pub host_links: Vec<String>,
    /// their interface indexes when they were made, in the same order: the cleanup deletes
    /// a link only while its name still has that index (a link of the same name made
    /// since belongs to someone else). Empty in state files of older hakos.
    #[serde(default)]
    pub host_link_ids: Vec<u32>,
    /// DNS names registered on managed networks (unregistered when a killed monitor's
    /// state is cleaned up)
    #[serde(default)]
    pub dns: Vec<crate::net::DnsReg>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let all = [
            Request::State,
            Request::Info,
            Request::Stop {
                timeout: None,
                kill: false,
            },
            Request::Stop {
                timeout: Some(-1),
                kill: false,
            },
            Request::Stop {
                timeout: Some(30),
                kill: true,
            },
            Request::Reboot,
            Request::Freeze,
            Request::Thaw,
            Request::CgroupGet {
                key: "memory.limit_in_bytes".into(),
            },
            Request::CgroupSet {
                key: "devices.allow".into(),
                value: "c 1:3 rwm\nb *:* m\t\\x".into(),
            },
            Request::CgroupSet {
                key: "k".into(),
                value: String::new(),
            },
            Request::Console { tty: 3 },
            Request::Events,
            Request::Pidfd,
            Request::NicAdd {
                host: "eth1".into(),
                inside: "eth9".into(),
            },
            Request::NicRm {
                inside: "eth9".into(),
                host: None,
            },
            Request::NicRm {
                inside: "eth9".into(),
                host: Some("back0".into()),
            },
        ];
        for r in all {
            let line = r.encode();
            assert_eq!(
                line.iter().filter(|b| **b == b'\n').count(),
                1,
                "{r:?}: {line:?}"
            );
            assert_eq!(Request::decode(&line), Ok(r));
        }
        assert!(Request::decode(b"launch\n")
            .unwrap_err()
            .contains("unknown request"));
        assert!(Request::decode(b"cgroup_get\n")
            .unwrap_err()
            .contains("needs a key"));
        assert!(Request::decode(b"stop\tsoon\t1\n").is_err());
        assert!(Request::decode(b"\n").is_err());
    }

    #[test]
    fn responses_round_trip() {
        let full = Response {
            ok: true,
            error: None,
            state: Some("RUNNING".into()),
            init_pid: Some(4242),
            value: Some("a\tb\nc\\d=e".into()),
            stats: Some(StatsReply {
                memory_bytes: Some(1 << 40),
                kmem_bytes: None,
                cpu_ns: Some(7),
                pids: Some(3),
                blkio_bytes: Some(0),
            }),
            cgroup_paths: vec![
                "/sys/fs/cgroup/memory/x y".into(),
                "/sys/fs/cgroup/unified/x".into(),
            ],
            exit_status: Some(-1),
            net_links: vec![
                ("eth0".into(), Some("hakobr0".into())),
                ("e\t1".into(), None),
            ],
        };
        let empty_stats = Response {
            stats: Some(StatsReply::default()),
            ..Response::ok()
        };
        for r in [
            full,
            empty_stats,
            Response::ok(),
            Response::err("cannot freeze container \"x\": busy; retry"),
            Response::ok().with_state("STOPPED"),
        ] {
            let line = r.encode();
            assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1, "{r:?}");
            assert_eq!(Response::decode(&line), Some(r));
        }
        // unknown fields are ignored; garbage is refused
        assert_eq!(
            Response::decode(b"ok\tfuture=1\tstate=FROZEN\n"),
            Some(Response::ok().with_state("FROZEN"))
        );
        assert_eq!(Response::decode(b"{\"ok\":true}\n"), None);
    }

    #[test]
    fn states_have_lxc_names() {
        let names: Vec<&str> = State::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "STOPPED", "STARTING", "RUNNING", "STOPPING", "ABORTING", "FREEZING", "FROZEN",
                "THAWED"
            ]
        );
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
            assert_eq!(s.to_string(), s.as_str());
            // serde (`--format json`) writes the same name
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
            assert_eq!(
                serde_json::from_str::<State>(&format!("\"{s}\"")).unwrap(),
                s
            );
            // the wire form is the name, and reads back as the state
            let line = Response::ok().with_state(s).encode();
            assert_eq!(line, format!("ok\tstate={}\n", s.as_str()).into_bytes());
            assert_eq!(Response::decode(&line).unwrap().parsed_state(), Some(s));
        }
        assert_eq!(State::parse(" running\n"), Some(State::Running));
        assert_eq!(State::parse("Frozen"), Some(State::Frozen));
        assert_eq!(State::parse("RUN"), None);
        assert_eq!(State::parse(""), None);
        assert_eq!(Response::ok().parsed_state(), None);
        assert_eq!(Response::ok().with_state("LATER").parsed_state(), None);
    }
}
