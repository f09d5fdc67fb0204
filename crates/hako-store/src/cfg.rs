//! The few config-document operations the store needs, on top of hako-config.
//!
//! TEMPORARY: hako-config is being written at the same time; until it compiles this is a
//! minimal stand-in with the same shape. Replace the bodies with hako_config calls.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A lossless config document.
#[derive(Debug, Clone)]
pub struct Doc {
    lines: Vec<String>,
    #[allow(dead_code)]
    origin: PathBuf,
}

fn key_of(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start();
    if t.starts_with('#') {
        return None;
    }
    let (k, v) = t.split_once('=')?;
    Some((k.trim(), v.trim()))
}

impl Doc {
    pub fn parse(text: &str, origin: &Path) -> Result<Doc, ConfigError> {
        Ok(Doc { lines: text.lines().map(str::to_string).collect(), origin: origin.to_path_buf() })
    }
    pub fn render(&self) -> String {
        let mut s = self.lines.join("\n");
        s.push('\n');
        s
    }
    /// The value of the last occurrence of `key`.
    pub fn get(&self, key: &str) -> Option<String> {
        self.lines.iter().rev().find_map(|l| key_of(l).filter(|(k, _)| *k == key).map(|(_, v)| v.to_string()))
    }
    /// One `key = value` line: the first occurrence is replaced, later ones removed; appended
    /// if absent.
    pub fn set(&mut self, key: &str, value: &str) {
        let mut first = None;
        let mut i = 0;
        while i < self.lines.len() {
            if key_of(&self.lines[i]).is_some_and(|(k, _)| k == key) {
                if first.is_none() {
                    first = Some(i);
                    i += 1;
                } else {
                    self.lines.remove(i);
                }
            } else {
                i += 1;
            }
        }
        let line = format!("{key} = {value}");
        match first {
            Some(i) => self.lines[i] = line,
            None => self.lines.push(line),
        }
    }
}

/// Loads and validates a config file.
pub fn validate_file(path: &Path) -> Result<(), ConfigError> {
    std::fs::read_to_string(path).map(|_| ()).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
}

/// Replaces the `x` digits of every `lxc.net.N.hwaddr`.
pub fn randomize_hwaddrs(_doc: &mut Doc) {}
