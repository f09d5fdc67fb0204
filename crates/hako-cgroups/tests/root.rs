//! Root integration tests on the real host (hybrid on the development machines; they also
//! run unchanged on pure v1 and pure v2 hosts). Every test makes uniquely named cgroups
//! below this test process's own cgroup (or, for lxc.cgroup.dir, a unique top-level
//! directory) and removes them on Drop, also when it fails.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use hako_cgroups::bpf::{compile_device_program, load_device_program};
use hako_cgroups::*;

fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    // Written to the real stderr, past the test harness's output capture, so it shows.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: needs root — hako-cgroups root test `{test}` did not run"
    );
    false
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("hako-test-{}-{nanos}-{tag}", std::process::id())
}

/// Kills the children and removes the cgroup on Drop, whatever happened.
struct Guard {
    cg: Option<Cgroup>,
    children: Vec<Child>,
    extra_dirs: Vec<PathBuf>,
}

impl Guard {
    fn new(cg: Cgroup) -> Guard {
        Guard {
            cg: Some(cg),
            children: Vec::new(),
            extra_dirs: Vec::new(),
        }
    }
    fn cg(&self) -> &Cgroup {
        self.cg.as_ref().unwrap()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
        }
        if let Some(cg) = &self.cg {
            let _ = cg.thaw();
            let _ = cg.kill_all();
        }
        for c in &mut self.children {
            let _ = c.wait();
        }
        if let Some(cg) = &self.cg {
            if let Err(e) = cg.remove() {
                eprintln!("guard: {e}");
            }
        }
        for d in self.extra_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Spawn `sh -c "read go; SCRIPT"`, move it into the cgroup, then let it run, so that
/// everything SCRIPT does happens inside the cgroup.
fn spawn_in(g: &mut Guard, script: &str) -> (i32, BufReader<ChildStdout>) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("read go; {script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let pid = child.id() as i32;
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stdin = child.stdin.take().unwrap();
    g.children.push(child);
    g.cg().attach(pid).expect("attach");
    stdin.write_all(b"go\n").unwrap();
    (pid, stdout)
}

fn read_line(r: &mut BufReader<ChildStdout>) -> String {
    let mut s = String::new();
    r.read_line(&mut s).unwrap();
    s.trim_end().to_string()
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after_comm.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn full_lifecycle_on_this_host() {
    if !root_or_skip("full_lifecycle_on_this_host") {
        return;
    }
    let host = Host::detect().unwrap();
    eprintln!(
        "host layout: {} with {} hierarchies",
        host.mode,
        host.hierarchies.len()
    );
    let name = unique("life");
    let me = std::process::id() as i32;
    let t = Instant::now();
    let mut g = Guard::new(Cgroup::create(&host, &name, me, None).unwrap());
    eprintln!("create took {:?}", t.elapsed());
    let cg = g.cg().clone();

    // one directory per hierarchy, each below this process's cgroup in that hierarchy
    let mine = parse_proc_cgroup(&std::fs::read_to_string("/proc/self/cgroup").unwrap()).unwrap();
    assert_eq!(cg.paths().len(), host.hierarchies.len());
    for (h, p) in host.hierarchies.iter().zip(cg.paths()) {
        let parent = h.dir_for(cgroup_path_in(&mine, h).unwrap()).unwrap();
        assert_eq!(p, parent.join(&name), "{}", h.label());
        assert!(p.is_dir(), "{}", p.display());
    }
    if let Some(h) = host.v1_for("name=systemd") {
        assert!(cg
            .path_for("name=systemd")
            .unwrap()
            .starts_with(&h.mountpoint));
    }

    // a child inside: /proc/PID/cgroup shows the new cgroup in every hierarchy
    let (pid, mut out) = spawn_in(
        &mut g,
        "x=$(head -c 4000000 /dev/zero | tr '\\0' a); echo ready; while :; do :; done",
    );
    let lines = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(lines.lines().count(), host.hierarchies.len(), "{lines}");
    for l in lines.lines() {
        assert!(l.ends_with(&format!("/{name}")), "{l}");
    }

    // limits, read back; routing by key prefix
    if host.v1_for("memory").is_some() {
        cg.set("memory.limit_in_bytes", "64M", KeyKind::V1).unwrap();
        assert_eq!(
            cg.get("memory.limit_in_bytes", KeyKind::V1).unwrap(),
            "67108864"
        );
        assert_eq!(
            cg.get("memory.limit_in_bytes", KeyKind::Auto).unwrap(),
            "67108864"
        );
        let e = cg
            .set("memory.limit_in_bytes", "abc", KeyKind::V1)
            .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "the kernel refused \"abc\" for memory.limit_in_bytes: invalid argument"
            ),
            "{e}"
        );
    } else {
        cg.set("memory.max", "64M", KeyKind::V2).unwrap();
        assert_eq!(cg.get("memory.max", KeyKind::Auto).unwrap(), "67108864");
    }
    let pids_kind = if host.v1_for("pids").is_some() {
        KeyKind::V1
    } else {
        KeyKind::V2
    };
    cg.set("pids.max", "50", pids_kind).unwrap();
    assert_eq!(cg.get("pids.max", pids_kind).unwrap(), "50");
    assert_eq!(cg.get("pids.max", KeyKind::Auto).unwrap(), "50");
    let e = cg.set("pids.max", "lots", KeyKind::Auto).unwrap_err();
    assert!(
        e.to_string()
            .contains("the kernel refused \"lots\" for pids.max: invalid argument"),
        "{e}"
    );
    let e = cg
        .get("memory.nonexistent_file", KeyKind::Auto)
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("no cgroup file \"memory.nonexistent_file\" for container cgroup"),
        "{e}"
    );

    assert_eq!(read_line(&mut out), "ready");
    assert_eq!(cg.procs().unwrap(), vec![pid]);
    assert!(cg.is_populated());

    // devices: the default allowlist, visible in devices.list (v1) and enforced
    let rules = default_device_rules();
    let prog = cg.apply_devices(&rules, None).unwrap();
    if host.v1_for("devices").is_some() {
        assert!(prog.is_none());
        let list = cg.get("devices.list", KeyKind::Auto).unwrap();
        let mut got: Vec<&str> = list.lines().collect();
        let want_text = render_devices_list(&rules);
        let mut want: Vec<&str> = want_text.lines().collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
    } else {
        assert!(prog.is_some(), "pure v2 returns the program fd");
    }
    let (_, mut dev_out) = spawn_in(
        &mut g,
        "dd if=/dev/kmsg of=/dev/null count=0 2>/dev/null && echo kmsg-open || echo kmsg-denied; \
         dd if=/dev/null of=/dev/null count=0 2>/dev/null && echo null-open || echo null-denied",
    );
    assert_eq!(read_line(&mut dev_out), "kmsg-denied");
    assert_eq!(read_line(&mut dev_out), "null-open");
    // reap it (a zombie no longer shows in cgroup.procs but still counts in pids.current)
    assert!(g.children[1].wait().unwrap().success());
    assert_eq!(cg.procs().unwrap(), vec![pid]);

    // freeze: the busy loop stops using CPU; thaw: it runs again
    let t = Instant::now();
    cg.freeze().unwrap();
    eprintln!("freeze took {:?}", t.elapsed());
    assert!(cg.is_frozen().unwrap());
    if host.v1_for("freezer").is_some() {
        assert_eq!(cg.get("freezer.state", KeyKind::V1).unwrap(), "FROZEN");
    }
    let t0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_ticks(pid), t0, "a frozen process used CPU");
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    let t1 = cpu_ticks(pid);
    wait_until("the thawed loop uses CPU", Duration::from_secs(5), || {
        cpu_ticks(pid) > t1
    });

    // stats: memory (the 4 MB string), CPU (the loop), one process
    let s = cg.stats();
    eprintln!("stats: {s:?}");
    assert!(s.memory_bytes.unwrap() > 1_000_000, "{s:?}");
    assert!(s.cpu_ns.unwrap() > 0, "{s:?}");
    assert_eq!(s.pids, Some(1), "{s:?}");
    assert!(s.blkio_bytes.is_some(), "{s:?}");

    // kill_all kills the child and empties the cgroup
    let t = Instant::now();
    cg.kill_all().unwrap();
    eprintln!("kill_all took {:?}", t.elapsed());
    let status = g.children[0].wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert!(cg.procs().unwrap().is_empty());
    assert!(!cg.is_populated());

    // remove leaves nothing, and may be repeated
    let t = Instant::now();
    cg.remove().unwrap();
    eprintln!("remove took {:?}", t.elapsed());
    for p in cg.paths() {
        assert!(!p.exists(), "{} is left", p.display());
    }
    cg.remove().unwrap();
    drop(prog);
}

