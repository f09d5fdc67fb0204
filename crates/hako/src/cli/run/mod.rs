//! Carries out an [`Invocation`] against the facade and prints the result. The only
//! decisions here are LXC's exit codes and which facade calls a request needs.

mod events;
mod top;
pub use top::parse_delay as parse_top_delay;

use std::time::Duration;

use super::action::*;
use super::format::{self, ConfigValue, LsRow};
use super::sys::{print_err, print_out};
use super::{checkconfig, links, sys};
use crate::{Container, Context, Error, Info, State};

/// A failure to report: the message (without the program prefix) and the exit code.
#[derive(Debug, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl Failure {
    fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 1,
        }
    }
}

/// LXC's exit codes for a facade error: `stop` on a container that is not running exits
/// 2 (lxc-stop(1)); every other failure, unknown containers included, exits 1.
pub fn exit_code(action_verb: &str, err: &Error) -> i32 {
    match (action_verb, err) {
        ("stop", Error::NotRunning { .. }) => 2,
        _ => 1,
    }
}

fn fail(verb: &str) -> impl Fn(Error) -> Failure + '_ {
    move |e| Failure {
        code: exit_code(verb, &e),
        message: e.to_string(),
    }
}

/// The root check: a message when a state-changing command runs without root, other
/// than those a non-root user runs on its own containers ([`Action::rootless_ok`]).
pub fn root_check(action: &Action, euid: u32) -> Result<(), String> {
    if action.needs_root() && !action.rootless_ok() && euid != 0 {
        Err(format!(
            "{} needs root (running as uid {euid}); run it with sudo",
            action.verb()
        ))
    } else {
        Ok(())
    }
}

/// A non-root caller's state-changing command ([`Action::rootless_ok`]) works on its own
/// containers only: an lxcpath given with -P that another user owns (root's
/// /var/lib/hako...) is refused as root_check refuses (`owner`: the lxcpath's owner, None
/// when it does not exist yet).
pub fn lxcpath_check(
    action: &Action,
    euid: u32,
    lxcpath: Option<&std::path::Path>,
    owner: Option<u32>,
) -> Result<(), String> {
    match (lxcpath, owner) {
        (Some(p), Some(o)) if euid != 0 && o != euid && action.needs_root() => Err(format!(
            "{} needs root for the containers in {} (owned by uid {o}; running as uid {euid}); a non-root user runs the containers of its own lxcpath (the default ~/.local/share/hako), or run it with sudo",
            action.verb(),
            p.display()
        )),
        _ => Ok(()),
    }
}

/// Runs a parsed command line; returns the exit code.
pub fn run(inv: Invocation) -> i32 {
    let prog = inv.face.program();
    if let Err(msg) = root_check(&inv.action, sys::euid()) {
        print_err(&format!("{prog}: {msg}\n"));
        return 1;
    }
    let lp = inv.globals.lxcpath.as_deref();
    let owner = lp
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    if let Err(msg) = lxcpath_check(&inv.action, sys::euid(), lp, owner) {
        print_err(&format!("{prog}: {msg}\n"));
        return 1;
    }
    if let Err(msg) = super::logging::init(&inv.globals, prog) {
        print_err(&format!("{prog}: {msg}\n"));
        return 1;
    }
    hako_runtime::sys::timing("cli: logging set up");
    match execute(inv.face, &inv.globals, inv.action) {
        Ok(code) => code,
        Err(f) => {
            print_err(&format!("{prog}: {}\n", f.message));
            f.code
        }
    }
}

fn context(face: Face, g: &Globals) -> Result<Context, Failure> {
    Context::new(face.flavour(), g.lxcpath.as_deref()).map_err(fail("context"))
}

/// The container, which must be defined (a half-made one is refused with what to do).
fn existing(ctx: &Context, name: &str, verb: &str) -> Result<Container, Failure> {
    let c = ctx.container(name).map_err(fail(verb))?;
    if !c.exists() {
        return Err(fail(verb)(crate::storage::not_usable(ctx, name)));
    }
    Ok(c)
}

