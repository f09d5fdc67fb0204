//! The mount API's system calls (open_tree, mount_setattr, fsopen/fsconfig/fsmount,
//! move_mount), which nix does not wrap: thin, each in one small commented unsafe block.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;

pub(super) const OPEN_TREE_CLONE: libc::c_uint = 1;
pub(super) const AT_RECURSIVE: libc::c_uint = 0x8000;
pub(super) const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub(super) const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
pub(super) const FSOPEN_CLOEXEC: libc::c_uint = 1;
pub(super) const FSCONFIG_SET_STRING: libc::c_uint = 1;
pub(super) const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
pub(super) const FSMOUNT_CLOEXEC: libc::c_uint = 1;
pub(super) const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
pub(super) const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn cstr(s: &str) -> nix::Result<CString> {
    CString::new(s).map_err(|_| Errno::EINVAL)
}

fn path_cstr(p: &Path) -> nix::Result<CString> {
    CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)
}

/// A syscall's fd result as an owned fd.
fn owned(r: libc::c_long) -> nix::Result<OwnedFd> {
    if r < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(r as i32) })
}

fn unit(r: libc::c_long) -> nix::Result<()> {
    if r < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// A detached copy of the mount at `p` (and of the mounts below it if `recursive`).
pub(super) fn open_tree(p: &Path, recursive: bool) -> nix::Result<OwnedFd> {
    let c = path_cstr(p)?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: a valid C string and integer flags.
    owned(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) })
}

pub(super) fn set_attr(
    t: &OwnedFd,
    set: u64,
    userns: Option<BorrowedFd<'_>>,
    recursive: bool,
) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.map(|u| u.as_raw_fd() as u64).unwrap_or(0),
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: an fd we own, an empty C path, a MountAttr of the size passed.
    unit(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            t.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
}

pub(super) fn set_idmap(t: &OwnedFd, userns: BorrowedFd<'_>, recursive: bool) -> nix::Result<()> {
    set_attr(t, MOUNT_ATTR_IDMAP, Some(userns), recursive)
}

pub(super) fn fsopen(fstype: &str) -> nix::Result<OwnedFd> {
    let c = cstr(fstype)?;
    // SAFETY: a valid C string and integer flags.
    owned(unsafe { libc::syscall(libc::SYS_fsopen, c.as_ptr(), FSOPEN_CLOEXEC) })
}

pub(super) fn fsconfig_string(fs: &OwnedFd, key: &str, value: &str) -> nix::Result<()> {
    let (k, v) = (cstr(key)?, cstr(value)?);
    // SAFETY: an fd we own and two valid C strings.
    unit(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_SET_STRING,
            k.as_ptr(),
            v.as_ptr(),
            0,
        )
    })
}

pub(super) fn fsconfig_create(fs: &OwnedFd) -> nix::Result<()> {
    // SAFETY: an fd we own; the command takes no key or value.
    unit(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<libc::c_void>(),
            0,
        )
    })
}

pub(super) fn fsmount(fs: &OwnedFd, attrs: u64) -> nix::Result<OwnedFd> {
    // SAFETY: an fd we own and integer flags.
    owned(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            attrs as libc::c_uint,
        )
    })
}

pub(crate) fn move_mount(from: &OwnedFd, to: &OwnedFd) -> nix::Result<()> {
    // SAFETY: two fds we own and empty C paths.
    unit(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            to.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
}

/// Attach the detached mount `from` on the path `to` (in this mount namespace).
pub(super) fn move_mount_to(from: &OwnedFd, to: &Path) -> nix::Result<()> {
    let c = path_cstr(to)?;
    // SAFETY: an fd we own, an empty C path and a valid C path.
    unit(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            c.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })
}

pub(super) fn open_path(p: &Path) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        p,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
