//! hako-store: the on-disk side of hako.
//!
//! The lxcpath (`/var/lib/hako`, or LXC's `/var/lib/lxc` for the `lxc-*` face) holds one
//! directory per container: `NAME/config` (LXC's config language) and `NAME/rootfs` (dir
//! backing). This crate resolves the lxcpath, checks container names, lists containers,
//! takes the per-container lock (`/run/hako/lock/<hash>/NAME`), creates containers from
//! templates (built-in busybox, none, or an LXC template script) all or nothing, and
//! destroys them without following symlinks or crossing mounts.

mod busybox;
mod cfg;
mod create;
mod elf;
mod error;
mod lock;
mod paths;
mod remove;
mod store;
mod template;

pub use busybox::{DEFAULT_BUSYBOX, DEFAULT_TTYS};
pub use create::{CreateSpec, BACKINGS, BUILTIN_DEFAULT_CONFIG, CREATE_LOCK_TIMEOUT};
pub use error::StoreError;
pub use lock::Lock;
pub use paths::{
    default_config_path, global_config_path, resolve_lxcpath, resolve_lxcpath_in, rundir,
    sysconfdir, validate_name, MAX_NAME_LEN,
};
pub use store::{Store, PARTIAL_MARKER};
pub use template::{Template, LXC_TEMPLATE_CONFIG, LXC_TEMPLATE_DIR};

/// Which face hako shows: `hako ...` or an `lxc-*` name. It picks the default lxcpath and
/// the system config files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Hako,
    Lxc,
}