fn execute(face: Face, g: &Globals, action: Action) -> Result<i32, Failure> {
    let verb = action.verb();
    match action {
        Action::Version => {
            print_out(&format!("hako {}\n", env!("CARGO_PKG_VERSION")));
            Ok(0)
        }
        Action::Usernsexec(o) => crate::usernsexec::run(&o).map_err(Failure::new),
        Action::CompatLinks { dir } => {
            let exe = std::env::current_exe().map_err(|e| {
                Failure::new(format!(
                    "cannot find this program's own path (/proc/self/exe): {e}; is /proc mounted?"
                ))
            })?;
            let report = links::compat_links(&dir, &exe).map_err(Failure::new)?;
            print_out(&report);
            Ok(0)
        }
        Action::CheckConfig { name: None } => {
            let config = checkconfig::load_kernel_config().map_err(Failure::new)?;
            let parsed = config
                .as_ref()
                .map(|(p, t)| (p.clone(), checkconfig::parse_kernel_config(t)));
            let r = checkconfig::report(
                parsed.as_ref().map(|(p, m)| (p.as_path(), m)),
                &checkconfig::probe(),
                sys::stdout_is_terminal(),
            );
            print_out(&r.text);
            Ok(if r.failed { 1 } else { 0 })
        }
        Action::CheckConfig { name: Some(name) } => {
            let ctx = context(face, g)?;
            let c = existing(&ctx, &name, verb)?;
            // load_spec reads, checks and translates the whole config; errors carry
            // file:line, warnings (legacy keys...) go to the log, shown by default.
            let spec = c.load_spec(None, &[]).map_err(fail(verb))?;
            let n = spec.warnings.len();
            print_out(&format!(
                "{}: config of container \"{name}\" is valid ({n} warning{})\n",
                c.config_path().display(),
                if n == 1 { "" } else { "s" }
            ));
            Ok(0)
        }
        Action::SystemConfig(req) => system_config(face, g, req),
        Action::Create { name, opts } => {
            let ctx = context(face, g)?;
            ctx.container(&name)
                .and_then(|c| crate::storage::create(&c, &opts))
                .map_err(fail(verb))?;
            Ok(0)
        }
        Action::Destroy {
            name,
            force,
            snapshots,
        } => {
            let ctx = context(face, g)?;
            // not `existing`: a half-made container is destroyed by name too
            let c = ctx.container(&name).map_err(fail(verb))?;
            crate::storage::destroy(&c, force, snapshots).map_err(fail(verb))?;
            Ok(0)
        }
        Action::Copy { opts } => {
            let ctx = context(face, g)?;
            existing(&ctx, &opts.src, verb)?;
            super::storage_cmd::copy(face, &ctx, &opts)
        }
        Action::Snapshot { name, req, format } => {
            let ctx = context(face, g)?;
            existing(&ctx, &name, verb)?;
            super::storage_cmd::snapshot(face, &ctx, &name, &req, format, g.quiet)
        }
        Action::Image { req, format } => {
            let ctx = context(face, g)?;
            super::storage_cmd::image(&ctx, &req, format, g.quiet)
        }
        Action::Start { name, opts } => {
            let ctx = context(face, g)?;
            // No existence check here: with -f CONFIG LXC starts an undefined container.
            ctx.container(&name)
                .and_then(|c| c.start(&opts))
                .map_err(fail(verb))
        }
        Action::Stop {
            name,
            opts,
            extras: _,
        } => {
            let ctx = context(face, g)?;
            existing(&ctx, &name, verb)?
                .stop(&opts)
                .map_err(fail(verb))?;
            Ok(0)
        }
        Action::Attach { name, opts } => {
            let ctx = context(face, g)?;
            existing(&ctx, &name, verb)?
                .attach(&opts)
                .map_err(fail(verb))
        }
        Action::Execute { name, opts } => {
            let ctx = context(face, g)?;
            ctx.container(&name)
                .and_then(|c| c.execute(&opts))
                .map_err(fail(verb))
        }
        Action::Freeze { name } => {
            let ctx = context(face, g)?;
            existing(&ctx, &name, verb)?.freeze().map_err(fail(verb))?;
            Ok(0)
        }
        Action::Unfreeze { name } => {
            let ctx = context(face, g)?;
            existing(&ctx, &name, verb)?
                .unfreeze()
                .map_err(fail(verb))?;
            Ok(0)
        }
        Action::Cgroup { name, key, value } => {
            let ctx = context(face, g)?;
            let c = existing(&ctx, &name, verb)?;
            match value {
                Some(v) => c.cgroup_set(&key, &v).map_err(fail(verb))?,
                None => {
                    let v = c.cgroup_get(&key).map_err(fail(verb))?;
                    print_out(&format!("{}\n", v.trim_end_matches('\n')));
                }
            }
            Ok(0)
        }
        Action::Info { name, req } => info(face, g, &name, &req),
        Action::FilePush {
            name,
            local,
            remote,
            opts,
        } => {
            let ctx = context(face, g)?;
            existing(&ctx, &name, verb)?
                .file_push(&local, &remote, &opts)
                .map_err(fail(verb))?;
            Ok(0)
        }
        Action::FilePull {
            name,
            remote,
            local,
            opts,
        } => {
            let ctx = context(face, g)?;
            existing(&ctx, &name, verb)?
                .file_pull(&remote, &local, &opts)
                .map_err(fail(verb))?;
            Ok(0)
        }
        Action::Autostart(opts) => autostart(face, g, &opts),
        Action::Network(n) => network(face, g, n),
        Action::Ls(req) => ls(face, g, &req),
        Action::Wait {
            name,
            states,
            timeout,
        } => {
            let ctx = context(face, g)?;
            let c = ctx.container(&name).map_err(fail(verb))?;
            if c.wait(&states, timeout).map_err(fail(verb))? {
                Ok(0)
            } else {
                Err(Failure::new(wait_timeout_message(&name, &states, timeout)))
            }
        }
        Action::Console { name, tty, escape } => {
            let ctx = context(face, g)?;
            existing(&ctx, &name, verb)?
                .console(tty, escape)
                .map_err(fail(verb))?;
            Ok(0)
        }
        Action::ConfigUpgrade { name } => {
            let ctx = context(face, g)?;
            let n = existing(&ctx, &name, verb)?
                .upgrade_config()
                .map_err(fail(verb))?;
            print_out(&format!(
                "{n} legacy line(s) rewritten in the config of \"{name}\"\n"
            ));
            Ok(0)
        }
        Action::ConfigUpgradeFile { path } => events::upgrade_file(&path),
        Action::Monitor(req) => {
            let ctx = context(face, g)?;
            events::monitor(&ctx, &req)
        }
        Action::Top(req) => {
            let ctx = context(face, g)?;
            top::top(&ctx, &req)
        }
        Action::Unshare(o) => crate::unshare::run(&o).map_err(fail(verb)),
        Action::Device { name, req } => {
            let ctx = context(face, g)?;
            let c = existing(&ctx, &name, verb)?;
            let line = crate::device::run(&c, &req).map_err(fail(verb))?;
            if !g.quiet {
                print_out(&line);
            }
            Ok(0)
        }
        Action::ConfigItem { name, key } => {
            let ctx = context(face, g)?;
            let values = existing(&ctx, &name, verb)?
                .config_item(&key)
                .map_err(fail(verb))?;
            let mut out = String::new();
            for v in values {
                out.push_str(&v);
                out.push('\n');
            }
            print_out(&out);
            Ok(0)
        }
    }
}

