//! cgroup v2 device policy: a hand-assembled BPF_PROG_TYPE_CGROUP_DEVICE program.
//!
//! The program reads `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
//! (access_type = access << 16 | type) and returns 1 (allow) or 0 (deny). It encodes the
//! same decision as a v1 device cgroup after the same rules (see `devices::policy`):
//! one block per exception, then the default.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::devices::{policy, DeviceRule, ACC_ALL};
use crate::error::{cause_of, CgroupError};

/// BPF_DEVCG_DEV_BLOCK / BPF_DEVCG_DEV_CHAR.
pub const DEV_BLOCK: u32 = 1;
pub const DEV_CHAR: u32 = 2;

/// One eBPF instruction (struct bpf_insn).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BpfInsn {
    pub code: u8,
    /// dst_reg in the low nibble, src_reg in the high nibble (little-endian bitfields).
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// Opcodes (class | size/op | mode/source).
pub const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
pub const ALU64_MOV_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X
pub const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
pub const ALU64_AND_K: u8 = 0x57; // BPF_ALU64 | BPF_AND | BPF_K
pub const ALU64_RSH_K: u8 = 0x77; // BPF_ALU64 | BPF_RSH | BPF_K
pub const JMP_JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
pub const JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
pub const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

impl BpfInsn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
        #[cfg(target_endian = "little")]
        let regs = (dst & 0xf) | (src << 4);
        #[cfg(target_endian = "big")]
        let regs = (dst << 4) | (src & 0xf);
        BpfInsn {
            code,
            regs,
            off,
            imm,
        }
    }
    pub fn dst(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs & 0xf
        } else {
            self.regs >> 4
        }
    }
    pub fn src(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs >> 4
        } else {
            self.regs & 0xf
        }
    }
}

// Registers: r1 = ctx on entry; r2 access_type; r3 type; r4 access; r5 major; r6 minor;
// r7 scratch; r0 = return value.
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;
const R6: u8 = 6;
const R7: u8 = 7;

/// Compile `rules` (applied in order, v1 semantics) into a device program.
pub fn compile_device_program(rules: &[DeviceRule]) -> Vec<BpfInsn> {
    let pol = policy(rules);
    let mut prog = vec![
        BpfInsn::new(LDX_MEM_W, R2, R1, 0, 0),
        BpfInsn::new(ALU64_MOV_X, R3, R2, 0, 0),
        BpfInsn::new(ALU64_AND_K, R3, 0, 0, 0xffff),
        BpfInsn::new(ALU64_MOV_X, R4, R2, 0, 0),
        BpfInsn::new(ALU64_RSH_K, R4, 0, 0, 16),
        BpfInsn::new(LDX_MEM_W, R5, R1, 4, 0),
        BpfInsn::new(LDX_MEM_W, R6, R1, 8, 0),
    ];
    // An exception matching the request decides it: allow-by-default lists denials,
    // deny-by-default lists permissions.
    let verdict = i32::from(!pol.default_allow);
    for e in &pol.exceptions {
        // Each test jumps past the block when it fails; offsets are patched at the end.
        let mut block: Vec<BpfInsn> = Vec::new();
        let ty = if e.kind == 'b' { DEV_BLOCK } else { DEV_CHAR };
        block.push(BpfInsn::new(JMP_JNE_K, R3, 0, 0, ty as i32));
        if let Some(m) = e.major {
            block.push(BpfInsn::new(JMP_JNE_K, R5, 0, 0, m as i32));
        }
        if let Some(m) = e.minor {
            block.push(BpfInsn::new(JMP_JNE_K, R6, 0, 0, m as i32));
        }
        if pol.default_allow {
            // a denial matches when it shares a requested access bit
            block.push(BpfInsn::new(ALU64_MOV_X, R7, R4, 0, 0));
            block.push(BpfInsn::new(ALU64_AND_K, R7, 0, 0, i32::from(e.access)));
            block.push(BpfInsn::new(JMP_JEQ_K, R7, 0, 0, 0));
        } else if e.access != ACC_ALL {
            // a permission matches when it covers every requested access bit
            block.push(BpfInsn::new(ALU64_MOV_X, R7, R4, 0, 0));
            block.push(BpfInsn::new(ALU64_AND_K, R7, 0, 0, !i32::from(e.access)));
            block.push(BpfInsn::new(JMP_JNE_K, R7, 0, 0, 0));
        }
        block.push(BpfInsn::new(ALU64_MOV_K, R0, 0, 0, verdict));
        block.push(BpfInsn::new(JMP_EXIT, 0, 0, 0, 0));
        let len = block.len();
        for (i, insn) in block.iter_mut().enumerate() {
            if insn.code == JMP_JNE_K || insn.code == JMP_JEQ_K {
                insn.off = (len - i - 1) as i16;
            }
        }
        prog.extend(block);
    }
    prog.push(BpfInsn::new(
        ALU64_MOV_K,
        R0,
        0,
        0,
        i32::from(pol.default_allow),
    ));
    prog.push(BpfInsn::new(JMP_EXIT, 0, 0, 0, 0));
    prog
}

