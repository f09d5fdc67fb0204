//! The OCI front end: a bundle's `config.json` (runtime spec 1.0/1.1/1.2, Linux) mapped
//! onto the one [`ContainerSpec`]. Pure: the JSON text and the options come in as values.
//! Every error names the JSON path (`linux.namespaces[2].type`), the cause and the fix;
//! anything the spec cannot express is an error, never dropped. What the spec expresses
//! but the runtime does not carry out yet is [`ContainerSpec::unsupported_by_runtime`]'s.
//!
//! The types are the `oci-spec` crate's (its runtime module). It keeps no field it does
//! not know, and knows none of the fields a later runtime spec adds: [`from_bundle_config`]
//! serialises what it read back and refuses any member of the input that did not survive
//! the round trip (see [`dropped_members`]), so a setting is never silently lost.
//!
//! - this file: [`from_bundle_config`], the JSON checks, root, host name, annotations;
//! - [`process`]: the process (user, capabilities, rlimits, environment) and hooks;
//! - [`linux`]: namespaces, id maps, devices, sysctls, masked paths, cgroupsPath and
//!   resources, the `linux` members hako refuses;
//! - [`mounts`]: `mounts`; [`seccomp`]: `linux.seccomp` through hako-seccomp.

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use serde_json::Value;

use crate::error::{ErrorKind, Origin, Result, SpecError};
use crate::spec::{ContainerSpec, InitMode, DEFAULT_CGROUP_INNER, SIGINT, SIGKILL};

mod linux;
mod mounts;
mod process;
mod seccomp;
#[cfg(test)]
mod tests;

/// What the caller of `create` says beside the bundle.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OciOptions {
    /// `--systemd-cgroup`: `linux.cgroupsPath` is `slice:prefix:name`
    pub systemd_cgroup: bool,
}

/// Build the spec of container `id` from the text of `bundle_dir/config.json`.
/// `bundle_dir` must be absolute (relative paths in config.json are relative to it).
pub fn from_bundle_config(
    id: &str,
    bundle_dir: &Path,
    config_json: &str,
    opts: &OciOptions,
) -> Result<ContainerSpec> {
    let x = Oci {
        id,
        bundle: bundle_dir,
        origin: Origin::file(&bundle_dir.join("config.json")),
    };
    let value: Value = serde_json::from_str(config_json).map_err(|e| {
        x.err(
            "",
            format!(
                "config.json is not JSON: {e}; fix the file (`runc spec` writes a valid example)"
            ),
        )
    })?;
    if !value.is_object() {
        return Err(x.err(
            "",
            "config.json is not a JSON object; it holds one object with ociVersion, root, process...; fix the file",
        ));
    }
    let spec: Spec = serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        x.err(
            &path,
            format!(
                "{}; fix the value (see the OCI runtime spec, config.md)",
                e.into_inner()
            ),
        )
    })?;
    let kept = serde_json::to_value(&spec).map_err(|e| x.err("", e.to_string()))?;
    let mut dropped = Vec::new();
    dropped_members(&value, &kept, "", &mut dropped);
    if let Some(first) = dropped.first() {
        let more = match dropped.len() {
            1 => String::new(),
            n => format!(" (and {} more: {})", n - 1, dropped[1..].join(", ")),
        };
        return Err(x.err(
            first,
            format!("hako does not know this member{more}, and a setting it cannot read is one it cannot honour; remove it or fix its spelling"),
        ));
    }
    x.version(&spec)?;
    x.build(&spec, opts)
}