#[test]
fn in_use_is_refused_and_stale_is_reused() {
    if !root_or_skip("in_use_is_refused_and_stale_is_reused") {
        return;
    }
    let host = Host::detect().unwrap();
    let name = unique("stale");
    let me = std::process::id() as i32;
    let mut g = Guard::new(Cgroup::create(&host, &name, me, None).unwrap());
    let (pid, _out) = spawn_in(&mut g, "exec sleep 1000");

    let e = Cgroup::create(&host, &name, me, None).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("is in use by pid {pid}; stop the container")),
        "{msg}"
    );
    assert!(
        g.cg().paths().iter().all(|p| p.is_dir()),
        "a refused create removed nothing of the running one"
    );

    // a killed run: no processes, but guest-made children left behind
    g.cg().kill_all().unwrap();
    for p in g.cg().paths() {
        std::fs::create_dir(p.join("init.scope")).unwrap();
    }
    let again = Cgroup::create(&host, &name, me, None).unwrap();
    assert_eq!(again.paths(), g.cg().paths());
    for p in again.paths() {
        assert!(p.is_dir());
        assert!(!p.join("init.scope").exists(), "{}", p.display());
    }
    // state survives serialization: a later process can remove it
    let json = serde_json::to_string(&again).unwrap();
    let back: Cgroup = serde_json::from_str(&json).unwrap();
    back.remove().unwrap();
    for p in again.paths() {
        assert!(!p.exists(), "{}", p.display());
    }
}

