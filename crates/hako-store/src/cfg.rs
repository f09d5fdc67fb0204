//! The few config-document operations the store needs, from hako-config.

use std::path::Path;

pub use hako_config::{randomize_hwaddrs, ConfigError, Document as Doc};

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
