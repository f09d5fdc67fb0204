//! The hand-over in one process: a monitor's state with real fds (pipes, memfds, sockets)
//! is encoded, the old image's memory is forgotten as exec would (its fds stay open), and
//! the state decoded from the bytes must equal the original in every field.

use std::collections::VecDeque;
use std::os::fd::IntoRawFd;

use super::*;
use crate::hooks::{Hooks, RunHooks};
use crate::monitor::images::memfd_with;

fn pipe() -> OwnedFd {
    nix::unistd::pipe().unwrap().0
}

fn memfd(data: &[u8]) -> OwnedFd {
    memfd_with("hako-test", data).unwrap()
}

fn client(mode: ClientMode) -> (Client, UnixStream) {
    let (mine, peer) = UnixStream::pair().unwrap();
    let mut c = Client::new(mine);
    c.mode = mode;
    (c, peer)
}

/// A monitor as a daemon's `hako` image hands it over: every handed-over field set to
/// something that is not its default (`full`), or as bare as it gets. The fields that do
/// not cross (the launcher, a stop under way, ...) are as they are when it hands over.
/// The returned streams are the clients' other ends.
fn sample(dir: &Path, full: bool) -> (Monitor, Vec<UnixStream>) {
    let mut peers = Vec::new();
    let mut clients = Vec::new();
    if full {
        let (mut c, p) = client(ClientMode::Requests);
        c.inbuf = b"sta".to_vec();
        c.out = VecDeque::from(b"ok\tstate=RUNNING\n".to_vec());
        c.out.drain(..3);
        c.out.push_back(b'\n');
        c.waits_stop = true;
        clients.push(c);
        peers.push(p);
        let (mut c, p) = client(ClientMode::Console(2));
        c.closing = true;
        clients.push(c);
        peers.push(p);
        let (mut c, p) = client(ClientMode::Events);
        c.waits_reboot = true;
        clients.push(c);
        peers.push(p);
        let (c, p) = client(ClientMode::Console(0));
        clients.push(c);
        peers.push(p);
    }
    let run = full.then(|| Run {
        mnt_ns: Some(pipe()),
        net: Some((
            NetState {
                host_links: vec!["vethA1".into(), "vethB2".into()],
                phys: vec![("eth1".into(), "enp3s0".into())],
            },
            Some(pipe()),
        )),
        pid: 4242,
        pidfd: pipe(),
        cgroup: Cgroup::from_parts(
            "hako.payload.web-0123".into(),
            Mode::Hybrid,
            vec![
                CgroupDir {
                    path: "/sys/fs/cgroup/memory/hako.payload.web-0123".into(),
                    version: 1,
                    controllers: vec!["memory".into()],
                    ino: 1 << 40,
                },
                CgroupDir {
                    path: "/sys/fs/cgroup/unified/hako.payload.web-0123".into(),
                    version: 2,
                    controllers: vec![],
                    ino: 0,
                },
            ],
            vec!["/sys/fs/cgroup/memory/lxc.dir".into()],
        )
        .with_inner("init"),
        console: Some(pipe()),
        ttys: vec![pipe(), pipe()],
        pty_peers: vec![pipe(), pipe(), pipe()],
        device_rules: vec![
            DeviceRule::parse(false, "a").unwrap(),
            DeviceRule::parse(true, "c 1:3 rwm").unwrap(),
            DeviceRule::parse(true, "b *:* m").unwrap(),
        ],
        device_prog: Some(pipe()),
    });
    let hooks = full.then(|| {
        let text = format!(
            r#"{{"name":"web","hooks":{},"env":[["LXC_PID","4242"]],"ns_names":["mnt","net"],"warnings":["a stop hook failed"]}}"#,
            serde_json::to_string(&Hooks::default()).unwrap()
        );
        RunHooks::decode(&text, vec![pipe(), pipe()]).unwrap()
    });
    let m = Monitor {
        launcher: None,
        name: if full { "web\tñ 1" } else { "w" }.into(),
        cfg: if full {
            Settings {
                mode: LaunchMode::Daemon,
                runtime_dir: "/run/hako/0f3a/web".into(),
                pidfile: Some("/run/web.pid".into()),
                ephemeral: Some("/var/lib/hako".into()),
                halt_signal: Some(37),
                reboot_signal: 1,
                devices_on_v2: true,
            }
        } else {
            Settings {
                mode: LaunchMode::Execute,
                runtime_dir: "".into(),
                pidfile: None,
                ephemeral: None,
                halt_signal: None,
                reboot_signal: -1,
                devices_on_v2: false,
            }
        },
        net_links: if full {
            vec![
                ("eth0".into(), Some("hakobr0".into())),
                ("eth1".into(), None),
            ]
        } else {
            vec![]
        },
        net_helper: full,
        net_dns: if full {
            vec![crate::net::DnsReg {
                run_dir: "/run/hako".into(),
                network: "hakobr0".into(),
                hostname: "web".into(),
                owner: "4d1e94a63f812af0".into(),
            }]
        } else {
            vec![]
        },
        link_release: None,
        listener: UnixListener::bind(dir.join("monitor.sock")).unwrap(),
        sigfd: signal_fd().unwrap(),
        clients,
        state: if full { State::Frozen } else { State::Starting },
        run,
        stop: Stopping {
            reboot_pending: full,
            ..Stopping::default()
        },
        ready: None,
        console: Console {
            log: full.then(|| File::from(memfd(b"log"))),
            out: full.then(|| File::from(memfd(b"out"))),
            ..Console::default()
        },
        exit_code: full.then_some(-129),
        exec_error: full.then(|| "container \"web\": cannot exec /sbin/init".into()),
        held_ns: Vec::new(),
        images: Images {
            exe: full.then(pipe),
            launch_blob: full.then(|| memfd(b"{}")),
            handover_at: None,
        },
        hooks,
    };
    (m, peers)
}

