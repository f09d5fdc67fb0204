//! The LXC keys of what the container may do: capabilities, resource limits, security
//! keys hako refuses rather than ignore, sysctls, seccomp and the security modules.

use std::path::Path;

use hako_config::values;
use hako_seccomp::Program;

use super::Lxc;
use crate::error::{ErrorKind, Result, SpecError};
use crate::inputs::Inputs;
use crate::lsm::LsmConfig;
use crate::spec::{Prlimit, DEFAULT_CAP_DROP};
use crate::sysctl::{refuse_reason, Sysctl};

/// Keys that change what a container can do to the host. hako honours each one or refuses
/// to start the container naming it (fail closed); it never warns and runs. (The LSM keys,
/// lxc.apparmor.* and lxc.selinux.*, depend on the kernel: see the runtime's LSM code.)
const SECURITY_KEYS: &[&str] = &[
    "lxc.idmap",
    "lxc.seccomp.",
    "lxc.keyring.",
    "lxc.hook",
    "lxc.namespace.",
    "lxc.sysctl",
    "lxc.init.groups",
    "lxc.cap.",
    "lxc.no_new_privs",
];

/// Does a config warning talk about a security key? (Those are errors instead.)
fn is_security_warning(msg: &str) -> bool {
    msg.split('"').nth(1).is_some_and(is_security_key)
}

pub(super) fn is_security_key(key: &str) -> bool {
    SECURITY_KEYS.iter().any(|k| match k.strip_suffix('.') {
        // "lxc.cap." is every lxc.cap.* key
        Some(_) => key.starts_with(k),
        // "lxc.hook" is lxc.hook itself and every lxc.hook.* key
        None => key == *k || key.strip_prefix(k).is_some_and(|r| r.starts_with('.')),
    })
}

/// The value of `lxc.seccomp.profile` that installs no filter.
pub const SECCOMP_UNCONFINED: &str = "unconfined";

