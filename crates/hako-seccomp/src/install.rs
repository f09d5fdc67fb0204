//! Installing a compiled filter on the calling thread: one seccomp(2) call, nothing else
//! (it runs between clone and exec, and after fork in attach).

use crate::compile::Program;

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;

/// `struct sock_fprog`
#[repr(C)]
struct SockFprog {
    len: libc::c_ushort,
    filter: *const crate::bpf::SockFilter,
}

/// Install `p` on the calling thread (a process that is single-threaded at this point:
/// no TSYNC). Needs CAP_SYS_ADMIN in the caller's user namespace, or no_new_privs set
/// before: hako does not set no_new_privs for it (it would stop setuid programs in the
/// container, which `lxc.no_new_privs` decides), so callers install while still root
/// with their capabilities, before switching to another uid.
///
/// No SECCOMP_FILTER_FLAG_SPEC_ALLOW: on kernels up to 5.15 (and with
/// spec_store_bypass_disable=seccomp) a filter turns the Speculative Store Bypass
/// mitigation on for the filtered processes, which is what the host's administrator chose
/// for sandboxed code; since 5.16 the default no longer ties the two, so the flag would
/// change nothing there.
///
/// Errors are the errno of seccomp(2): EACCES (neither CAP_SYS_ADMIN nor no_new_privs),
/// EINVAL (a kernel without a needed action or filter support), ENOMEM (the stacked
/// filters of the process exceed the kernel's total), EPERM (an outer filter refuses
/// seccomp itself).
pub fn install(p: &Program) -> Result<(), i32> {
    if p.insns.is_empty() || p.insns.len() > crate::bpf::MAX_INSNS {
        return Err(libc::EINVAL);
    }
    let prog = SockFprog {
        len: p.insns.len() as libc::c_ushort,
        filter: p.insns.as_ptr(),
    };
    // SAFETY: prog points at p.insns, alive for the call; the kernel copies the program.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            0 as libc::c_uint,
            &prog as *const SockFprog,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        // SAFETY: reading errno right after the failed call.
        Err(unsafe { *libc::__errno_location() })
    }
}
