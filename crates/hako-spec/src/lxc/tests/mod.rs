//! The LXC translation, key by key: the value parsed, the default, and the error (with
//! its file:line) for a bad value. Configs are built two ways: [`load`] checks them as
//! hako-config does when it reads a file; [`raw`] takes the lines as they are, as a front
//! end that checked nothing would hand them over (so that the translation's own checks
//! are reached).
//!
//! - [`keys`]: every key's value, default and error, in tables;
//! - [`inputs`]: what comes through [`crate::Inputs`] (fstab text, the environment), and
//!   the keys that make larger parts (network interfaces, sysctls, hooks, seccomp).

use std::path::{Path, PathBuf};

use hako_config::{Config, Item, Origin as CfgOrigin, Warning};

use super::from_config;
use crate::error::{ErrorKind, SpecError};
use crate::inputs::FixedInputs;
use crate::mount::{flags::*, CgroupKind, CgroupMode, ProcMode, SysMode};
use crate::spec::{ContainerSpec, IdKind, InitMode, NetKind, Overlay, Prlimit};
use crate::{HookType, DEFAULT_CAP_DROP};

mod inputs;
mod keys;

const CONFIG: &str = "/t/config";

/// `KEY = VALUE` lines, unchecked, each with its line number in [`CONFIG`].
fn raw(text: &str) -> Config {
    let mut cfg = Config::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (k, v) = line.split_once('=').expect("KEY = VALUE");
        cfg.items.push(Item {
            key: k.trim().to_string(),
            value: v.trim().to_string(),
            origin: CfgOrigin {
                file: PathBuf::from(CONFIG),
                line: i + 1,
            },
        });
    }
    cfg
}

/// Config text checked as hako-config reads a file.
fn load(text: &str) -> Config {
    hako_config::load_str(text, Path::new(CONFIG)).unwrap()
}

fn translate(cfg: &Config, inputs: &FixedInputs) -> Result<ContainerSpec, SpecError> {
    from_config("web", Path::new("/l"), Path::new(CONFIG), cfg, inputs)
}

fn spec(text: &str) -> ContainerSpec {
    translate(&raw(text), &FixedInputs::new()).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(text: &str) -> SpecError {
    match translate(&raw(text), &FixedInputs::new()) {
        Ok(_) => panic!("{text}: no error"),
        Err(e) => e,
    }
}
