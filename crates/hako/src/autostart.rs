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

#[derive(Clone, Debug, Default)]
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
pub fn plan(entries: &[(String, bool, u32, i32, Vec<String>)], opts: &AutostartOptions) -> Vec<Planned> {
    let wanted: Vec<&(String, bool, u32, i32, Vec<String>)> =
        entries.iter().filter(|e| e.1 || opts.ignore_auto).collect();
    let mut out: Vec<Planned> = Vec::new();
    let push_sorted = |mut v: Vec<&(String, bool, u32, i32, Vec<String>)>, out: &mut Vec<Planned>| {
        v.sort_by(|a, b| a.3.cmp(&b.3).then_with(|| a.0.cmp(&b.0)));
        for e in v {
            if !out.iter().any(|p| p.name == e.0) {
                out.push(Planned { name: e.0.clone(), delay: e.2, order: e.3 });
            }
        }
    };
    if opts.all {
        push_sorted(wanted, &mut out);
    } else {
        let groups = if opts.groups.is_empty() { vec![String::new()] } else { opts.groups.clone() };
        for g in &groups {
            let members: Vec<_> = wanted
                .iter()
                .copied()
                .filter(|e| if g.is_empty() { e.4.is_empty() } else { e.4.iter().any(|x| x == g) })
                .collect();
            push_sorted(members, &mut out);
        }
    }
    if matches!(opts.action, AutostartAction::Shutdown | AutostartAction::Kill) {
        out.reverse();
    }
    out
}

/// Run it. Returns the plan (for -L) and the errors met (the others still run).
pub fn run(ctx: &Context, opts: &AutostartOptions) -> Result<(Vec<Planned>, Vec<String>)> {
    let mut entries = Vec::new();
    for name in ctx.list()? {
        let c = ctx.container(&name)?;
        match c.load_spec(None, &[]) {
            Ok(s) => entries.push((name, s.start_auto, s.start_delay, s.start_order, s.groups.clone())),
            Err(e) => tracing::warn!("autostart: skipping \"{name}\": {e}"),
        }
    }
    let planned = plan(&entries, opts);
    if opts.list {
        return Ok((planned, Vec::new()));
    }
    let mut errors = Vec::new();
    for p in &planned {
        let c = ctx.container(&p.name)?;
        let state = c.state().unwrap_or(State::Stopped);
        let r = match opts.action {
            AutostartAction::Start => {
                if state != State::Stopped {
                    continue;
                }
                let r = c.start(&StartOptions::default()).map(|_| ());
                if r.is_ok() && p.delay > 0 {
                    std::thread::sleep(Duration::from_secs(p.delay as u64));
                }
                r
            }
            AutostartAction::Shutdown | AutostartAction::Kill => {
                if state == State::Stopped {
                    continue;
                }
                c.stop(&StopOptions {
                    kill: opts.action == AutostartAction::Kill,
                    timeout: if opts.action == AutostartAction::Kill { None } else { opts.timeout },
                    ..Default::default()
                })
            }
            AutostartAction::Reboot => {
                if state == State::Stopped {
                    continue;
                }
                c.stop(&StopOptions { reboot: true, timeout: opts.timeout, ..Default::default() })
            }
        };
        if let Err(e) = r {
            errors.push(format!("{}: {e}", p.name));
        }
    }
    Ok((planned, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(n: &str, auto: bool, delay: u32, order: i32, groups: &[&str]) -> (String, bool, u32, i32, Vec<String>) {
        (n.into(), auto, delay, order, groups.iter().map(|g| g.to_string()).collect())
    }

    #[test]
    fn default_is_the_null_group_in_order() {
        let es = vec![e("b", true, 0, 2, &[]), e("a", true, 5, 1, &[]), e("c", true, 0, 0, &["web"]), e("d", false, 0, 0, &[])];
        let p = plan(&es, &AutostartOptions::default());
        let names: Vec<_> = p.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(p[0].delay, 5);
    }

    #[test]
    fn groups_in_command_line_order_and_shutdown_reverses() {
        let es = vec![e("n", true, 0, 0, &[]), e("w", true, 0, 0, &["web"]), e("o", true, 0, 0, &["onboot"]), e("both", true, 0, 0, &["web", "onboot"])];
        let opts = AutostartOptions { groups: parse_groups(&["onboot,".into()]), ..Default::default() };
        let names: Vec<_> = plan(&es, &opts).into_iter().map(|x| x.name).collect();
        assert_eq!(names, ["both", "o", "n"]);
        let opts = AutostartOptions { all: true, action: AutostartAction::Shutdown, ..Default::default() };
        let names: Vec<_> = plan(&es, &opts).into_iter().map(|x| x.name).collect();
        assert_eq!(names, ["w", "o", "n", "both"]);
        let opts = AutostartOptions { all: true, ignore_auto: true, ..Default::default() };
        assert_eq!(plan(&[e("x", false, 0, 0, &[])], &opts).len(), 1);
    }

    #[test]
    fn group_parsing() {
        assert_eq!(parse_groups(&["dns,web,,onboot".into()]), ["dns", "web", "", "onboot"]);
        assert_eq!(parse_groups(&["a".into(), "".into(), "a".into()]), ["a", ""]);
    }
}
