//! hako-store: the on-disk side of hako.
//!
//! The lxcpath (`/var/lib/hako`, or LXC's `/var/lib/lxc` for the `lxc-*` face) holds one
//! directory per container: `NAME/config` (LXC's config language) and `NAME/rootfs` (dir
//! backing). This crate resolves the lxcpath, checks container names, lists containers,
//! takes the per-container lock (`/run/hako/lock/<hash>/NAME`), creates containers from
//! templates (built-in busybox and debian, none, or an LXC template script) all or nothing,
//! and destroys them without following symlinks or crossing mounts.
//!
//! Every change to the store is crash-consistent: killed at any instant or failing on a full
//! disk, an operation leaves the old state, the new one, or a directory marked half-made,
//! which the listing shows and destroy removes (the rules are in `fsutil.rs`).
//!
//! Storage: a container's root filesystem is a plain directory (`dir`), an overlay of
//! read-only lower layers (a cached image, or another container's layers) under a
//! per-container upper layer (`overlay`, LXC's `overlay:LOWER:UPPER` form), or a btrfs
//! subvolume (`btrfs`). Images live in the image cache ([`ImageCache`]); copies, snapshot
//! clones and snapshots are in [`clone`]. Whatever uses an image or another container's
//! layers is registered with it, and what has users cannot be removed.

pub mod backing;
mod busybox;
mod cfg;
mod clone;
mod create;
pub mod debian;
mod elf;
mod error;
mod fsutil;
pub mod identity;
pub mod image;
mod lock;
mod paths;
mod progress;
mod refs;
mod remove;
mod store;
pub mod subid;
mod subproc;
mod template;
pub mod userdirs;
mod view;

pub use backing::{parse_overlay_rootfs, Backing, RootfsSpec, BACKINGS};
pub use busybox::{DEFAULT_BUSYBOX, DEFAULT_TTYS};
pub use clone::{CopySpec, SnapshotInfo};
pub use create::{
    CreateSpec, IdMapping, BUILTIN_DEFAULT_CONFIG, CREATE_LOCK_TIMEOUT, LXC_BUILTIN_DEFAULT_CONFIG,
};
pub use error::StoreError;
pub use fsutil::{replace_file, PARTIAL_MARKER};
pub use image::{ImageCache, ImageInfo};
pub use lock::Lock;
pub use paths::{
    default_config_path, default_config_path_as, global_config_path, global_config_path_as,
    resolve_lxcpath, resolve_lxcpath_as, resolve_lxcpath_in, rundir, runtime_dir, sysconfdir,
    validate_name, MAX_NAME_LEN,
};
pub use store::{Listed, Partial, Store};
pub use subid::{IdRanges, UNPRIVILEGED_BY_DEFAULT};
pub use template::{Template, LXC_TEMPLATE_CONFIG, LXC_TEMPLATE_DIR};
pub use userdirs::UserDirs;

/// Which face hako shows: `hako ...` or an `lxc-*` name. It picks the default lxcpath and
/// the system config files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Hako,
    Lxc,
}
