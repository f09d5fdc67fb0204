//! The few config-document operations the store needs, from hako-config.

use std::io;
use std::path::Path;

pub use hako_config::values::hostname_from_name;
pub use hako_config::{randomize_hwaddrs, ConfigError, Document as Doc};

/// Reads a config file (the system default, a `-f` file, a container's config, one a
/// template wrote) through hako-config's bounded reader: a regular file of at most
/// [`hako_config::read::CONFIG_LIMIT`]; a FIFO or a device is refused without blocking.
/// The error is an `io::Error` (kind and errno kept) for [`crate::StoreError::io`].
pub fn read_config_text(path: &Path) -> io::Result<String> {
    hako_config::read_bounded_text(path, hako_config::read::CONFIG_LIMIT).map_err(Into::into)
}

/// Loads `path` as the runtime would (includes followed, every key and value checked).
pub fn validate_file(path: &Path) -> Result<(), ConfigError> {
    hako_config::load_file(path).map(|_| ())
}

/// Keeps only the last line of each single-valued key that is set more than once (the one
/// LXC would use), rewritten in place; comments and multi-valued keys are untouched.
pub fn drop_overridden(doc: &mut Doc) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for (k, _) in doc.entries() {
        *seen.entry(k.to_string()).or_default() += 1;
    }
    let mut repeated: Vec<String> = seen
        .into_iter()
        .filter(|(k, n)| *n > 1 && !hako_config::is_multi_valued(k))
        .map(|(k, _)| k)
        .collect();
    repeated.sort();
    for k in repeated {
        if let Some(v) = doc.get(&k).map(str::to_string) {
            doc.set(&k, &v);
        }
    }
}