/// Every field of `m`, fds as their numbers (they keep them across exec). Destructured
/// without `..`: a field added to the monitor does not compile here until it is listed,
/// and it is handed over or said not to be.
fn fd(f: &impl AsRawFd) -> RawFd {
    f.as_raw_fd()
}

fn ofd(f: &Option<impl AsRawFd>) -> Option<RawFd> {
    f.as_ref().map(|f| f.as_raw_fd())
}

fn fields(m: &Monitor) -> Vec<String> {
    let Monitor {
        launcher,
        name,
        cfg,
        net_links,
        net_helper,
        net_dns,
        link_release,
        listener,
        // not handed over: every image makes its own
        sigfd: _,
        clients,
        state,
        run,
        stop,
        ready,
        console,
        exit_code,
        exec_error,
        held_ns,
        images,
        hooks,
    } = m;
    let Stopping {
        req,
        reboot_pending,
        signal_wait,
    } = stop;
    let Console {
        log,
        out,
        stdin_open,
        saved_termios,
    } = console;
    let Images {
        exe,
        launch_blob,
        handover_at,
    } = images;
    let mut v = vec![
        format!("launcher {:?}", launcher.is_some()),
        format!("name {name:?}"),
        format!("cfg {cfg:?}"),
        format!("net_links {net_links:?}"),
        format!("net_helper {net_helper:?}"),
        format!("net_dns {net_dns:?}"),
        format!("link_release {:?}", link_release.is_some()),
        format!("listener {:?}", fd(listener)),
        format!("state {state:?}"),
        format!("stop.req {:?}", req.is_some()),
        format!("stop.reboot_pending {reboot_pending:?}"),
        format!("stop.signal_wait {:?}", signal_wait.is_some()),
        format!("ready {:?}", ready.is_some()),
        format!("console.log {:?}", ofd(log)),
        format!("console.out {:?}", ofd(out)),
        format!("console.stdin_open {stdin_open:?}"),
        format!("console.saved_termios {:?}", saved_termios.is_some()),
        format!("exit_code {exit_code:?}"),
        format!("exec_error {exec_error:?}"),
        format!("held_ns {:?}", held_ns.len()),
        format!("images.exe {:?}", ofd(exe)),
        format!("images.launch_blob {:?}", ofd(launch_blob)),
        format!("images.handover_at {:?}", handover_at.is_some()),
        format!("hooks {:?}", hooks.as_ref().map(|h| h.encode())),
        format!("run {:?}", run.is_some()),
        format!("clients {:?}", clients.len()),
    ];
    if let Some(Run {
        mnt_ns,
        net,
        pid,
        pidfd,
        cgroup,
        console,
        ttys,
        pty_peers,
        device_rules,
        device_prog,
    }) = run
    {
        let fds = |v: &[OwnedFd]| v.iter().map(|f| f.as_raw_fd()).collect::<Vec<_>>();
        v.extend([
            format!("run.mnt_ns {:?}", ofd(mnt_ns)),
            format!(
                "run.net {:?}",
                net.as_ref()
                    .map(|(NetState { host_links, phys }, ns)| (host_links, phys, ofd(ns)))
            ),
            format!("run.pid {pid:?}"),
            format!("run.pidfd {:?}", fd(pidfd)),
            format!("run.cgroup {cgroup:?}"),
            format!("run.console {:?}", ofd(console)),
            format!("run.ttys {:?}", fds(ttys)),
            format!("run.pty_peers {:?}", fds(pty_peers)),
            format!("run.device_rules {device_rules:?}"),
            format!("run.device_prog {:?}", ofd(device_prog)),
        ]);
    }
    for (i, c) in clients.iter().enumerate() {
        let Client {
            stream,
            inbuf,
            out,
            mode,
            waits_stop,
            waits_reboot,
            closing,
            dead,
        } = c;
        v.push(format!(
            "client {i}: {:?} {inbuf:?} {out:?} {mode:?} {waits_stop} {waits_reboot} {closing} {dead}",
            fd(stream)
        ));
    }
    v
}

