//! `hako autostart` / `lxc-autostart`: start, stop, kill or reboot the containers marked
//! with `lxc.start.auto`, group by group, in `lxc.start.order`, waiting `lxc.start.delay`
//! seconds after each start.

use std::time::Duration;

use crate::{Context, Result, StartOptions, State, StopOptions};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AutostartAction {
    #[default]
    Start,
    Shutdown,
    Kill,
    Reboot,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AutostartOptions {
    pub action: AutostartAction,
    /// `-a`: every auto-started container, whatever its groups
    pub all: bool,
    /// `-A`: ignore lxc.start.auto
    pub ignore_auto: bool,
    /// `-g`, in command-line order; "" is the NULL group (no lxc.group). Empty: the NULL group.
    pub groups: Vec<String>,
    /// `-L`: only list
    pub list: bool,
    /// `-t`: shutdown/reboot timeout in seconds
    pub timeout: Option<i64>,
}

/// One selected container, in processing order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    pub name: String,
    pub delay: u32,
    pub order: i32,
}

/// Parse LXC's `-g` values: comma-separated, an empty element is the NULL group.
pub fn parse_groups(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for a in args {
        for g in a.split(',') {
            let g = g.trim().to_string();
            if !out.contains(&g) {
                out.push(g);
            }
        }
    }
    out
}

/// Which containers, in which order: the selected groups one after the other (a
/// container is processed once, in its first selected group), each group by ascending
/// lxc.start.order, then name. Shutdown/kill reverse the whole list.
pub fn plan(
    entries: &[(String, bool, u32, i32, Vec<String>)],
    opts: &AutostartOptions,
) -> Vec<Planned> {
    let wanted: Vec<&(String, bool, u32, i32, Vec<String>)> =
        entries.iter().filter(|e| e.1 || opts.ignore_auto).collect();
    let mut out: Vec<Planned> = Vec::new();
    let push_sorted = |mut v: Vec<&(String, bool, u32, i32, Vec<String>)>,
                       out: &mut Vec<Planned>| {
        v.sort_by(|a, b| a.3.cmp(&b.3).then_with(|| a.0.cmp(&b.0)));
        for e in v {
            if !out.iter().any(|p| p.name == e.0) {
                out.push(Planned {
                    name: e.0.clone(),
                    delay: e.2,
                    order: e.3,
                });
            }
        }
    };
    if opts.all {
        push_sorted(wanted, &mut out);
    } else {
        let groups = if opts.groups.is_empty() {
            vec![String::new()]
        } else {
            opts.groups.clone()
        };
        for g in &groups {
            let members: Vec<_> = wanted
                .iter()
                .copied()
                .filter(|e| {
                    if g.is_empty() {
                        e.4.is_empty()
                    } else {
                        e.4.iter().any(|x| x == g)
                    }
                })
                .collect();
            push_sorted(members, &mut out);
        }
    }
    if matches!(
        opts.action,
        AutostartAction::Shutdown | AutostartAction::Kill
    ) {
        out.reverse();
    }
    out
}

/// Does `action` apply to a container in `state`? Start acts on stopped containers only
/// (running ones are left alone), the others on running (or frozen...) ones only, as
/// lxc-autostart does; `-L` lists exactly these.
pub fn applies(action: AutostartAction, state: State) -> bool {
    match action {
        AutostartAction::Start => state == State::Stopped,
        AutostartAction::Shutdown | AutostartAction::Kill | AutostartAction::Reboot => {
            state != State::Stopped
        }
    }
}

/// The `-L` line of one container, LXC's format: `NAME DELAY` for start and reboot (the
/// seconds waited before the next one), `NAME` for shutdown and kill.
pub fn list_line(action: AutostartAction, p: &Planned) -> String {
    match action {
        AutostartAction::Start | AutostartAction::Reboot => format!("{} {}", p.name, p.delay),
        AutostartAction::Shutdown | AutostartAction::Kill => p.name.clone(),
    }
}

