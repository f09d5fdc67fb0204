//! LXC's container hooks (`lxc.hook.*`): which programs run at which point of a container's
//! life. Running them is the runtime's (hako-runtime's hooks/mod.rs, where the table of when
//! and where each type runs is).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HookType {
    PreStart,
    PreMount,
    Mount,
    Autodev,
    StartHost,
    Start,
    Stop,
    PostStop,
    Clone,
    Destroy,
}

impl HookType {
    pub const ALL: [HookType; 10] = [
        HookType::PreStart,
        HookType::PreMount,
        HookType::Mount,
        HookType::Autodev,
        HookType::StartHost,
        HookType::Start,
        HookType::Stop,
        HookType::PostStop,
        HookType::Clone,
        HookType::Destroy,
    ];

    /// The name in the key and in `LXC_HOOK_TYPE`: "pre-start", ...
    pub fn name(self) -> &'static str {
        match self {
            HookType::PreStart => "pre-start",
            HookType::PreMount => "pre-mount",
            HookType::Mount => "mount",
            HookType::Autodev => "autodev",
            HookType::StartHost => "start-host",
            HookType::Start => "start",
            HookType::Stop => "stop",
            HookType::PostStop => "post-stop",
            HookType::Clone => "clone",
            HookType::Destroy => "destroy",
        }
    }
}

/// One `lxc.hook.TYPE = COMMAND` line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub kind: HookType,
    /// the command line, split into words (never empty)
    pub argv: Vec<String>,
    /// where it was set (file:line)
    pub origin: String,
}

impl Hook {
    /// `lxc.hook.mount = /x/y arg (config:12)`, for error texts.
    pub fn describe(&self) -> String {
        format!(
            "lxc.hook.{} = {} ({})",
            self.kind.name(),
            self.argv.join(" "),
            self.origin
        )
    }
}

/// The hooks of a container and what their environment needs from its config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hooks {
    /// `lxc.hook.version`: 0 (arguments) or 1 (environment)
    pub version: u8,
    /// every hook, in config order
    pub list: Vec<Hook>,
    /// `lxc.rootfs.path` as written (`LXC_ROOTFS_PATH`)
    pub rootfs_path: String,
    /// `lxc.console.path`, when set (`LXC_CONSOLE`)
    pub console_path: Option<String>,
    /// `LXC_LOG_LEVEL`: `lxc.log.level` as a name, ERROR by default (as LXC)
    pub log_level: String,
}

impl Hooks {
    pub fn has(&self, t: HookType) -> bool {
        self.list.iter().any(|h| h.kind == t)
    }

    pub fn of(&self, t: HookType) -> impl Iterator<Item = &Hook> + '_ {
        self.list.iter().filter(move |h| h.kind == t)
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// `lxc.log.level` (a number 0-8 or a name) as LXC names it in `LXC_LOG_LEVEL`.
pub fn log_level_name(v: Option<&str>) -> String {
    const NAMES: [&str; 9] = [
        "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "ERROR", "CRIT", "ALERT", "FATAL",
    ];
    match v.map(str::trim) {
        Some(n) if n.parse::<usize>().is_ok_and(|i| i < NAMES.len()) => {
            NAMES[n.parse::<usize>().unwrap_or(5)].to_string()
        }
        Some(s) if !s.is_empty() => s.to_ascii_uppercase(),
        _ => "ERROR".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_level_names() {
        assert_eq!(log_level_name(None), "ERROR");
        assert_eq!(log_level_name(Some("1")), "DEBUG");
        assert_eq!(log_level_name(Some("debug")), "DEBUG");
        assert_eq!(log_level_name(Some("8")), "FATAL");
    }

    #[test]
    fn lookups_and_descriptions() {
        let h = Hooks {
            list: vec![
                Hook {
                    kind: HookType::Mount,
                    argv: vec!["/x/y".into(), "arg".into()],
                    origin: "config:12".into(),
                },
                Hook {
                    kind: HookType::Stop,
                    argv: vec!["/s".into()],
                    origin: "config:13".into(),
                },
            ],
            ..Default::default()
        };
        assert!(h.has(HookType::Mount) && h.has(HookType::Stop) && !h.has(HookType::Start));
        assert_eq!(h.of(HookType::Mount).count(), 1);
        assert_eq!(
            h.list[0].describe(),
            "lxc.hook.mount = /x/y arg (config:12)"
        );
        assert!(!h.is_empty() && Hooks::default().is_empty());
        let names: Vec<_> = HookType::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(
            names,
            [
                "pre-start",
                "pre-mount",
                "mount",
                "autodev",
                "start-host",
                "start",
                "stop",
                "post-stop",
                "clone",
                "destroy"
            ]
        );
    }
}