/// Hand `m` over to a new monitor in this process, as across an exec.
fn hand_over(m: Monitor, reason: Reason) -> (Monitor, Reason) {
    let blob = m.encode(reason);
    let fd = memfd(&blob).into_raw_fd();
    // the old image is gone, its fds stay open (the signalfd is left behind here)
    std::mem::forget(m);
    match Monitor::resume(fd) {
        Ok(r) => r,
        Err((e, _)) => panic!("resume: {e}"),
    }
}

fn is_cloexec(fd: RawFd) -> bool {
    let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
    flags & libc::FD_CLOEXEC != 0
}

#[test]
fn round_trip_keeps_every_field() {
    for (full, reason) in [(true, Reason::Reboot(129)), (false, Reason::Serve)] {
        let dir = tempfile::tempdir().unwrap();
        let (m, _peers) = sample(dir.path(), full);
        let before = fields(&m);
        let handed = m.handed_fds();
        assert_eq!(handed.len(), if full { 21 } else { 1 });
        let (back, why) = hand_over(m, reason);
        assert_eq!(why, reason);
        let after = fields(&back);
        for (a, b) in before.iter().zip(&after) {
            assert_eq!(a, b);
        }
        assert_eq!(before.len(), after.len());
        // the same fds, owned (close-on-exec) by the new monitor
        assert_eq!(back.handed_fds(), handed);
        assert!(handed.iter().all(|f| is_cloexec(*f)));
    }
}

#[test]
fn reason_and_state_round_trip() {
    for reason in [Reason::Serve, Reason::Reboot(0), Reason::Reboot(255)] {
        for state in State::ALL {
            let dir = tempfile::tempdir().unwrap();
            let (mut m, _) = sample(dir.path(), false);
            m.state = state;
            let (back, why) = hand_over(m, reason);
            assert_eq!((back.state, why), (state, reason));
        }
    }
}

#[test]
fn layout_is_pinned() {
    // The layout of the state after the prefix, as a hash of a sample's encoding. A
    // change to the encoding changes it: then raise the number in LAYOUT, so that a
    // monitor of the old layout is never read with the new one, and pin the new hash here.
    const PINNED: (u32, u64) = (8, 0xabb2_b800_e54c_d117);
    let dir = tempfile::tempdir().unwrap();
    let (mut m, _peers) = sample(dir.path(), true);
    // hooks are serde's (crate::hooks), with checks of their own
    m.hooks = None;
    let mut e = Enc {
        fd_order: Some(Vec::new()),
        ..Enc::default()
    };
    m.encode_into(&mut e, Reason::Reboot(129));
    let mut d = Dec { b: &e.b };
    d.take(MAGIC.len()).unwrap();
    assert_eq!(d.str().as_deref(), Some(LAYOUT));
    d.opt(|d| d.i()).unwrap();
    d.str().unwrap();
    let hash = d.b.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100_0000_01b3)
    });
    let layout = split_layout(LAYOUT).1;
    assert_eq!(
        (layout, hash),
        (Some(PINNED.0), PINNED.1),
        "the hand-over layout changed (hash {hash:#x}): raise the number in LAYOUT and pin the new hash"
    );
}

/// A hand-over prefix as `layout` writes it (`name`: from layout 7 on).
fn prefix(layout: &str, exe: Option<&OwnedFd>, name: Option<&str>) -> Vec<u8> {
    let mut e = Enc::default();
    e.b.extend_from_slice(MAGIC);
    e.str(layout);
    e.opt_fd(exe);
    if let Some(n) = name {
        e.str(n);
    }
    e.u(0);
    e.b
}