#[test]
fn lxc_cgroup_dir_places_and_removes_the_cgroup() {
    if !root_or_skip("lxc_cgroup_dir_places_and_removes_the_cgroup") {
        return;
    }
    let host = Host::detect().unwrap();
    let top = unique("dir");
    let cg = Cgroup::create(&host, "unused", 0, Some(&format!("{top}/web"))).unwrap();
    let mut g = Guard::new(cg);
    for h in &host.hierarchies {
        g.extra_dirs.push(h.mountpoint.join(&top));
    }
    for (h, p) in host.hierarchies.iter().zip(g.cg().paths()) {
        assert_eq!(p, h.mountpoint.join(&top).join("web"));
        assert!(p.is_dir());
    }
    let (_pid, _out) = spawn_in(&mut g, "exec sleep 1000");
    g.cg().kill_all().unwrap();
    g.cg().remove().unwrap();
    for h in &host.hierarchies {
        assert!(!h.mountpoint.join(&top).exists(), "{}", h.label());
    }
}

#[test]
fn kill_by_signal_empties_a_tree_of_processes() {
    if !root_or_skip("kill_by_signal_empties_a_tree_of_processes") {
        return;
    }
    let host = Host::detect().unwrap();
    let name = unique("kill");
    let mut g = Guard::new(Cgroup::create(&host, &name, std::process::id() as i32, None).unwrap());
    let (pid, _out) = spawn_in(&mut g, "sleep 1000 & sleep 1000 & wait");
    let cg = g.cg().clone();
    wait_until("three processes run", Duration::from_secs(5), || {
        cg.procs().unwrap().len() == 3
    });
    // a child cgroup, as a systemd guest makes: its processes are found and killed too
    let sub = cg.paths()[0].join("guest.scope");
    std::fs::create_dir(&sub).unwrap();
    let victim = *cg.procs().unwrap().iter().find(|&&p| p != pid).unwrap();
    let sub_dirs: Vec<PathBuf> = cg.paths().iter().map(|p| p.join("guest.scope")).collect();
    for d in &sub_dirs[1..] {
        std::fs::create_dir(d).unwrap();
    }
    if let Some(cpuset) = host.v1_for("cpuset") {
        let i = host.hierarchies.iter().position(|h| h == cpuset).unwrap();
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let v = std::fs::read_to_string(cg.paths()[i].join(f)).unwrap();
            std::fs::write(sub_dirs[i].join(f), v.trim()).unwrap();
        }
    }
    for d in &sub_dirs {
        std::fs::write(d.join("cgroup.procs"), victim.to_string()).unwrap();
    }
    assert_eq!(cg.procs().unwrap().len(), 3);
    cg.kill_all_by_signal().unwrap();
    assert!(cg.procs().unwrap().is_empty());
    let status = g.children[0].wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9));
    cg.remove().unwrap();
    for p in cg.paths() {
        assert!(!Path::new(p).exists(), "{}", p.display());
    }
}

