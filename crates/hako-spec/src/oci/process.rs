//! `process` (the program, its user, capabilities, limits, environment) and `hooks`.

use std::path::PathBuf;

use oci_spec::runtime::{Capabilities, Spec};

use super::{json_name, Oci};
use crate::error::Result;
use crate::ext::{CapSets, OciHook, OciHookStage};
use crate::spec::{ContainerSpec, Prlimit};

/// A capability set as hako names capabilities (`sys_admin`), sorted.
fn cap_names(set: &Option<Capabilities>) -> Vec<String> {
    let mut v: Vec<String> = set
        .iter()
        .flatten()
        .map(|c| {
            let n = json_name(c).to_ascii_lowercase();
            n.strip_prefix("cap_").map(str::to_string).unwrap_or(n)
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

impl Oci<'_> {
    pub(super) fn process(&self, spec: &Spec, out: &mut ContainerSpec) -> Result<()> {
        let p = spec.process().as_ref().ok_or_else(|| {
            self.err(
                "process",
                "missing; `create` needs the program to run: add \"process\": {\"args\": [...], \"cwd\": \"/\", \"user\": {\"uid\": 0, \"gid\": 0}}",
            )
        })?;
        for (path, set) in [
            ("process.consoleSize", p.console_size().is_some()),
            ("process.commandLine", p.command_line().is_some()),
            ("process.ioPriority", p.io_priority().is_some()),
            ("process.scheduler", p.scheduler().is_some()),
            ("process.execCPUAffinity", p.exec_cpu_affinity().is_some()),
            ("process.user.username", p.user().username().is_some()),
        ] {
            if set {
                return Err(self.unsupported(path, "this setting"));
            }
        }
        let args = p.args().clone().unwrap_or_default();
        if args.is_empty() || args[0].is_empty() {
            return Err(self.err(
                "process.args",
                "no program given; list the program and its arguments, e.g. [\"sh\"]",
            ));
        }
        out.init_cmd = args;
        let cwd = p.cwd().to_string_lossy().to_string();
        out.init_cwd = Some(PathBuf::from(self.abs_in_container(
            "process.cwd",
            &cwd,
            "the working directory",
        )?));
        for (i, e) in p.env().iter().flatten().enumerate() {
            match e.split_once('=') {
                Some((k, v)) if !k.is_empty() => out.env.push((k.to_string(), v.to_string())),
                _ => {
                    return Err(self.err(
                        &format!("process.env[{i}]"),
                        format!("\"{e}\" is not NAME=VALUE; write it as NAME=VALUE"),
                    ))
                }
            }
        }
        out.terminal = p.terminal().unwrap_or(false);
        let u = p.user();
        out.init_uid = Some(u.uid());
        out.init_gid = Some(u.gid());
        out.init_groups = u.additional_gids().clone().unwrap_or_default();
        if let Some(m) = u.umask() {
            if m > 0o777 {
                return Err(self.err(
                    "process.user.umask",
                    format!(
                        "{m} (octal {m:o}) is not a umask; give permission bits, 0 to 511 (0777)"
                    ),
                ));
            }
            out.umask = Some(m);
        }
        if let Some(c) = p.capabilities() {
            let sets = CapSets {
                bounding: cap_names(c.bounding()),
                effective: cap_names(c.effective()),
                inheritable: cap_names(c.inheritable()),
                permitted: cap_names(c.permitted()),
                ambient: cap_names(c.ambient()),
            };
            // the LXC model too: keep only the bounding set
            out.cap_keep = Some(sets.bounding.clone());
            out.cap_sets = Some(sets);
        }
        for (i, r) in p.rlimits().iter().flatten().enumerate() {
            let path = format!("process.rlimits[{i}]");
            let name = json_name(&r.typ());
            let short = name.strip_prefix("RLIMIT_").unwrap_or(&name);
            let resource = hako_config::values::prlimit_resource(short).ok_or_else(|| {
                self.err(
                    &format!("{path}.type"),
                    format!("{name} is not a resource limit of Linux; use a setrlimit(2) name such as RLIMIT_NOFILE"),
                )
            })?;
            if out.prlimits.iter().any(|p| p.resource == resource) {
                return Err(self.err(
                    &format!("{path}.type"),
                    format!("{name} is set twice; keep one entry"),
                ));
            }
            if r.soft() > r.hard() {
                return Err(self.err(
                    &path,
                    format!(
                        "soft limit {} is above hard limit {}; lower soft or raise hard",
                        r.soft(),
                        r.hard()
                    ),
                ));
            }
            out.prlimits.push(Prlimit {
                resource,
                soft: r.soft(),
                hard: r.hard(),
            });
        }
        out.no_new_privs = p.no_new_privileges().unwrap_or(false);
        out.oom_score_adj = p.oom_score_adj();
        if let Some(a) = p.oom_score_adj() {
            if !(-1000..=1000).contains(&a) {
                return Err(self.err(
                    "process.oomScoreAdj",
                    format!("{a} is out of range; give -1000 to 1000"),
                ));
            }
        }
        if let Some(a) = p.apparmor_profile() {
            if !a.is_empty() {
                out.lsm.apparmor_profile = Some(a.clone());
            }
        }
        if let Some(s) = p.selinux_label() {
            if !s.is_empty() {
                out.lsm.selinux_context = Some(s.clone());
            }
        }
        Ok(())
    }

    /// `hooks`: every stage, absolute paths, positive timeouts.
    pub(super) fn hooks(&self, spec: &Spec, out: &mut ContainerSpec) -> Result<()> {
        let Some(h) = spec.hooks() else {
            return Ok(());
        };
        #[allow(deprecated)]
        let stages = [
            (OciHookStage::Prestart, h.prestart()),
            (OciHookStage::CreateRuntime, h.create_runtime()),
            (OciHookStage::CreateContainer, h.create_container()),
            (OciHookStage::StartContainer, h.start_container()),
            (OciHookStage::Poststart, h.poststart()),
            (OciHookStage::Poststop, h.poststop()),
        ];
        for (stage, list) in stages {
            for (i, hook) in list.iter().flatten().enumerate() {
                let path = format!("hooks.{}[{i}]", stage.oci_name());
                if !hook.path().is_absolute() {
                    return Err(self.err(
                        &format!("{path}.path"),
                        format!(
                            "\"{}\" is relative; give the hook program's absolute path (hooks run in the runtime's namespace, where a relative path means nothing)",
                            hook.path().display()
                        ),
                    ));
                }
                let timeout = match hook.timeout() {
                    None => None,
                    Some(t) if t > 0 && t <= i64::from(u32::MAX) => Some(t as u32),
                    Some(t) => {
                        return Err(self.err(
                            &format!("{path}.timeout"),
                            format!("{t} is not a timeout; give a positive number of seconds, or remove it for none"),
                        ))
                    }
                };
                for (j, e) in hook.env().iter().flatten().enumerate() {
                    if !e.contains('=') {
                        return Err(self.err(
                            &format!("{path}.env[{j}]"),
                            format!("\"{e}\" is not NAME=VALUE; write it as NAME=VALUE"),
                        ));
                    }
                }
                out.oci_hooks.push(OciHook {
                    stage,
                    path: hook.path().clone(),
                    args: hook.args().clone().unwrap_or_default(),
                    env: hook.env().clone().unwrap_or_default(),
                    timeout,
                });
            }
        }
        Ok(())
    }
}