/// Why `blob` cannot be resumed from (its memfd is left open by that, and closed here).
fn resume_err(blob: &[u8]) -> (ResumeError, Option<OwnedFd>) {
    let fd = memfd(blob).into_raw_fd();
    let r = Monitor::resume(fd);
    let _ = nix::unistd::close(fd);
    match r {
        Ok(_) => panic!("resumed from {blob:?}"),
        Err(e) => e,
    }
}

#[test]
fn another_build_is_named_with_the_remedy() {
    let (ours, layout) = split_layout(LAYOUT);
    let layout = layout.expect("LAYOUT has a number");
    let exe = pipe();
    let (e, back) = resume_err(&prefix(
        &format!("0.0.9/{}", layout + 1),
        Some(&exe),
        Some("web"),
    ));
    let text = e.to_string();
    for part in [
        "container \"web\": ",
        &format!("written by hako 0.0.9 (hand-over layout {})", layout + 1),
        &format!("this is hako {ours} (hand-over layout {layout})"),
        "install hako and hako-monitor from the same build",
        "stop the container and start it again with the new hako",
    ] {
        assert!(text.contains(part), "{part:?} not in {text:?}");
    }
    // the program that wrote it is handed back, to carry on with it
    let back = back.expect("the writer's program");
    assert_eq!(back.as_raw_fd(), exe.as_raw_fd());
    std::mem::forget(back); // the same fd as `exe`

    // layouts before 7 have no name in the prefix: none is read
    let (e, back) = resume_err(&prefix("0.1.0/6", None, None));
    assert!(back.is_none());
    assert!(
        matches!(&e, ResumeError::Version { name: None, .. }),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(text.starts_with("the hand-over was written by hako 0.1.0 (hand-over layout 6)"));
    assert!(text.contains("start it again with the new hako"), "{text}");
}

#[test]
fn damaged_hand_overs_fail() {
    let (e, _) = resume_err(b"not a hand-over");
    assert!(matches!(e, ResumeError::NotMonitor), "{e:?}");
    // cut short after the name: no fd taken yet
    let mut blob = prefix(LAYOUT, None, Some("web"));
    blob.pop();
    let (e, exe) = resume_err(&blob);
    assert!(matches!(e, ResumeError::Damaged), "{e:?}");
    assert!(exe.is_none());
    assert!(e.to_string().contains("damaged"));
    // an unknown reason
    let mut blob = prefix(LAYOUT, None, Some("web"));
    *blob.last_mut().unwrap() = 7;
    assert!(matches!(resume_err(&blob).0, ResumeError::Damaged));
    // not readable (a directory)
    let root = File::open("/").unwrap();
    let (e, _) = Monitor::resume(root.as_raw_fd()).err().unwrap();
    assert!(matches!(e, ResumeError::Read { .. }), "{e:?}");
}

#[test]
fn codec_round_trips_its_values() {
    let mut e = Enc::default();
    let ints = [
        0,
        1,
        -1,
        63,
        -64,
        64,
        i64::from(i32::MAX),
        i64::from(i32::MIN),
        i64::MAX,
        i64::MIN,
    ];
    for i in ints {
        e.i(i);
    }
    for u in [0, 127, 128, 1 << 35, u64::MAX] {
        e.u(u);
    }
    e.str("tab\tnewline\n");
    e.path(Path::new("/a b/\u{e9}"));
    e.opt(None::<u64>, |e, v| e.u(v));
    e.opt(Some(5u64), |e, v| e.u(v));
    e.bool(true);
    let mut d = Dec { b: &e.b };
    for i in ints {
        assert_eq!(d.i(), Some(i));
    }
    for u in [0, 127, 128, 1 << 35, u64::MAX] {
        assert_eq!(d.u(), Some(u));
    }
    assert_eq!(d.str().as_deref(), Some("tab\tnewline\n"));
    assert_eq!(d.path(), Some(PathBuf::from("/a b/\u{e9}")));
    assert_eq!(d.opt(|d| d.u()), Some(None));
    assert_eq!(d.opt(|d| d.u()), Some(Some(5)));
    assert_eq!(d.bool(), Some(true));
    assert!(d.b.is_empty());
    assert_eq!(d.bool(), None);
    // an fd that is not open is refused
    let mut e = Enc::default();
    e.fd(-1);
    assert!(Dec { b: &e.b }.fd().is_none());
}