#[test]
fn device_programs_pass_the_verifier() {
    if !root_or_skip("device_programs_pass_the_verifier") {
        return;
    }
    let sets = vec![
        default_device_rules(),
        vec![],
        vec![
            DeviceRule::parse(true, "a").unwrap(),
            DeviceRule::parse(false, "c 1:3 w").unwrap(),
            DeviceRule::parse(false, "b *:* rwm").unwrap(),
        ],
        vec![DeviceRule::parse(false, "a").unwrap()],
    ];
    for rules in sets {
        let prog = compile_device_program(&rules);
        match load_device_program(&prog) {
            Ok(fd) => drop(fd),
            Err(e) => panic!("{} rules, {} instructions: {e}", rules.len(), prog.len()),
        }
    }
}

#[test]
fn device_program_attaches_on_pure_v2() {
    if !root_or_skip("device_program_attaches_on_pure_v2") {
        return;
    }
    let host = Host::detect().unwrap();
    if host.v1_for("devices").is_some() || host.unified().is_none() {
        println!("SKIPPED: device_program_attaches_on_pure_v2 needs a pure cgroup v2 host (this one is {})", host.mode);
        return;
    }
    let name = unique("bpf");
    let g = Guard::new(Cgroup::create(&host, &name, std::process::id() as i32, None).unwrap());
    let first = g.cg().apply_devices(&default_device_rules(), None).unwrap();
    assert!(first.is_some());
    // replacing: the new program is attached and the old one detached
    let second = g
        .cg()
        .apply_devices(&default_device_rules(), first)
        .unwrap();
    assert!(second.is_some());
}

const DEVICE_CHECK: &str =
    "dd if=/dev/kmsg of=/dev/null count=0 2>/dev/null && echo kmsg-open || echo kmsg-denied; \
     dd if=/dev/null of=/dev/null count=0 2>/dev/null && echo null-open || echo null-denied";

/// Runs the device checker inside the cgroup and returns its two answers.
fn device_check(g: &mut Guard) -> (String, String) {
    let (_, mut out) = spawn_in(g, DEVICE_CHECK);
    let a = read_line(&mut out);
    let b = read_line(&mut out);
    let mut c = g.children.pop().unwrap();
    assert!(c.wait().unwrap().success());
    (a, b)
}

#[test]
fn device_program_is_enforced_and_replaced_on_the_v2_hierarchy() {
    if !root_or_skip("device_program_is_enforced_and_replaced_on_the_v2_hierarchy") {
        return;
    }
    let host = Host::detect().unwrap();
    if host.unified().is_none() {
        println!("SKIPPED: device_program_is_enforced_and_replaced_on_the_v2_hierarchy needs a cgroup2 mount (this host is {})", host.mode);
        return;
    }
    // On a hybrid host the v1 devices cgroup of a new cgroup allows everything, so what is
    // denied here is denied by the BPF program alone.
    let name = unique("bpfv2");
    let mut g = Guard::new(Cgroup::create(&host, &name, std::process::id() as i32, None).unwrap());
    assert_eq!(
        device_check(&mut g),
        ("kmsg-open".into(), "null-open".into())
    );
    let first = g
        .cg()
        .apply_devices_bpf(&default_device_rules(), None)
        .unwrap();
    assert_eq!(
        device_check(&mut g),
        ("kmsg-denied".into(), "null-open".into())
    );
    // replace it with an allow-all program: the old one must be gone
    let allow_all = [DeviceRule::parse(true, "a").unwrap()];
    let second = g.cg().apply_devices_bpf(&allow_all, Some(first)).unwrap();
    assert_eq!(
        device_check(&mut g),
        ("kmsg-open".into(), "null-open".into())
    );
    // and back to a deny-by-default program that does not even allow /dev/null
    let deny_all = [DeviceRule::parse(false, "a").unwrap()];
    let third = g.cg().apply_devices_bpf(&deny_all, Some(second)).unwrap();
    assert_eq!(
        device_check(&mut g),
        ("kmsg-denied".into(), "null-denied".into())
    );
    drop(third);
}

