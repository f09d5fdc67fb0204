//! `linux.seccomp`: OCI's format through hako-seccomp's [`hako_seccomp::from_oci`], then
//! the same compiler as the LXC profiles.

use oci_spec::runtime::LinuxSeccomp;

use super::{json_name, Oci};
use crate::error::Result;

impl Oci<'_> {
    /// The compiled filter and its warnings (system call names this kernel's tables do
    /// not have, skipped as runc skips them).
    pub(super) fn seccomp(&self, s: &LinuxSeccomp) -> Result<(hako_seccomp::Program, Vec<String>)> {
        let f = hako_seccomp::OciFilter {
            default_action: json_name(&s.default_action()),
            default_errno_ret: s.default_errno_ret(),
            architectures: s.architectures().iter().flatten().map(json_name).collect(),
            flags: s.flags().iter().flatten().map(json_name).collect(),
            listener_path: s
                .listener_path()
                .as_ref()
                .map(|p| p.display().to_string())
                .or_else(|| {
                    s.listener_metadata()
                        .clone()
                        .map(|m| format!("(listenerMetadata {m})"))
                }),
            syscalls: s
                .syscalls()
                .iter()
                .flatten()
                .map(|c| hako_seccomp::OciSyscall {
                    names: c.names().clone(),
                    action: json_name(&c.action()),
                    errno_ret: c.errno_ret(),
                    args: c
                        .args()
                        .iter()
                        .flatten()
                        .map(|a| hako_seccomp::OciArg {
                            index: a.index() as u64,
                            value: a.value(),
                            value_two: a.value_two().unwrap_or(0),
                            op: json_name(&a.op()),
                        })
                        .collect(),
                })
                .collect(),
        };
        let source = format!("{} (linux.seccomp)", self.origin);
        let profile = hako_seccomp::from_oci(&f, &source).map_err(|e| {
            let path = if e.path.is_empty() {
                "linux.seccomp".to_string()
            } else {
                format!("linux.seccomp.{}", e.path)
            };
            self.err(&path, e.message)
        })?;
        let (prog, warned) = hako_seccomp::compile(&profile)
            .map_err(|e| self.err("linux.seccomp", e.to_string()))?;
        let warnings = warned
            .iter()
            .map(|w| {
                format!(
                    "container \"{}\": {}: linux.seccomp.syscalls[{}]: {}",
                    self.id,
                    self.origin,
                    w.line.saturating_sub(1),
                    w.message
                )
            })
            .collect();
        Ok((prog, warnings))
    }
}
