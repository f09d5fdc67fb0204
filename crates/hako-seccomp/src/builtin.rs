//! hako's built-in profile for privileged containers, in the profile language itself.
//!
//! It refuses what reaches past the container to the kernel or the host, and only that:
//! a distribution's init and services must keep running, so every refusal is an error
//! number (never a kill), and where software is known to fall back on a "not implemented"
//! answer the answer is ENOSYS. Its denials are LXC's common profile (kexec_load,
//! open_by_handle_at, module loading, umount2 with MNT_FORCE) plus:
//!
//! - kexec_file_load: the other way to boot a new kernel;
//! - keyctl, add_key, request_key: the kernel keyrings are not namespaced; a privileged
//!   container's root is the host's uid 0 and would read and change host root's keys.
//!   ENOSYS, not EPERM: runc (and so docker or podman in the container) and systemd treat
//!   ENOSYS as "a kernel without keyrings" and go on, but stop on EPERM;
//! - bpf: programs and maps are kernel-wide (and can read kernel memory);
//! - perf_event_open: system-wide profiling of the host's processes and the kernel;
//! - syslog: the kernel log of the host (dmesg), and clearing it;
//! - quotactl, quotactl_fd: quotas of the host's file systems (the rootfs is one);
//! - swapon, swapoff: a swap file in the container's rootfs would hold the host's memory;
//! - lookup_dcookie: host paths from profiling cookies (older kernels);
//! - ioctl TIOCSTI (push characters into a terminal's input, a host shell when the
//!   terminal is one) and TIOCLINUX (the same and more on a virtual console). The
//!   command is compared in its low 32 bits: the kernel takes `unsigned int cmd` and
//!   ignores the high half, so 0x1_0000_5412 is TIOCSTI too;
//! - the new mount API (fsopen, fsconfig, fsmount, fspick, open_tree, open_tree_attr,
//!   move_mount), answered ENOSYS so mount(8), systemd and others fall back to mount(2).
//!   A seccomp filter cannot see which file system a mount is for in either API (mount(2)
//!   gets it as a string in memory, fsopen as well), so this does not stop a fresh proc,
//!   sysfs or binfmt_misc (only a user namespace or AppArmor's mount rules do); it takes
//!   away a second, newer path into the same code, with its own parser of mount options
//!   in the kernel (fsconfig's had a heap overflow, CVE-2022-0185). mount_setattr stays:
//!   it only changes flags of mounts the container already has, as mount(2) can, and
//!   systemd uses it.
//!
//! Not refused: userfaultfd (it widens race windows inside the container but reaches
//! nothing outside it; the vm.unprivileged_userfaultfd sysctl governs it), seccomp(2)
//! and prctl(PR_SET_SECCOMP) (systemd sandboxes its services with them).

/// The profile, in LXC's language (version 2, a denylist).
pub const PROFILE: &str = "\
2
denylist
# see hako-seccomp/src/builtin.rs for why each line is here
reject_force_umount
[all]
kexec_load errno 1
kexec_file_load errno 1
init_module errno 1
finit_module errno 1
delete_module errno 1
open_by_handle_at errno 1
keyctl errno 38
add_key errno 38
request_key errno 38
bpf errno 1
perf_event_open errno 1
syslog errno 1
quotactl errno 1
quotactl_fd errno 1
swapon errno 1
swapoff errno 1
lookup_dcookie errno 1
ioctl errno 1 [1,0x5412,SCMP_CMP_MASKED_EQ,0xffffffff]
ioctl errno 1 [1,0x541c,SCMP_CMP_MASKED_EQ,0xffffffff]
fsopen errno 38
fsconfig errno 38
fsmount errno 38
fspick errno 38
open_tree errno 38
open_tree_attr errno 38
move_mount errno 38
";

/// The name the built-in profile goes by in messages.
pub const NAME: &str = "hako's built-in seccomp profile";