/// `autostart` / `lxc-autostart`: with -L the list on stdout; otherwise quiet, every
/// failure on its own line on stderr, exit 1 if there was any.
fn autostart(
    face: Face,
    g: &Globals,
    opts: &crate::autostart::AutostartOptions,
) -> Result<i32, Failure> {
    let ctx = context(face, g)?;
    let (done, errors) = crate::autostart::run(&ctx, opts).map_err(fail("autostart"))?;
    if opts.list {
        let mut out = String::new();
        for p in &done {
            out.push_str(&crate::autostart::list_line(opts.action, p));
            out.push('\n');
        }
        print_out(&out);
    }
    let prog = face.program();
    for e in &errors {
        print_err(&format!("{prog}: {e}\n"));
    }
    Ok(if errors.is_empty() { 0 } else { 1 })
}

pub fn wait_timeout_message(name: &str, states: &[State], timeout: Option<Duration>) -> String {
    let want: Vec<&str> = states.iter().map(State::as_str).collect();
    format!(
        "timed out after {} s waiting for container \"{name}\" to reach {}; raise -t or check the container with \"hako info {name}\"",
        timeout.map(|t| t.as_secs()).unwrap_or(0),
        want.join("|")
    )
}

fn system_config(face: Face, g: &Globals, req: SystemConfigRequest) -> Result<i32, Failure> {
    let default_config = match face.flavour() {
        crate::Flavour::Lxc => "/etc/lxc/default.conf",
        crate::Flavour::Hako => "/etc/hako/default.conf",
    };
    match req {
        SystemConfigRequest::List => {
            print_out("lxc.default_config\nlxc.lxcpath\n");
            Ok(0)
        }
        SystemConfigRequest::Item(item) => match item.as_str() {
            "lxc.lxcpath" => {
                let ctx = context(face, g)?;
                print_out(&format!("{}\n", ctx.lxcpath.display()));
                Ok(0)
            }
            "lxc.default_config" => {
                print_out(&format!("{default_config}\n"));
                Ok(0)
            }
            other => Err(Failure::new(format!(
                "Unknown configuration item: {other}; hako knows lxc.default_config and lxc.lxcpath"
            ))),
        },
    }
}