// bpf(2) commands, program and attach types, flags (linux/bpf.h).
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The BPF_PROG_LOAD part of union bpf_attr.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The BPF_PROG_ATTACH/DETACH part of union bpf_attr.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// Raw bpf(2).
///
/// # Safety
/// `attr` must point to a valid, initialised attribute struct of `size` bytes for `cmd`,
/// and every pointer inside it must be valid for the duration of the call.
unsafe fn sys_bpf(
    cmd: libc::c_int,
    attr: *mut libc::c_void,
    size: usize,
) -> io::Result<libc::c_long> {
    // SAFETY: forwarded from the caller's contract.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr, size as libc::c_uint) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Any license string works for this program type: the license only gates GPL-only
/// helpers, and the program calls none (verified by the root test that loads it).
const LICENSE: &[u8] = b"Apache-2.0\0";

fn prog_load(insns: &[BpfInsn], log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        ..Default::default()
    };
    attr.prog_name[..12].copy_from_slice(b"hako_devices");
    if let Some(buf) = log {
        attr.log_level = 1;
        attr.log_size = buf.len() as u32;
        attr.log_buf = buf.as_mut_ptr() as u64;
    }
    // SAFETY: attr is a fully initialised ProgLoadAttr; insns, LICENSE and the log buffer
    // outlive the call; the kernel writes at most log_size bytes to log_buf.
    let fd = unsafe {
        sys_bpf(
            BPF_PROG_LOAD,
            &mut attr as *mut ProgLoadAttr as *mut libc::c_void,
            std::mem::size_of::<ProgLoadAttr>(),
        )?
    };
    // SAFETY: on success bpf(BPF_PROG_LOAD) returns a new fd (O_CLOEXEC) that we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn prog_attach_detach(
    cmd: libc::c_int,
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    flags: u32,
) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: flags,
        replace_bpf_fd: 0,
    };
    // SAFETY: attr is fully initialised and holds no pointers; both fds are borrowed
    // for the duration of the call.
    unsafe {
        sys_bpf(
            cmd,
            &mut attr as *mut AttachAttr as *mut libc::c_void,
            std::mem::size_of::<AttachAttr>(),
        )?
    };
    Ok(())
}

fn bpf_remedy(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) if !crate::error::is_root() => "run hako as root",
        Some(libc::EPERM) => {
            "the kernel refused (a lockdown, a too small RLIMIT_MEMLOCK on kernels before 5.11, or a program attached without BPF_F_ALLOW_MULTI above); check dmesg"
        }
        Some(libc::EINVAL) => "the kernel lacks CONFIG_CGROUP_BPF or rejected the program; please report this as a hako bug",
        Some(libc::ENOSYS) => "the kernel was built without bpf(2); device rules on cgroup v2 need CONFIG_BPF_SYSCALL",
        _ => "check dmesg",
    }
}

/// Load a device program (the verifier checks it; nothing is attached).
pub fn load_device_program(insns: &[BpfInsn]) -> Result<OwnedFd, CgroupError> {
    match prog_load(insns, None) {
        Ok(fd) => Ok(fd),
        Err(e) => {
            // Load again with the verifier's log to say why.
            let mut buf = vec![0u8; 64 * 1024];
            let log = match prog_load(insns, Some(&mut buf)) {
                Ok(_) => String::new(),
                Err(_) => {
                    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
                    let text = String::from_utf8_lossy(&buf[..end]);
                    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
                    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
                    if tail.is_empty() {
                        String::new()
                    } else {
                        format!(" — verifier: {tail}")
                    }
                }
            };
            Err(CgroupError::Bpf {
                op: "load",
                target: String::new(),
                cause: cause_of(&e),
                remedy: bpf_remedy(&e),
                log,
            })
        }
    }
}

fn open_cgroup(dir: &Path) -> Result<OwnedFd, CgroupError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map(OwnedFd::from)
        .map_err(|e| CgroupError::io("open", dir, e))
}