#[test]
fn verifier_rejection_is_explained() {
    if !root_or_skip("verifier_rejection_is_explained") {
        return;
    }
    use hako_cgroups::bpf::{BpfInsn, ALU64_MOV_K, JMP_EXIT};
    // returns 2: outside the [0, 1] range a device program must return
    let bad = [
        BpfInsn::new(ALU64_MOV_K, 0, 0, 0, 2),
        BpfInsn::new(JMP_EXIT, 0, 0, 0, 0),
    ];
    let e = load_device_program(&bad).unwrap_err().to_string();
    assert!(
        e.starts_with("cannot load the device-cgroup BPF program: "),
        "{e}"
    );
    assert!(e.contains("verifier:"), "{e}");
    eprintln!("{e}");
}

#[test]
fn v2_freezer_through_cgroup_events() {
    if !root_or_skip("v2_freezer_through_cgroup_events") {
        return;
    }
    let mut host = Host::detect().unwrap();
    if host.unified().is_none() {
        println!("SKIPPED: v2_freezer_through_cgroup_events needs a cgroup2 mount");
        return;
    }
    // Hide the v1 freezer (if any) so that cgroup.freeze of the v2 hierarchy is used.
    host.hierarchies
        .retain(|h| !(h.version == 1 && h.has("freezer")));
    let name = unique("v2freeze");
    let mut g = Guard::new(Cgroup::create(&host, &name, std::process::id() as i32, None).unwrap());
    let uni = g.cg().unified_path().unwrap().to_path_buf();
    if !uni.join("cgroup.freeze").exists() {
        println!("SKIPPED: v2_freezer_through_cgroup_events: this kernel has no cgroup.freeze");
        return;
    }
    let (pid, mut out) = spawn_in(&mut g, "echo ready; while :; do :; done");
    assert_eq!(read_line(&mut out), "ready");
    let cg = g.cg().clone();
    let t = Instant::now();
    cg.freeze().unwrap();
    eprintln!("v2 freeze took {:?}", t.elapsed());
    assert!(cg.is_frozen().unwrap());
    assert_eq!(
        std::fs::read_to_string(uni.join("cgroup.freeze"))
            .unwrap()
            .trim(),
        "1"
    );
    let t0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_ticks(pid), t0, "a frozen process used CPU");
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    let t1 = cpu_ticks(pid);
    wait_until("the thawed loop uses CPU", Duration::from_secs(5), || {
        cpu_ticks(pid) > t1
    });
    // cgroup.kill of a frozen cgroup works too
    cg.freeze().unwrap();
    cg.kill_all().unwrap();
    assert!(cg.procs().unwrap().is_empty());
    assert!(
        !cg.is_frozen().unwrap(),
        "kill_all leaves the cgroup thawed"
    );
}

#[test]
fn kill_all_of_a_frozen_cgroup_is_quick() {
    if !root_or_skip("kill_all_of_a_frozen_cgroup_is_quick") {
        return;
    }
    let host = Host::detect().unwrap();
    let name = unique("frozenkill");
    let mut g = Guard::new(Cgroup::create(&host, &name, std::process::id() as i32, None).unwrap());
    let (_pid, mut out) = spawn_in(&mut g, "sleep 1000 & echo ready; wait");
    assert_eq!(read_line(&mut out), "ready");
    let cg = g.cg().clone();
    cg.freeze().unwrap();
    let t = Instant::now();
    cg.kill_all().unwrap();
    let took = t.elapsed();
    assert!(cg.procs().unwrap().is_empty());
    assert!(
        took < Duration::from_secs(1),
        "kill_all of a frozen cgroup took {took:?}"
    );
    assert!(
        !cg.is_frozen().unwrap(),
        "kill_all leaves the cgroup thawed"
    );
}
