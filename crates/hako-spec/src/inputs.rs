//! What a translation needs from outside the config: the text of the files it names and
//! the caller's environment. The front end does that I/O (hako-runtime's spec.rs reads
//! the host's files, bounded, and its environment); tests and other front ends give fixed
//! answers with [`FixedInputs`]. Only what the config names is asked for, in config order.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub trait Inputs {
    /// The text of the `lxc.mount.fstab` file at `path`. Err: why it cannot be read, the
    /// cause alone ("it is a FIFO (named pipe), not a regular file").
    fn fstab(&self, path: &Path) -> Result<String, String>;
    /// The text of the seccomp profile at `path` (`lxc.seccomp.profile`). Err: why it
    /// cannot be read, as a phrase that names the file ("cannot open seccomp profile
    /// /x.seccomp: no such file or directory").
    fn seccomp_profile(&self, path: &Path) -> Result<String, String>;
    /// A variable of the caller's environment (`lxc.environment = NAME` passes it on).
    fn env_var(&self, name: &str) -> Option<String>;
}

/// Pre-read inputs: files by path, and an environment. A file not given cannot be read
/// ("no such file or directory").
#[derive(Clone, Debug, Default)]
pub struct FixedInputs {
    pub files: HashMap<PathBuf, String>,
    pub env: HashMap<String, String>,
}

impl FixedInputs {
    pub fn new() -> FixedInputs {
        FixedInputs::default()
    }

    pub fn file(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> FixedInputs {
        self.files.insert(path.into(), text.into());
        self
    }

    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> FixedInputs {
        self.env.insert(name.into(), value.into());
        self
    }
}

impl Inputs for FixedInputs {
    fn fstab(&self, path: &Path) -> Result<String, String> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| "no such file or directory".to_string())
    }

    fn seccomp_profile(&self, path: &Path) -> Result<String, String> {
        self.files.get(path).cloned().ok_or_else(|| {
            format!(
                "cannot open seccomp profile {}: no such file or directory",
                path.display()
            )
        })
    }

    fn env_var(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned()
    }
}
