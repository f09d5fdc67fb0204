//! `parse_any` must never panic, whatever it is fed.

use hako_config::parse_any;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Pieces that steer random text into the interesting paths.
const TOKENS: &[&str] = &[
    "lxc.",
    "net.",
    "network.",
    "0.",
    "1.",
    "99999999999.",
    "type",
    "veth",
    "link",
    "hwaddr",
    "ipv4",
    "ipv6",
    ".address",
    ".gateway",
    "uts.name",
    "utsname",
    "cap.drop",
    "cap.keep",
    "mount.auto",
    "mount.entry",
    "cgroup",
    "cgroup2.",
    "devices.allow",
    "prlimit.",
    "limit.",
    "nofile",
    "signal.halt",
    "SIGRTMIN+",
    "RTMAX-",
    "include",
    "rootfs",
    "tty",
    "pts",
    "hook.",
    "idmap",
    "environment",
    "init.cmd",
    "=",
    " = ",
    "\n",
    "\r\n",
    "#",
    " ",
    "\t",
    "'",
    "\"",
    "\\",
    "\\040",
    ":",
    "/",
    "x",
    "xx:",
    "00:16:3e:",
    "proc:mixed",
    "sys:ro",
    "cgroup:rw:force",
    "shmounts:",
    "unlimited",
    "none",
    "1",
    "0",
    "-",
    "4294967296",
    "é",
    "\u{0}",
    "10.0.0.1/24",
    "fd00::1/64",
    "auto",
    "dev",
    "bind,ro,create=dir",
    " 0 0",
    "sys_admin",
    "CAP_",
    "mnt",
    "5s",
    "1M",
];

fn random_text(rng: &mut Rng) -> String {
    let mut s = String::new();
    let n = rng.below(40);
    for _ in 0..n {
        if rng.below(4) == 0 {
            s.push(char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'));
        } else {
            s.push_str(TOKENS[rng.below(TOKENS.len())]);
        }
    }
    s
}

#[test]
fn parse_any_never_panics_on_random_bytes() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_any(&text);
    }
}

#[test]
fn parse_any_never_panics_on_config_like_text() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut loaded = 0;
    for _ in 0..5000 {
        let text = random_text(&mut rng);
        if parse_any(&text).is_ok() {
            loaded += 1;
        }
    }
    // the generator must reach past the syntax check sometimes, or the test proves little
    assert!(loaded > 50, "only {loaded} random texts loaded");
}

#[test]
fn parse_any_on_line_mutations_of_a_real_config() {
    let base = "lxc.uts.name = web\nlxc.net.0.type = veth\nlxc.net.0.hwaddr = 00:16:3e:xx:xx:xx\nlxc.network.type = veth\nlxc.network.ipv4 = 10.0.3.5/24 10.0.3.255\nlxc.mount.entry = /a b none bind,create=dir 0 0\nlxc.prlimit.nofile = 1:2\nlxc.signal.halt = SIGRTMIN+3\nlxc.cap.keep = none\n";
    assert!(
        parse_any(base).is_ok(),
        "{:?}",
        parse_any(base).err().map(|e| e.to_string())
    );
    let mut rng = Rng(42);
    for _ in 0..3000 {
        let mut b = base.as_bytes().to_vec();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(b.len());
            match rng.below(3) {
                0 => b[i] = rng.next() as u8,
                1 => {
                    b.remove(i);
                }
                _ => b.insert(i, TOKENS[rng.below(TOKENS.len())].as_bytes()[0]),
            }
            if b.is_empty() {
                break;
            }
        }
        let _ = parse_any(&String::from_utf8_lossy(&b));
    }
}
