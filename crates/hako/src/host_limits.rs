//! Host limits that many containers meet before memory runs out.
//!
//! Every inotify instance a container's processes open is charged to the user who owns the
//! container's user namespace, up to the host's: for containers started by root, to root's
//! one counter, whose limit is `fs.inotify.max_user_instances` (128 by default). systemd and
//! its services open about four each, so the 33rd Debian container's systemd fails to start
//! ("Too many open files") and the container stops. LXC and Incus document raising it by
//! hand; hako raises it at a start, once, and says so.

use std::path::Path;

/// The host's inotify instance limit that a root-started container needs at least: room for
/// about two thousand systemd containers (an instance is about 1 KiB of kernel memory).
pub const MIN_INOTIFY_INSTANCES: u64 = 8192;

const INOTIFY_INSTANCES: &str = "/proc/sys/fs/inotify/max_user_instances";

/// Raises `fs.inotify.max_user_instances` to [`MIN_INOTIFY_INSTANCES`] when it is lower
/// (root only; never lowers it). Returns the old and new value when it raised it.
pub fn ensure_inotify_instances() -> Option<(u64, u64)> {
    raise_at_least(Path::new(INOTIFY_INSTANCES), MIN_INOTIFY_INSTANCES)
}

fn raise_at_least(path: &Path, min: u64) -> Option<(u64, u64)> {
    let old: u64 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
    if old >= min {
        return None;
    }
    std::fs::write(path, format!("{min}\n")).ok()?;
    Some((old, min))
}

/// [`ensure_inotify_instances`], with the notice a user sees when it changed the host.
pub fn ensure_for_start() {
    if let Some((old, new)) = ensure_inotify_instances() {
        tracing::warn!(
            "raised the host's fs.inotify.max_user_instances from {old} to {new}: the inotify instances of all containers started by root count against root's one limit, and each systemd container needs several (set it in /etc/sysctl.d to keep it across reboots)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_only_when_lower() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("limit");
        std::fs::write(&p, "128\n").unwrap();
        assert_eq!(raise_at_least(&p, 8192), Some((128, 8192)));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "8192\n");
        assert_eq!(raise_at_least(&p, 8192), None);
        std::fs::write(&p, "100000\n").unwrap();
        assert_eq!(raise_at_least(&p, 8192), None);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "100000\n");
        assert_eq!(raise_at_least(&d.path().join("missing"), 8192), None);
    }
}
