//! The kernel runs it: the built-in filter installed in a forked child, refused system
//! calls made for real, natively and through int 0x80.

use super::*;

/// A system call through the i386 compat ABI from this 64-bit process (the kernel then
/// reports AUDIT_ARCH_I386 to seccomp). Returns the raw result (-errno on failure).
#[cfg(target_arch = "x86_64")]
fn int80(nr: u32, a: u32, b: u32, c: u32) -> i32 {
    let ret: u64;
    // SAFETY: int 0x80 with scalar arguments; rbx is swapped in and back by hand (LLVM
    // reserves it); the compat entry zeroes r8-r11.
    unsafe {
        std::arch::asm!(
            "xchg {a}, rbx",
            "int 0x80",
            "xchg {a}, rbx",
            a = inout(reg) u64::from(a) => _,
            inlateout("rax") u64::from(nr) => ret,
            in("rcx") u64::from(b),
            in("rdx") u64::from(c),
            out("r8") _, out("r9") _, out("r10") _, out("r11") _,
        );
    }
    ret as u32 as i32
}

#[cfg(target_arch = "x86_64")]
#[test]
fn the_kernel_accepts_the_builtin_filter_and_refuses_with_it() {
    let p = builtin_program().unwrap();
    let bad = Program {
        origin: "bad".into(),
        insns: vec![SockFilter {
            code: JMP_JA,
            jt: 0,
            jf: 0,
            k: 5,
        }],
    };
    // SAFETY: the child only makes raw system calls and _exits (no allocation, no locks).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = (|| unsafe {
            // no_new_privs lets an unprivileged test install a filter
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                return 2;
            }
            if install(&bad) != Err(libc::EINVAL) {
                return 3;
            }
            if install(&p).is_err() {
                return 4;
            }
            let errno = || *libc::__errno_location();
            if libc::syscall(libc::SYS_getpid) != libc::getpid() as i64 {
                return 5;
            }
            // keyctl with an operation that does not exist: EOPNOTSUPP unfiltered
            if libc::syscall(libc::SYS_keyctl, 9999, 0, 0, 0, 0) != -1 || errno() != 38 {
                return 6;
            }
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if libc::syscall(libc::SYS_ioctl, null, 0x5412u64, 0) != -1 || errno() != 1 {
                return 7;
            }
            if libc::syscall(libc::SYS_ioctl, null, 0x1_0000_5412u64, 0) != -1 || errno() != 1 {
                return 8;
            }
            // an ordinary ioctl goes through (ENOTTY from /dev/null)
            if libc::syscall(libc::SYS_ioctl, null, 0x5401u64, 0) != -1 || errno() != 25 {
                return 9;
            }
            if libc::syscall(libc::SYS_umount2, c"/nonexistent".as_ptr(), 1) != -1 || errno() != 13
            {
                return 10;
            }
            if libc::syscall(libc::SYS_fsopen, c"proc".as_ptr(), 0) != -1 || errno() != 38 {
                return 11;
            }
            // the compat ABI: getpid 20, keyctl 288, ioctl 54
            if int80(20, 0, 0, 0) != libc::getpid() {
                return 12;
            }
            if int80(288, 9999, 0, 0) != -38 {
                return 13;
            }
            if int80(54, null as u32, 0x5412, 0) != -1 {
                return 14;
            }
            if int80(54, null as u32, 0x5401, 0) != -25 {
                return 15;
            }
            // an x32 number: ENOSYS
            if libc::syscall(0x4000_0000 | 39) != -1 || errno() != 38 {
                return 16;
            }
            0
        })();
        // SAFETY: leaving the forked child.
        unsafe { libc::_exit(code) }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        !libc::WIFSIGNALED(status),
        "the filtered child died of signal {} (SIGSEGV: a kernel without IA32 emulation, which \
         this test needs for int 0x80)",
        libc::WTERMSIG(status)
    );
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "check {} in the filtered child failed (status {status:#x})",
        libc::WEXITSTATUS(status)
    );
}