/// An [`Info`] with only state and pid, for `info -s`/`-p`, which need no statistics.
fn light_info(c: &Container) -> crate::Result<Info> {
    let state = c.state()?;
    let pid = if state == State::Stopped {
        None
    } else {
        c.init_pid()?
    };
    let mut i = Info::empty(c.name(), state);
    i.pid = pid;
    Ok(i)
}

fn info(face: Face, g: &Globals, name: &str, req: &InfoRequest) -> Result<i32, Failure> {
    let verb = "info";
    let prog = face.program();
    let ctx = context(face, g)?;
    let c = existing(&ctx, name, verb)?;
    if req.format == Format::Json {
        let i = c.info().map_err(fail(verb))?;
        print_out(&format::info_json(&i));
        return Ok(0);
    }
    let full = req.is_full();
    let i = if full || req.ips || req.stats {
        Some(c.info().map_err(fail(verb))?)
    } else if req.state || req.pid {
        Some(light_info(&c).map_err(fail(verb))?)
    } else {
        None
    };
    let config: Vec<(String, ConfigValue)> = req
        .keys
        .iter()
        .map(|k| {
            (
                k.clone(),
                c.config_item(k).map_err(|e| format!("{prog}: {e}")),
            )
        })
        .collect();
    let key_failed = config.iter().any(|(_, v)| v.is_err());
    let (out, err) = match &i {
        Some(i) => format::format_info(i, req, &config, face == Face::Hako),
        None => {
            // only -c KEY: no state needed; format with a placeholder that prints nothing
            let placeholder = Info::empty(name, State::Stopped);
            format::format_info(&placeholder, req, &config, false)
        }
    };
    print_out(&out);
    print_err(&err);
    // lxc-info reports unreadable keys on stderr but still exits 0; hako exits 1.
    Ok(if key_failed && face == Face::Hako {
        1
    } else {
        0
    })
}

/// Which containers `ls` keeps, from what is known about one.
pub fn ls_keep(req: &LsRequest, state: State, groups: &[String]) -> bool {
    let active = state != State::Stopped;
    if req.running && !active {
        return false;
    }
    if req.active && !active {
        return false;
    }
    if req.frozen && !req.active && state != State::Frozen {
        return false;
    }
    if req.stopped && state != State::Stopped {
        return false;
    }
    req.groups.iter().all(|g| groups.contains(g))
}