/// Run it. Returns the containers acted on (with `list`: that would be acted on), in
/// order, and one message per failure (the others still run). A container whose config
/// cannot be read counts as a failure: it may be one that should have started.
pub fn run(ctx: &Context, opts: &AutostartOptions) -> Result<(Vec<Planned>, Vec<String>)> {
    if opts.all && !opts.groups.is_empty() {
        tracing::warn!(
            "autostart: -a selects every auto-started container; the -g groups are ignored"
        );
    }
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    for name in ctx.list()? {
        let c = ctx.container(&name)?;
        match c.read_spec() {
            Ok(s) => entries.push((
                name,
                s.start_auto,
                s.start_delay,
                s.start_order,
                s.groups.clone(),
            )),
            Err(e) => errors.push(format!(
                "cannot read the config of container \"{name}\", skipped: {e}"
            )),
        }
    }
    let mut todo = Vec::new();
    for p in plan(&entries, opts) {
        let state = match ctx.container(&p.name).and_then(|c| c.state()) {
            Ok(s) => s,
            Err(e) => {
                errors.push(format!(
                    "cannot read the state of container \"{}\", skipped: {e}",
                    p.name
                ));
                continue;
            }
        };
        if applies(opts.action, state) {
            todo.push(p);
        }
    }
    if opts.list {
        return Ok((todo, errors));
    }
    let last = todo.len().saturating_sub(1);
    for (i, p) in todo.iter().enumerate() {
        let c = ctx.container(&p.name)?;
        let (what, r) = match opts.action {
            AutostartAction::Start => ("start", c.start(&StartOptions::default()).map(|_| ())),
            AutostartAction::Shutdown => (
                "shut down",
                c.stop(&StopOptions {
                    timeout: opts.timeout,
                    ..Default::default()
                }),
            ),
            AutostartAction::Kill => (
                "kill",
                c.stop(&StopOptions {
                    kill: true,
                    ..Default::default()
                }),
            ),
            AutostartAction::Reboot => (
                "reboot",
                c.stop(&StopOptions {
                    reboot: true,
                    timeout: opts.timeout,
                    ..Default::default()
                }),
            ),
        };
        match r {
            Ok(()) => {
                tracing::info!("autostart: {what}: container \"{}\"", p.name);
                // lxc.start.delay: time for this one to come up before the next starts
                let waits = matches!(
                    opts.action,
                    AutostartAction::Start | AutostartAction::Reboot
                );
                if waits && p.delay > 0 && i < last {
                    std::thread::sleep(Duration::from_secs(p.delay as u64));
                }
            }
            Err(e) => {
                // most facade errors name the container already
                let msg = e.to_string();
                if msg.contains(&format!("\"{}\"", p.name)) {
                    errors.push(format!("{what}: {msg}"));
                } else {
                    errors.push(format!("cannot {what} container \"{}\": {msg}", p.name));
                }
            }
        }
    }
    Ok((todo, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(
        n: &str,
        auto: bool,
        delay: u32,
        order: i32,
        groups: &[&str],
    ) -> (String, bool, u32, i32, Vec<String>) {
        (
            n.into(),
            auto,
            delay,
            order,
            groups.iter().map(|g| g.to_string()).collect(),
        )
    }

    #[test]
    fn default_is_the_null_group_in_order() {
        let es = vec![
            e("b", true, 0, 2, &[]),
            e("a", true, 5, 1, &[]),
            e("c", true, 0, 0, &["web"]),
            e("d", false, 0, 0, &[]),
        ];
        let p = plan(&es, &AutostartOptions::default());
        let names: Vec<_> = p.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(p[0].delay, 5);
    }

    #[test]
    fn groups_in_command_line_order_and_shutdown_reverses() {
        let es = vec![
            e("n", true, 0, 0, &[]),
            e("w", true, 0, 0, &["web"]),
            e("o", true, 0, 0, &["onboot"]),
            e("both", true, 0, 0, &["web", "onboot"]),
        ];
        let opts = AutostartOptions {
            groups: parse_groups(&["onboot,".into()]),
            ..Default::default()
        };
        let names: Vec<_> = plan(&es, &opts).into_iter().map(|x| x.name).collect();
        assert_eq!(names, ["both", "o", "n"]);
        let opts = AutostartOptions {
            all: true,
            action: AutostartAction::Shutdown,
            ..Default::default()
        };
        let names: Vec<_> = plan(&es, &opts).into_iter().map(|x| x.name).collect();
        assert_eq!(names, ["w", "o", "n", "both"]);
        let opts = AutostartOptions {
            all: true,
            ignore_auto: true,
            ..Default::default()
        };
        assert_eq!(plan(&[e("x", false, 0, 0, &[])], &opts).len(), 1);
    }

    #[test]
    fn group_parsing() {
        assert_eq!(
            parse_groups(&["dns,web,,onboot".into()]),
            ["dns", "web", "", "onboot"]
        );
        assert_eq!(
            parse_groups(&["a".into(), "".into(), "a".into()]),
            ["a", ""]
        );
    }

    #[test]
    fn list_lines_and_which_states_apply() {
        let p = Planned {
            name: "web".into(),
            delay: 3,
            order: 0,
        };
        assert_eq!(list_line(AutostartAction::Start, &p), "web 3");
        assert_eq!(list_line(AutostartAction::Reboot, &p), "web 3");
        assert_eq!(list_line(AutostartAction::Shutdown, &p), "web");
        assert_eq!(list_line(AutostartAction::Kill, &p), "web");
        assert!(applies(AutostartAction::Start, State::Stopped));
        assert!(!applies(AutostartAction::Start, State::Running));
        assert!(!applies(AutostartAction::Start, State::Frozen));
        for a in [
            AutostartAction::Shutdown,
            AutostartAction::Kill,
            AutostartAction::Reboot,
        ] {
            assert!(applies(a, State::Running));
            assert!(applies(a, State::Frozen));
            assert!(!applies(a, State::Stopped));
        }
    }

    #[test]
    fn all_overrides_groups_and_kill_reverses() {
        let es = vec![
            e("a", true, 0, 3, &[]),
            e("b", true, 1, 1, &[]),
            e("c", true, 0, 2, &["web"]),
            e("d", false, 0, 0, &[]),
        ];
        let names =
            |o: &AutostartOptions| plan(&es, o).into_iter().map(|x| x.name).collect::<Vec<_>>();
        let o = AutostartOptions {
            all: true,
            groups: vec!["web".into()],
            ..Default::default()
        };
        assert_eq!(names(&o), ["b", "c", "a"]);
        let o = AutostartOptions {
            groups: vec!["web".into()],
            ..Default::default()
        };
        assert_eq!(names(&o), ["c"]);
        let o = AutostartOptions {
            action: AutostartAction::Kill,
            ..Default::default()
        };
        assert_eq!(names(&o), ["a", "b"]);
        let o = AutostartOptions {
            ignore_auto: true,
            ..Default::default()
        };
        assert_eq!(names(&o), ["d", "b", "a"]);
        // equal order: by name
        let es2 = vec![e("z", true, 0, 1, &[]), e("m", true, 0, 1, &[])];
        let p: Vec<_> = plan(&es2, &AutostartOptions::default())
            .into_iter()
            .map(|x| x.name)
            .collect();
        assert_eq!(p, ["m", "z"]);
    }
}
