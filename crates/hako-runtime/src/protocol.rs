//! The monitor's control socket: one JSON object per line each way. After a `console`
//! request the connection carries raw bytes; after `events` the monitor sends one
//! `{"state": ...}` line per state change and closes when the container has stopped.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    State,
    Info,
    /// graceful stop with timeout seconds (None: 60; negative: wait forever), or kill
    Stop { timeout: Option<i64>, kill: bool },
    Reboot,
    Freeze,
    Thaw,
    CgroupGet { key: String },
    CgroupSet { key: String, value: String },
    Console { tty: u32 },
    Events,
    /// the init's pidfd, passed with SCM_RIGHTS
    Pidfd,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_pid: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<StatsReply>,
    /// host directories of the container's cgroup
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cgroup_paths: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    /// the container's interfaces: (name inside, host-side link or bridge)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub net_links: Vec<(String, Option<String>)>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StatsReply {
    pub memory_bytes: Option<u64>,
    pub kmem_bytes: Option<u64>,
    pub cpu_ns: Option<u64>,
    pub pids: Option<u64>,
    pub blkio_bytes: Option<u64>,
}

impl Response {
    pub fn ok() -> Response {
        Response { ok: true, ..Default::default() }
    }
    pub fn err(msg: impl Into<String>) -> Response {
        Response { ok: false, error: Some(msg.into()), ..Default::default() }
    }
    pub fn with_state(mut self, s: &str) -> Response {
        self.state = Some(s.to_string());
        self
    }
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
}