impl Lxc<'_> {
    /// `lxc.cap.drop` (on top of [`DEFAULT_CAP_DROP`]) and `lxc.cap.keep` (LXC semantics:
    /// `none` clears what came before; set but empty keeps nothing).
    pub(super) fn caps(&self) -> Result<(Vec<String>, Option<Vec<String>>)> {
        let mut drop: Vec<String> = DEFAULT_CAP_DROP.iter().map(|s| s.to_string()).collect();
        for it in self.cfg.list_items("lxc.cap.drop") {
            for c in values::parse_caps(&it.value).map_err(|e| self.bad(it, e))? {
                if !drop.contains(&c) {
                    drop.push(c);
                }
            }
        }
        let items = self.cfg.list_items("lxc.cap.keep");
        let mut keep: Vec<String> = Vec::new();
        for it in &items {
            for c in values::parse_caps(&it.value).map_err(|e| self.bad(it, e))? {
                if c == "none" {
                    keep.clear();
                } else if !keep.contains(&c) {
                    keep.push(c);
                }
            }
        }
        Ok((drop, (!items.is_empty()).then_some(keep)))
    }

    /// `lxc.prlimit.NAME`, one per resource (the last one set).
    pub(super) fn prlimits(&self) -> Result<Vec<Prlimit>> {
        let mut out: Vec<Prlimit> = Vec::new();
        for it in self.cfg.with_prefix("lxc.prlimit.") {
            let res = &it.key["lxc.prlimit.".len()..];
            let (resource, soft, hard) =
                values::parse_prlimit(res, &it.value).map_err(|e| self.bad(it, e))?;
            out.retain(|p| p.resource != resource);
            out.push(Prlimit {
                resource,
                soft,
                hard,
            });
        }
        Ok(out)
    }

    /// Refuse a config that sets a security key hako does not implement (see
    /// [`SECURITY_KEYS`]), or namespaces other than the ones hako creates.
    pub(super) fn refuse_unsupported_security_keys(&self) -> Result<()> {
        for it in self.cfg.with_prefix("lxc.") {
            if !is_security_key(&it.key)
                || hako_config::is_supported(&it.key)
                || it.value.trim().is_empty()
            {
                continue;
            }
            let fix = format!("remove \"{}\" to start it without that setting", it.key);
            return Err(self.refused(
                it,
                format!(
                    "\"{}\" changes the container's security and hako cannot honour it yet, so it does not start the container; {fix}",
                    it.key
                ),
            ));
        }
        // namespaces: hako creates mnt pid uts ipc net cgroup (net: unless lxc.net.0.type =
        // none); a config asking for anything else is refused rather than half-honoured
        let mut default_ns = vec!["mnt", "pid", "uts", "ipc", "net", "cgroup"];
        // with lxc.idmap, a user namespace of its own too
        if self
            .cfg
            .list_items("lxc.idmap")
            .iter()
            .any(|i| !i.value.trim().is_empty())
        {
            default_ns.push("user");
        }
        for it in self.cfg.with_prefix("lxc.namespace.") {
            if it.value.trim().is_empty() {
                continue;
            }
            let why = match it.key.as_str() {
                "lxc.namespace.clone" => {
                    let asked = values::parse_namespaces(&it.value).unwrap_or_default();
                    let mut a: Vec<&str> = asked.iter().map(String::as_str).collect();
                    // with lxc.idmap the user namespace is implied, named or not (LXC adds it)
                    if default_ns.contains(&"user") && !a.contains(&"user") {
                        a.push("user");
                    }
                    a.sort_unstable();
                    a.dedup();
                    let mut d = default_ns.clone();
                    d.sort_unstable();
                    (a != d).then(|| {
                        format!("hako creates exactly the namespaces {} (it cannot leave any out or add time; a user namespace comes with lxc.idmap)", default_ns.join(" "))
                    })
                }
                "lxc.namespace.keep" => Some(
                    "hako cannot keep the host's namespaces yet (only lxc.net.0.type = none shares the host's network)".to_string(),
                ),
                _ => Some("hako cannot share another container's or process's namespace yet".to_string()),
            };
            if let Some(why) = why {
                return Err(self.refused(
                    it,
                    format!(
                        "\"{} = {}\" is refused: {why}; remove the line",
                        it.key,
                        it.value.trim()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The config's warnings, but those about security keys (which are errors instead).
    pub(super) fn warnings(&self) -> Vec<String> {
        self.cfg
            .warnings
            .iter()
            .filter(|w| {
                !(w.message.contains("not supported by hako yet")
                    && is_security_warning(&w.message))
            })
            .map(|w| w.to_string())
            .collect()
    }

    /// `lxc.sysctl.*`, in the order first set, each with its last value (an empty value
    /// drops the key; an empty `lxc.sysctl` drops all), checked with [`refuse_reason`].
    /// `own_net`: the container has a network namespace of its own.
    pub(super) fn sysctls(&self, own_net: bool) -> Result<Vec<Sysctl>> {
        let mut out: Vec<Sysctl> = Vec::new();
        for it in self.cfg.with_prefix("lxc.sysctl.") {
            let key = &it.key["lxc.sysctl.".len()..];
            if let Some(why) = refuse_reason(key, own_net) {
                return Err(self.refused(it, format!("cannot set lxc.sysctl.{key}: {why}")));
            }
            let s = Sysctl {
                key: key.to_string(),
                value: it.value.clone(),
                origin: it.origin.to_string(),
            };
            match out.iter_mut().find(|o| o.key == s.key) {
                Some(o) => *o = s,
                None => out.push(s),
            }
        }
        Ok(out)
    }

    /// The seccomp filters, compiled, in install order, and the warnings the profile gave
    /// (unknown system call names, which LXC skips too):
    ///
    /// - no `lxc.seccomp.profile` (or an empty one): hako's built-in profile;
    /// - `lxc.seccomp.profile = /path`: the built-in profile AND that file's, both
    ///   installed (the kernel runs every filter and the strictest answer wins). LXC
    ///   replaces its filter with the file's; hako keeps its own underneath so that a
    ///   config including Debian's common.conf (which names LXC's smaller common.seccomp)
    ///   still gets everything the built-in refuses;
    /// - `lxc.seccomp.profile = unconfined`: no filter at all;
    /// - `lxc.seccomp.allow_nesting`: either value is accepted (hako always stacks its
    ///   filters on any the process already runs under);
    /// - `lxc.seccomp.notify.proxy` and `.cookie`: not supported yet, refused.
    pub(super) fn seccomp(&self, inputs: &dyn Inputs) -> Result<(Vec<Program>, Vec<String>)> {
        let name = self.name;
        let fail = |key: &str, reason: String| {
            SpecError::from(ErrorKind::Seccomp {
                name: name.to_string(),
                origin: self.origin_of(key),
                key: key.to_string(),
                reason,
            })
        };
        for key in ["lxc.seccomp.notify.proxy", "lxc.seccomp.notify.cookie"] {
            if self.cfg.get(key).is_some() {
                return Err(fail(
                    key,
                    "seccomp notifications (a supervisor in user space answering system calls) are not supported by hako yet; remove the key".into(),
                ));
            }
        }
        if let Some(it) = self.cfg.item("lxc.seccomp.allow_nesting") {
            values::parse_bool(&it.value).map_err(|e| self.bad(it, e))?;
        }
        const KEY: &str = "lxc.seccomp.profile";
        let profile = self.cfg.get(KEY).map(str::trim);
        if profile == Some(SECCOMP_UNCONFINED) {
            return Ok((Vec::new(), Vec::new()));
        }
        let mut filters =
            vec![hako_seccomp::builtin_program().map_err(|e| fail(KEY, e.to_string()))?];
        let mut warnings = Vec::new();
        if let Some(path) = profile.filter(|p| !p.is_empty()) {
            if !path.starts_with('/') {
                return Err(fail(
                    KEY,
                    format!("\"{path}\" is not an absolute path; give the profile file's full path, \"{SECCOMP_UNCONFINED}\" for no seccomp filter, or remove the key for hako's built-in profile"),
                ));
            }
            let text = inputs.seccomp_profile(Path::new(path)).map_err(|m| {
                fail(
                    KEY,
                    format!("{m}; fix the path in the config or remove the key"),
                )
            })?;
            let p = hako_seccomp::parse(&text, path).map_err(|e| fail(KEY, e.to_string()))?;
            let (prog, warned) = hako_seccomp::compile(&p).map_err(|e| fail(KEY, e.to_string()))?;
            warnings.extend(
                warned
                    .iter()
                    .map(|w| format!("container \"{name}\": seccomp profile {w}")),
            );
            filters.push(prog);
        }
        Ok((filters, warnings))
    }

    /// `lxc.apparmor.*` and `lxc.selinux.*`.
    pub(super) fn lsm(&self) -> Result<LsmConfig> {
        let text = |key: &str| {
            self.cfg
                .get(key)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        let flag = |key: &str| -> Result<bool> {
            match self.cfg.item(key).filter(|it| !it.value.trim().is_empty()) {
                Some(it) => values::parse_bool(it.value.trim())
                    .map_err(|e| self.bad_value(Some(it), key, it.value.trim(), e)),
                None => Ok(false),
            }
        };
        let profile = text("lxc.apparmor.profile");
        if let Some(p) = &profile {
            if p.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(self.bad_value(
                    self.cfg.item("lxc.apparmor.profile"),
                    "lxc.apparmor.profile",
                    p,
                    "an AppArmor profile name has no spaces or control characters; use generated, unconfined, unchanged or the name of a loaded profile",
                ));
            }
        }
        Ok(LsmConfig {
            apparmor_profile: profile,
            apparmor_allow_nesting: flag("lxc.apparmor.allow_nesting")?,
            apparmor_allow_incomplete: flag("lxc.apparmor.allow_incomplete")?,
            apparmor_raw: self
                .cfg
                .get_list("lxc.apparmor.raw")
                .into_iter()
                .map(String::from)
                .collect(),
            selinux_context: text("lxc.selinux.context"),
            selinux_context_keyring: text("lxc.selinux.context.keyring"),
        })
    }
}