/// Attach `prog` to cgroup `dir` for BPF_CGROUP_DEVICE with BPF_F_ALLOW_MULTI (so
/// programs a systemd guest attaches below it still work).
pub fn attach_device_program(dir: &Path, prog: BorrowedFd<'_>) -> Result<(), CgroupError> {
    let cg = open_cgroup(dir)?;
    use std::os::fd::AsFd;
    prog_attach_detach(BPF_PROG_ATTACH, cg.as_fd(), prog, BPF_F_ALLOW_MULTI).map_err(|e| {
        CgroupError::Bpf {
            op: "attach",
            target: format!(" to \"{}\"", dir.display()),
            cause: cause_of(&e),
            remedy: bpf_remedy(&e),
            log: String::new(),
        }
    })
}

/// Detach `prog` from cgroup `dir`. A program that is not attached (any more) is fine.
pub fn detach_device_program(dir: &Path, prog: BorrowedFd<'_>) -> Result<(), CgroupError> {
    let cg = open_cgroup(dir)?;
    use std::os::fd::AsFd;
    match prog_attach_detach(BPF_PROG_DETACH, cg.as_fd(), prog, 0) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(CgroupError::Bpf {
            op: "detach",
            target: format!(" from \"{}\"", dir.display()),
            cause: cause_of(&e),
            remedy: bpf_remedy(&e),
            log: String::new(),
        }),
    }
}

