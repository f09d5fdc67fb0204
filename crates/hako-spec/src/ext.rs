//! Parts of [`crate::ContainerSpec`] that the OCI front end (config.json) needs and the
//! LXC front end leaves at their defaults: the five capability sets, namespaces joined by
//! path, OCI hooks, device nodes, idmapped mounts' own maps, cgroupsPath. The cgroup
//! resources are in [`crate::resources`]. What the runtime does not carry out yet is
//! listed by [`crate::ContainerSpec::unsupported_by_runtime`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::spec::IdMap;

/// The five capability sets of the container's process (capabilities(7)), each a list of
/// names, lowercase and without `cap_` (as [`crate::ContainerSpec::cap_drop`] has them).
/// When set ([`crate::ContainerSpec::cap_sets`]) they replace the LXC drop/keep model:
/// the process gets exactly these sets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapSets {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub inheritable: Vec<String>,
    pub permitted: Vec<String>,
    pub ambient: Vec<String>,
}

/// A kind of Linux namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NsKind {
    Mount,
    Pid,
    Uts,
    Ipc,
    Net,
    Cgroup,
    User,
    Time,
}

impl NsKind {
    /// The OCI name (`linux.namespaces[].type`).
    pub fn oci_name(self) -> &'static str {
        match self {
            NsKind::Mount => "mount",
            NsKind::Pid => "pid",
            NsKind::Uts => "uts",
            NsKind::Ipc => "ipc",
            NsKind::Net => "network",
            NsKind::Cgroup => "cgroup",
            NsKind::User => "user",
            NsKind::Time => "time",
        }
    }
}

/// One namespace the container's init joins instead of getting a new one
/// (`linux.namespaces[] = {type, path}`): setns(2) on the file at `path`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsJoin {
    pub kind: NsKind,
    /// a namespace file on the host (`/proc/PID/ns/net`, a bind-mounted one)
    pub path: PathBuf,
}

/// The namespaces an OCI container asks for, new and joined
/// ([`crate::ContainerSpec::oci_namespaces`]); a kind in neither list stays the host's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NsRequest {
    /// a new namespace of each of these kinds
    pub new: Vec<NsKind>,
    /// these joined by path
    pub join: Vec<NsJoin>,
}

impl NsRequest {
    /// Is a namespace of this kind new or joined (not the host's)?
    pub fn has(&self, k: NsKind) -> bool {
        self.new.contains(&k) || self.join.iter().any(|j| j.kind == k)
    }
}

/// When an OCI hook runs (runtime-spec config.md, "POSIX-platform Hooks").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OciHookStage {
    /// deprecated: in the runtime namespace, after the container's namespaces exist
    Prestart,
    /// in the runtime namespace, after the namespaces, before pivot_root
    CreateRuntime,
    /// in the container namespace, before pivot_root
    CreateContainer,
    /// in the container namespace, before the user's program
    StartContainer,
    /// in the runtime namespace, after the user's program started
    Poststart,
    /// in the runtime namespace, after the container is deleted
    Poststop,
}

impl OciHookStage {
    pub const ALL: [OciHookStage; 6] = [
        OciHookStage::Prestart,
        OciHookStage::CreateRuntime,
        OciHookStage::CreateContainer,
        OciHookStage::StartContainer,
        OciHookStage::Poststart,
        OciHookStage::Poststop,
    ];

    /// The key under `hooks` in config.json.
    pub fn oci_name(self) -> &'static str {
        match self {
            OciHookStage::Prestart => "prestart",
            OciHookStage::CreateRuntime => "createRuntime",
            OciHookStage::CreateContainer => "createContainer",
            OciHookStage::StartContainer => "startContainer",
            OciHookStage::Poststart => "poststart",
            OciHookStage::Poststop => "poststop",
        }
    }
}

/// One OCI hook: a program run with the container's state (the OCI state JSON) on its
/// standard input, killed after `timeout` seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OciHook {
    pub stage: OciHookStage,
    /// absolute path of the program
    pub path: PathBuf,
    /// argv, argv[0] included (may be empty: then the path alone)
    pub args: Vec<String>,
    /// its whole environment (`NAME=VALUE`)
    pub env: Vec<String>,
    /// seconds; None: no limit
    pub timeout: Option<u32>,
}

/// The type of a device node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceKind {
    Char,
    Block,
    Fifo,
}

/// A device node created in the container (`linux.devices[]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceNode {
    /// absolute path inside the container
    pub path: String,
    pub kind: DeviceKind,
    pub major: i64,
    pub minor: i64,
    /// permission bits (None: 0666 less the umask, as mknod)
    pub file_mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// The id maps of one idmapped mount (`mounts[i].uidMappings`/`gidMappings`): the mount at
/// `index` of [`crate::ContainerSpec::mounts`] is idmapped with these maps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountIdmap {
    pub index: usize,
    pub maps: Vec<IdMap>,
    /// `ridmap`: the whole tree below, not the mount alone
    pub recursive: bool,
}

/// `linux.cgroupsPath`: where the container's cgroup is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupsPath {
    /// a path: absolute, below the cgroup root; relative, below the runtime's own place
    Path(String),
    /// `slice:prefix:name` (with `--systemd-cgroup`): a transient unit `prefix-name.scope`
    /// in `slice`
    Systemd {
        slice: String,
        prefix: String,
        name: String,
    },
}