/// The members of `input` (paths) that are missing from `kept`, the same document after
/// a round trip through oci-spec's types. Null members count as absent; annotations are
/// free-form (all kept).
pub fn dropped_members(input: &Value, kept: &Value, path: &str, out: &mut Vec<String>) {
    match (input, kept) {
        (Value::Object(a), Value::Object(b)) => {
            if path == "annotations" {
                return;
            }
            for (k, v) in a {
                if v.is_null() {
                    continue;
                }
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(k) {
                    Some(kv) => dropped_members(v, kv, &p, out),
                    None => out.push(p),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (v, kv)) in a.iter().zip(b).enumerate() {
                dropped_members(v, kv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// One translation: the container's id, its bundle, where config.json is.
pub(crate) struct Oci<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub origin: Origin,
}

impl Oci<'_> {
    /// The value at JSON `path` cannot be used: `reason` says why and the fix.
    pub fn err(&self, path: &str, reason: impl Into<String>) -> SpecError {
        SpecError::from(ErrorKind::Json {
            name: self.id.to_string(),
            origin: self.origin.clone(),
            path: path.to_string(),
            reason: reason.into(),
        })
    }

    /// `path` is set, and hako cannot honour it yet.
    pub fn unsupported(&self, path: &str, what: &str) -> SpecError {
        self.err(
            path,
            format!("{what} is not supported by hako yet, and it does not run a container without a setting it asks for; remove it"),
        )
    }

    /// An absolute path inside the container (`what` names it for the message).
    pub fn abs_in_container(&self, path: &str, value: &str, what: &str) -> Result<String> {
        if !value.starts_with('/') {
            return Err(self.err(
                path,
                format!("\"{value}\" is not an absolute path; give {what} as a path inside the container starting with /"),
            ));
        }
        Ok(value.to_string())
    }

    /// A host path, relative ones to the bundle.
    pub fn host_path(&self, path: &str, value: &Path) -> Result<PathBuf> {
        if value.as_os_str().is_empty() {
            return Err(self.err(
                path,
                "empty path; give a path (relative ones are relative to the bundle)",
            ));
        }
        if value.is_absolute() {
            return Ok(value.to_path_buf());
        }
        if !self.bundle.is_absolute() {
            return Err(self.err(
                path,
                format!(
                    "\"{}\" is relative to the bundle, and the bundle directory \"{}\" is relative too; give the bundle as an absolute path (--bundle /path/to/bundle) or this path as an absolute one",
                    value.display(),
                    self.bundle.display()
                ),
            ));
        }
        Ok(self.bundle.join(value))
    }

    fn version(&self, spec: &Spec) -> Result<()> {
        let v = spec.version();
        if v.is_empty() {
            return Err(self.err(
                "ociVersion",
                "missing; set it to the runtime spec version the file follows, e.g. \"1.0.2\"",
            ));
        }
        if !v.starts_with("1.") {
            return Err(self.err(
                "ociVersion",
                format!("\"{v}\": hako reads runtime spec 1.x; write the file for 1.x"),
            ));
        }
        Ok(())
    }

    fn build(&self, spec: &Spec, opts: &OciOptions) -> Result<ContainerSpec> {
        for (path, set) in [
            ("solaris", spec.solaris().is_some()),
            ("windows", spec.windows().is_some()),
            ("vm", spec.vm().is_some()),
            ("zos", spec.zos().is_some()),
            ("uidMappings", spec.uid_mappings().is_some()),
            ("gidMappings", spec.gid_mappings().is_some()),
        ] {
            if set {
                return Err(self.err(
                    path,
                    "not a member of a Linux container's config.json (hako runs Linux containers); remove it",
                ));
            }
        }
        let root = spec.root().as_ref().ok_or_else(|| {
            self.err(
                "root",
                "missing; add \"root\": {\"path\": \"rootfs\"} naming the root filesystem's directory",
            )
        })?;
        let rootfs = self.host_path("root.path", root.path())?;
        let mut out = self.base(rootfs);
        out.rootfs_readonly = root.readonly().unwrap_or(false);

        // an absent `linux` is an empty one (oci-spec's `Linux::default()` is not empty)
        let empty_linux: oci_spec::runtime::Linux =
            serde_json::from_str("{}").map_err(|e| self.err("linux", e.to_string()))?;
        let lx = spec.linux().as_ref();
        let ns = self.namespaces(lx)?;
        out.share_host_net = !ns.has(crate::ext::NsKind::Net);
        out.id_maps = self.id_maps(lx, &ns)?;
        if spec.hostname().is_none() && ns.join.iter().any(|j| j.kind == crate::ext::NsKind::Uts) {
            // a joined UTS namespace keeps its host name unless config.json gives one
            out.hostname.clear();
        }
        if let Some(h) = spec.hostname() {
            if !ns.has(crate::ext::NsKind::Uts) {
                return Err(self.err(
                    "hostname",
                    "setting a host name needs a UTS namespace of the container's own; add {\"type\": \"uts\"} to linux.namespaces or remove hostname",
                ));
            }
            if !h.is_empty() {
                hako_config::values::validate_hostname(h)
                    .map_err(|e| self.err("hostname", format!("\"{h}\": {e}")))?;
                out.hostname = h.clone();
            }
        }
        if let Some(d) = spec.domainname() {
            if !ns.has(crate::ext::NsKind::Uts) {
                return Err(self.err(
                    "domainname",
                    "setting a domain name needs a UTS namespace of the container's own; add {\"type\": \"uts\"} to linux.namespaces or remove domainname",
                ));
            }
            out.domainname = Some(d.clone());
        }
        out.oci_namespaces = Some(ns);
        self.process(spec, &mut out)?;
        self.hooks(spec, &mut out)?;
        self.mounts(spec, &mut out)?;
        // the rest of `linux` (an absent `linux` is an empty one)
        self.linux(lx.unwrap_or(&empty_linux), opts, &mut out)?;
        if let Some(a) = spec.annotations() {
            out.annotations = a.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        }
        Ok(out)
    }

    /// A spec with everything at the OCI meaning of "not set".
    fn base(&self, rootfs: PathBuf) -> ContainerSpec {
        ContainerSpec {
            name: self.id.to_string(),
            lxcpath: self.bundle.to_path_buf(),
            config_path: self.origin.file.clone(),
            rootfs,
            rootfs_overlay: None,
            rootfs_readonly: false,
            mount_auto: Default::default(),
            mounts: Vec::new(),
            // config.json mounts /dev itself and lists its device nodes
            autodev: false,
            autodev_tmpfs_size: 0,
            hostname: hako_config::values::hostname_from_name(self.id),
            share_host_net: true,
            id_maps: Vec::new(),
            init_cmd: Vec::new(),
            init_mode: InitMode::Exec,
            init_cwd: None,
            init_groups: Vec::new(),
            init_uid: None,
            init_gid: None,
            env: Vec::new(),
            // no process.capabilities: the process keeps what it has (as runc)
            cap_drop: Vec::new(),
            cap_keep: None,
            prlimits: Vec::new(),
            no_new_privs: false,
            // a new session keyring, as runc does by default
            keyring_session: true,
            // no linux.seccomp: no filter
            seccomp: Vec::new(),
            console: false,
            console_logfile: None,
            tty_max: 0,
            pty_max: 1024,
            halt_signal: None,
            reboot_signal: SIGINT,
            stop_signal: SIGKILL,
            cgroup_dir: None,
            cgroup_inner: DEFAULT_CGROUP_INNER.to_string(),
            cgroup_v1: Vec::new(),
            cgroup_v2: Vec::new(),
            devices_v1: Vec::new(),
            devices_v2: Vec::new(),
            networks: Vec::new(),
            start_auto: false,
            start_delay: 0,
            start_order: 0,
            groups: Vec::new(),
            ephemeral: false,
            unprivileged: false,
            hooks: Default::default(),
            sysctls: Vec::new(),
            lsm: Default::default(),
            warnings: Vec::new(),
            cap_sets: None,
            oci_namespaces: None,
            umask: None,
            oom_score_adj: None,
            env_exact: true,
            terminal: false,
            domainname: None,
            masked_paths: Vec::new(),
            readonly_paths: Vec::new(),
            rootfs_propagation: None,
            oci_hooks: Vec::new(),
            annotations: Default::default(),
            oci_default_devices: true,
            devices: Vec::new(),
            mount_idmaps: Vec::new(),
            cgroups_path: None,
            resources: None,
        }
    }
}

/// An enum's name as config.json spells it (`SCMP_ACT_ERRNO`), through its serde form.
pub(crate) fn json_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(e) => e.to_string(),
    }
}