fn ls(face: Face, g: &Globals, req: &LsRequest) -> Result<i32, Failure> {
    let filter = req
        .filter
        .as_deref()
        .map(sys::PosixRegex::new)
        .transpose()
        .map_err(Failure::new)?;
    let ctx = context(face, g)?;
    // As lxc-ls: a missing lxcpath is an empty list (a file given as the lxcpath is an
    // error). Half-made containers are listed too, with what to do on stderr.
    let entries = crate::storage::list_all(&ctx).map_err(fail("ls"))?;
    let need_info = req.fancy.is_some() || req.format == Format::Json || !req.groups.is_empty();
    let need_state = need_info || req.running || req.stopped || req.frozen || req.active;
    let state_filter = req.running || req.stopped || req.frozen || req.active;
    let mut rows: Vec<LsRow> = Vec::new();
    let mut kept: Vec<String> = Vec::new();
    let mut notes = String::new();
    for entry in entries {
        let name = entry.name;
        if filter.as_ref().is_some_and(|re| !re.is_match(&name)) {
            continue;
        }
        if let Some(p) = &entry.partial {
            // no state of its own: shown unless a state or group filter asks for one
            if state_filter || !req.groups.is_empty() {
                continue;
            }
            notes.push_str(&format!(
                "{}: {}\n",
                face.program(),
                crate::storage::partial_note(face.flavour(), &name, p)
            ));
            kept.push(name.clone());
            let fix = crate::storage::destroy_command(face.flavour(), &name);
            rows.push(LsRow::partial(&name, p, fix));
            continue;
        }
        if !need_state {
            kept.push(name);
            continue;
        }
        let c = match ctx.container(&name) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("skipping \"{name}\": {e}");
                continue;
            }
        };
        if need_info {
            match c.info() {
                Ok(i) => {
                    if ls_keep(req, i.state, &i.groups) {
                        kept.push(name);
                        rows.push(LsRow::from_info(&i));
                    }
                }
                Err(e) => tracing::warn!("skipping \"{name}\": {e}"),
            }
        } else {
            match c.state() {
                Ok(s) => {
                    if ls_keep(req, s, &[]) {
                        kept.push(name);
                    }
                }
                Err(e) => tracing::warn!("skipping \"{name}\": {e}"),
            }
        }
    }
    let text = if req.format == Format::Json {
        format::ls_json(&rows)
    } else if let Some(cols) = &req.fancy {
        format::ls_table(&rows, cols)
    } else {
        let width = if req.one_per_line {
            0
        } else {
            sys::term_width()
        };
        format::ls_names(&kept, req.one_per_line, width)
    };
    print_out(&text);
    print_err(&notes);
    Ok(0)
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What `network create` reports: the chosen addresses and how the network comes up.
pub fn net_created_message(d: &crate::network::NetworkDef) -> String {
    let v4 = d
        .ipv4
        .map(|n| format!("IPv4 {n}"))
        .unwrap_or_else(|| "no IPv4".into());
    let v6 = d
        .ipv6
        .map(|n| format!("IPv6 {n}"))
        .unwrap_or_else(|| "no IPv6".into());
    format!(
        "network \"{0}\" created: bridge {1}, {v4}, {v6}, NAT {2}, DHCP {3}; it comes up with the first container that uses it (lxc.net.N.link = {0}) or with \"hako network up {0}\"\n",
        d.name,
        d.bridge,
        if d.nat { "on" } else { "off" },
        if d.dhcp { "on" } else { "off" },
    )
}

/// What `network up` reports.
pub fn net_up_message(
    d: &crate::network::NetworkDef,
    st: &crate::network::NetworkStatus,
) -> String {
    let mut parts = vec![format!("bridge {}", d.bridge)];
    parts.extend(d.ipv4.map(|n| n.to_string()));
    parts.extend(d.ipv6.map(|n| n.to_string()));
    if st.nft_table {
        parts.push(format!("nftables table inet {}", d.nft_table()));
    }
    if let Some(pid) = st.dnsmasq_pid {
        parts.push(format!("dnsmasq pid {pid}"));
    }
    format!("network \"{}\" is up: {}\n", d.name, parts.join(", "))
}

fn network(face: Face, g: &Globals, action: NetworkAction) -> Result<i32, Failure> {
    use crate::network as net;
    let verb = action.verb();
    // The lxcpath is only used to name the containers whose devices are on a bridge.
    let ctx = Context::new(face.flavour(), g.lxcpath.as_deref()).ok();
    match action {
        NetworkAction::Create { name, opts } => {
            let d = net::create(&name, opts).map_err(fail(verb))?;
            print_out(&net_created_message(&d));
        }
        NetworkAction::Ls { format } => {
            let list = net::list().map_err(fail(verb))?;
            print_out(&match format {
                Format::Json => format::net_ls_json(&list),
                Format::Text => format::net_ls_table(&list),
            });
        }
        NetworkAction::Show { name, format } => {
            let d = net::show(&name, ctx.as_ref()).map_err(fail(verb))?;
            print_out(&match format {
                Format::Json => format::net_show_json(&d),
                Format::Text => format::net_show_text(&d, now_secs()),
            });
        }
        NetworkAction::Leases { name, format } => {
            let l = net::leases(&name).map_err(fail(verb))?;
            print_out(&match format {
                Format::Json => format::leases_json(&l),
                Format::Text => format::leases_table(&l, now_secs()),
            });
        }
        NetworkAction::Rm { name, force } => {
            net::remove(&name, force, ctx.as_ref()).map_err(fail(verb))?;
        }
        NetworkAction::Up { name } => {
            let st = net::up(&name).map_err(fail(verb))?;
            let d = net::get(&name).map_err(fail(verb))?;
            print_out(&net_up_message(&d, &st));
        }
        NetworkAction::Down { name, force } => {
            net::down(&name, force, ctx.as_ref()).map_err(fail(verb))?;
        }
    }
    Ok(0)
}

/// Used by tests and by `compat-links` callers that want the names.
pub fn lxc_program_names() -> Vec<&'static str> {
    Tool::ALL.iter().map(|t| t.program()).collect()
}

#[cfg(test)]
mod tests;
