//! The built-in debian template: a Debian image built once into the image cache (with
//! mmdebstrap, or debootstrap when mmdebstrap is not installed), and containers that are
//! copy-on-write clones of it with an identity of their own.
//!
//! The parts: `args.rs` the template's arguments (release, arch, mirror from the host's apt
//! sources, login user and password), `build.rs` the image build (builder program, its
//! command line, progress, failure hints), `prepare.rs` the built image made ready for
//! containers (identity stripped, boot profile); tests in `tests.rs`.

use std::path::PathBuf;

mod args;
mod build;
mod prepare;

pub use args::{
    host_arch, host_mirror_in, image_name, login_setup, parse_args, resolve_mirror,
    resolve_mirror_in,
};
pub use build::{build_image, builder, builder_command};
pub use prepare::{
    boot_profile, persist_journal, prepare_image, CONTAINER_MASKED_GENERATORS,
    CONTAINER_MASKED_UNITS, JOURNALD_DROPIN, JOURNALD_PERSISTENT, RESOLVED_DROPIN,
};

/// The release built when `-r` is not given.
pub const DEFAULT_RELEASE: &str = "bookworm";
/// Where the host's apt sources are (the default mirror comes from them, as mmdebstrap's).
pub const APT_DIR: &str = "/etc/apt";

/// Releases the template knows (codenames and suite names).
pub const RELEASES: &[&str] = &[
    "buster",
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "sid",
    "oldoldstable",
    "oldstable",
    "stable",
    "testing",
    "unstable",
];

/// Debian's architectures.
pub const ARCHES: &[&str] = &[
    "amd64", "arm64", "armel", "armhf", "i386", "mips64el", "mipsel", "ppc64el", "riscv64", "s390x",
];

/// What every image has on top of minbase: systemd as init, systemd-networkd (DHCP on
/// eth0) with systemd-resolved, D-Bus (logind and the other units that need it start
/// cleanly), sshd, sudo and the usual tools.
pub const BASE_PACKAGES: &[&str] = &[
    "init",
    "systemd-resolved",
    "dbus",
    "openssh-server",
    "sudo",
    "iproute2",
    "iputils-ping",
    "less",
    "vim-tiny",
    "dnsutils",
    "netbase",
    "procps",
];

/// Config keys a debian container gets unless the system default config or `-f` set them.
pub(crate) const DEBIAN_CONFIG: &[(&str, &str)] = &[
    ("lxc.mount.auto", "proc:mixed sys:mixed"),
    ("lxc.autodev", "1"),
    ("lxc.tty.max", "4"),
    ("lxc.pty.max", "1024"),
    ("lxc.init.cmd", "/sbin/init"),
];

/// The template's arguments (after `--`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebianArgs {
    pub release: String,
    pub arch: String,
    pub mirror: String,
    /// `--packages a,b`: extra packages (sorted, no duplicates); they make a separate image.
    pub packages: Vec<String>,
    pub user: Option<String>,
    pub ssh_key: Option<PathBuf>,
    pub password: bool,
    /// `--persistent-journal`: the container's journal on disk, not in memory.
    pub persistent_journal: bool,
}

#[cfg(test)]
mod tests;