/// Compile, load, attach the new program, then detach `previous` (in that order, so no
/// moment goes without a policy).
pub(crate) fn apply(
    dir: &Path,
    rules: &[DeviceRule],
    previous: Option<OwnedFd>,
) -> Result<OwnedFd, CgroupError> {
    use std::os::fd::AsFd;
    let prog = load_device_program(&compile_device_program(rules))?;
    attach_device_program(dir, prog.as_fd())?;
    if let Some(old) = previous {
        if let Err(e) = detach_device_program(dir, old.as_fd()) {
            // Leave the cgroup as it was before the call.
            let _ = detach_device_program(dir, prog.as_fd());
            return Err(e);
        }
    }
    Ok(prog)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{default_device_rules, ACC_MKNOD, ACC_READ, ACC_WRITE};

    /// A tiny interpreter for the instructions the compiler emits. r1 points at the ctx;
    /// memory loads are only allowed from it.
    fn run(prog: &[BpfInsn], ctx: [u32; 3]) -> Result<u64, String> {
        const CTX: u64 = 0xc0de_0000;
        let mut r = [0u64; 11];
        let mut init = [false; 11];
        r[1] = CTX;
        init[1] = true;
        let mut pc = 0usize;
        for _ in 0..10_000 {
            let i = prog.get(pc).ok_or(format!("pc {pc} out of the program"))?;
            let (d, s) = (i.dst() as usize, i.src() as usize);
            let rd = |r: &[u64; 11], init: &[bool; 11], reg: usize| -> Result<u64, String> {
                if init[reg] {
                    Ok(r[reg])
                } else {
                    Err(format!("pc {pc}: r{reg} read before written"))
                }
            };
            let mut next = pc + 1;
            match i.code {
                LDX_MEM_W => {
                    let base = rd(&r, &init, s)?;
                    let off = base.wrapping_add(i.off as i64 as u64).wrapping_sub(CTX);
                    if base != CTX || off % 4 != 0 || off >= 12 {
                        return Err(format!("pc {pc}: bad ctx load at offset {off}"));
                    }
                    r[d] = u64::from(ctx[off as usize / 4]);
                    init[d] = true;
                }
                ALU64_MOV_X => {
                    r[d] = rd(&r, &init, s)?;
                    init[d] = true;
                }
                ALU64_MOV_K => {
                    r[d] = i.imm as i64 as u64;
                    init[d] = true;
                }
                ALU64_AND_K => r[d] = rd(&r, &init, d)? & (i.imm as i64 as u64),
                ALU64_RSH_K => r[d] = rd(&r, &init, d)? >> i.imm,
                JMP_JEQ_K | JMP_JNE_K => {
                    let eq = rd(&r, &init, d)? == i.imm as i64 as u64;
                    if eq == (i.code == JMP_JEQ_K) {
                        next = (pc as i64 + 1 + i64::from(i.off)) as usize;
                    }
                }
                JMP_EXIT => return rd(&r, &init, 0),
                c => return Err(format!("pc {pc}: unknown opcode {c:#x}")),
            }
            pc = next;
        }
        Err("no exit within 10000 steps".into())
    }

    fn ctx(kind: char, major: u32, minor: u32, access: u8) -> [u32; 3] {
        let ty = if kind == 'b' { DEV_BLOCK } else { DEV_CHAR };
        [(u32::from(access) << 16) | ty, major, minor]
    }

    fn allowed(prog: &[BpfInsn], kind: char, major: u32, minor: u32, access: u8) -> bool {
        match run(prog, ctx(kind, major, minor, access)).unwrap() {
            0 => false,
            1 => true,
            v => panic!("program returned {v}"),
        }
    }

    const RW: u8 = ACC_READ | ACC_WRITE;

    #[test]
    fn default_program_decides_like_the_allowlist() {
        let prog = compile_device_program(&default_device_rules());
        assert!(allowed(&prog, 'c', 1, 3, RW)); // null
        assert!(allowed(&prog, 'c', 1, 9, ACC_READ)); // urandom
        assert!(allowed(&prog, 'c', 136, 42, RW)); // pts
        assert!(allowed(&prog, 'c', 10, 229, RW)); // fuse
        assert!(allowed(&prog, 'c', 5, 2, RW | ACC_MKNOD)); // ptmx
        assert!(allowed(&prog, 'c', 8, 0, ACC_MKNOD)); // mknod of anything
        assert!(allowed(&prog, 'b', 8, 0, ACC_MKNOD));
        assert!(!allowed(&prog, 'b', 8, 0, ACC_READ)); // sda
        assert!(!allowed(&prog, 'c', 1, 1, ACC_READ)); // mem
        assert!(!allowed(&prog, 'c', 1, 11, ACC_WRITE)); // kmsg
        assert!(!allowed(&prog, 'c', 10, 230, RW));
        assert!(!allowed(&prog, 'c', 4, 1, ACC_READ | ACC_MKNOD)); // tty1: m allowed, r not
        assert!(!allowed(&prog, 'c', 137, 0, RW));
    }

    #[test]
    fn allow_by_default_program_applies_denials() {
        let rules = [
            DeviceRule::parse(true, "a").unwrap(),
            DeviceRule::parse(false, "c 1:3 w").unwrap(),
            DeviceRule::parse(false, "b *:* rwm").unwrap(),
        ];
        let prog = compile_device_program(&rules);
        assert!(allowed(&prog, 'c', 1, 3, ACC_READ));
        assert!(!allowed(&prog, 'c', 1, 3, ACC_WRITE));
        assert!(!allowed(&prog, 'c', 1, 3, RW));
        assert!(!allowed(&prog, 'b', 8, 16, ACC_MKNOD));
        assert!(allowed(&prog, 'c', 4, 1, RW | ACC_MKNOD));
        // no rules at all: allow everything, in two instructions after the prologue
        let prog = compile_device_program(&[]);
        assert_eq!(prog.len(), 9);
        assert!(allowed(&prog, 'b', 8, 0, RW));
    }

    #[test]
    fn program_matches_the_v1_model_everywhere() {
        let mut rules = default_device_rules();
        rules.push(DeviceRule::parse(false, "c 136:* m").unwrap());
        rules.push(DeviceRule::parse(true, "b 7:* r").unwrap());
        rules.push(DeviceRule::parse(true, "c 1:3 rwm").unwrap());
        let sets = [
            rules,
            vec![
                DeviceRule::parse(true, "a").unwrap(),
                DeviceRule::parse(false, "c 10:* rw").unwrap(),
                DeviceRule::parse(false, "b 7:0 m").unwrap(),
            ],
        ];
        for rules in &sets {
            let pol = policy(rules);
            let prog = compile_device_program(rules);
            for kind in ['c', 'b'] {
                for major in [0, 1, 5, 7, 8, 10, 136, 4095] {
                    for minor in [0, 1, 3, 5, 200, 229, 1_048_575] {
                        for access in 1..=ACC_ALL {
                            assert_eq!(
                                allowed(&prog, kind, major, minor, access),
                                pol.allows(kind, major, minor, access),
                                "{kind} {major}:{minor} access {access}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn encodes_registers_and_opcodes() {
        let prog = compile_device_program(&default_device_rules());
        assert_eq!(prog[0], BpfInsn::new(LDX_MEM_W, 2, 1, 0, 0));
        assert_eq!((prog[0].dst(), prog[0].src()), (2, 1));
        assert_eq!(std::mem::size_of::<BpfInsn>(), 8);
        assert_eq!(std::mem::size_of::<ProgLoadAttr>(), 72);
        assert_eq!(prog.last().unwrap().code, JMP_EXIT);
        #[cfg(target_endian = "little")]
        assert_eq!(prog[0].regs, 0x12);
    }
}
