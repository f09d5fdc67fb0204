//! Loading: includes, legacy keys, validation, and the typed view over the result.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use crate::keys::{self, Kind, Legacy};
use crate::read::{read_bounded_text, CONFIG_LIMIT, CONFIG_TOTAL_LIMIT, MAX_INCLUDED_FILES};
use crate::util::{shorten, trim, unquote};
use crate::values::{self, MountAuto, MountEntry, ValueError};
use crate::{io_reason, ConfigError, Document, Item, Origin, Warning};

/// How deep `lxc.include` may nest. (A cycle is refused at once; a tree that fans out is
/// bounded by [`MAX_INCLUDED_FILES`] and [`CONFIG_TOTAL_LIMIT`].)
const MAX_INCLUDE_DEPTH: usize = 32;

/// A loaded config: every item in file order (includes expanded in place), with the
/// warnings loading produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    pub items: Vec<Item>,
    pub warnings: Vec<Warning>,
}

/// Read a config file, following its includes.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let mut l = Loader::new(true);
    l.load_path(path, None)?;
    Ok(l.finish())
}

/// Load config text; `origin` names it in messages, and relative includes are resolved
/// against its directory.
pub fn load_str(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let mut l = Loader::new(true);
    l.stack
        .push(fs::canonicalize(origin).unwrap_or_else(|_| origin.to_path_buf()));
    l.load_text(text, origin)?;
    Ok(l.finish())
}

/// As [`load_str`], but `lxc.include` values are only checked, not followed (no file is read).
pub(crate) fn load_no_includes(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let mut l = Loader::new(false);
    l.load_text(text, origin)?;
    Ok(l.finish())
}

struct Loader {
    items: Vec<Item>,
    warnings: Vec<Warning>,
    /// canonical paths of the files being read (for loop detection)
    stack: Vec<PathBuf>,
    /// files read through `lxc.include` so far, and the bytes of every file read
    included: usize,
    bytes: u64,
    follow_includes: bool,
    /// the interface the last un-indexed `lxc.network.type` started
    legacy_cur: Option<u32>,
    /// the index the next un-indexed `lxc.network.type` gets
    legacy_next: u32,
}

impl Loader {
    fn new(follow_includes: bool) -> Loader {
        Loader {
            items: Vec::new(),
            warnings: Vec::new(),
            stack: Vec::new(),
            included: 0,
            bytes: 0,
            follow_includes,
            legacy_cur: None,
            legacy_next: 0,
        }
    }

    fn warn(&mut self, origin: &Origin, message: String) {
        self.warnings.push(Warning {
            origin: origin.clone(),
            message,
        });
    }

    fn load_path(&mut self, path: &Path, from: Option<&Origin>) -> Result<(), ConfigError> {
        let canon = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if let Some(origin) = from {
            if self.stack.contains(&canon) {
                return Err(ConfigError::IncludeLoop {
                    origin: origin.clone(),
                    path: path.to_path_buf(),
                });
            }
            if self.stack.len() >= MAX_INCLUDE_DEPTH {
                return Err(ConfigError::Include {
                    origin: origin.clone(),
                    path: path.to_path_buf(),
                    reason: format!(
                        "includes are nested more than {MAX_INCLUDE_DEPTH} deep; flatten them"
                    ),
                });
            }
            if self.included >= MAX_INCLUDED_FILES {
                return Err(ConfigError::Include {
                    origin: origin.clone(),
                    path: path.to_path_buf(),
                    reason: format!(
                        "the config already read {MAX_INCLUDED_FILES} files through lxc.include (the limit); include each file once"
                    ),
                });
            }
            self.included += 1;
        }
        // a regular file of bounded size only: a FIFO would block, /dev/zero never ends
        let text = read_bounded_text(path, CONFIG_LIMIT).map_err(|source| match from {
            Some(origin) => ConfigError::Include {
                origin: origin.clone(),
                path: path.to_path_buf(),
                reason: format!(
                    "{}; fix the path or remove the lxc.include line",
                    source.reason()
                ),
            },
            None => ConfigError::Io {
                path: path.to_path_buf(),
                source,
            },
        })?;
        self.bytes += text.len() as u64;
        if let (Some(origin), true) = (from, self.bytes > CONFIG_TOTAL_LIMIT) {
            return Err(ConfigError::Include {
                origin: origin.clone(),
                path: path.to_path_buf(),
                reason: format!(
                    "the config and its includes hold more than {} MiB together (the limit); include each file once",
                    CONFIG_TOTAL_LIMIT >> 20
                ),
            });
        }
        self.stack.push(canon);
        let r = self.load_text(&text, path);
        self.stack.pop();
        r
    }

    fn load_text(&mut self, text: &str, path: &Path) -> Result<(), ConfigError> {
        let doc = Document::parse(text, path)?;
        // un-indexed legacy interfaces are numbered after every index this file uses
        if let Some(m) = doc
            .entries()
            .filter_map(|(k, _)| keys::any_net_index(k))
            .max()
        {
            self.legacy_next = self.legacy_next.max(m.saturating_add(1));
        }
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        for (line, key, value) in doc.entries_with_lines() {
            self.process(
                key,
                value,
                Origin {
                    file: path.to_path_buf(),
                    line,
                },
                &base,
            )?;
        }
        Ok(())
    }

    /// Translate, check and record one `key = value`.
    fn process(
        &mut self,
        raw_key: &str,
        value: &str,
        origin: Origin,
        base: &Path,
    ) -> Result<(), ConfigError> {
        let mut key = raw_key.to_string();
        if let Some(legacy) = keys::legacy(raw_key) {
            match legacy {
                Legacy::Drop => {
                    self.warn(
                        &origin,
                        format!("\"{raw_key}\" is a legacy key that is no longer used and is ignored; update the file with \"hako config NAME --upgrade\""),
                    );
                    return Ok(());
                }
                Legacy::Rename(new) => {
                    if new == "lxc.net" {
                        self.legacy_cur = None;
                    }
                    key = new;
                }
                Legacy::NetUnindexed(sub) if sub == "type" => {
                    if value.is_empty() {
                        // an empty legacy type cleared every interface
                        self.legacy_cur = None;
                        key = "lxc.net".into();
                    } else {
                        let n = self.legacy_next;
                        self.legacy_next = n.saturating_add(1);
                        self.legacy_cur = Some(n);
                        key = format!("lxc.net.{n}.type");
                    }
                }
                Legacy::NetUnindexed(sub) => match self.legacy_cur {
                    Some(n) => key = format!("lxc.net.{n}.{sub}"),
                    None => {
                        return Err(ConfigError::Misplaced {
                            origin,
                            key: raw_key.to_string(),
                            reason: "comes before any \"lxc.network.type\", so there is no interface to apply it to; put \"lxc.network.type\" first or write \"lxc.net.N.SUBKEY\"".into(),
                        })
                    }
                },
            }
            self.warn(
                &origin,
                format!("\"{raw_key}\" is a legacy key, read as \"{key}\"; update the file with \"hako config NAME --upgrade\""),
            );
        }
        let Some(info) = keys::info(&key) else {
            return Err(ConfigError::UnknownKey {
                origin,
                key: shorten(raw_key, 120),
                suggestion: keys::suggest(raw_key),
            });
        };
        if let Err(reason) = keys::validate(info.kind, &key, value) {
            return Err(ConfigError::BadValue {
                origin,
                key: raw_key.to_string(),
                value: shorten(value, 200),
                reason,
            });
        }
        if !info.supported && !value.is_empty() {
            self.warn(
                &origin,
                format!("\"{key}\" is not supported by hako yet and is ignored"),
            );
        }
        if let Some((n, _)) = keys::split_net_key(&key) {
            self.legacy_next = self.legacy_next.max(n.saturating_add(1));
        }
        self.items.push(Item {
            key,
            value: value.to_string(),
            origin: origin.clone(),
        });
        if info.kind == Kind::Include && !value.is_empty() && self.follow_includes {
            self.include(value, &origin, base)?;
        }
        Ok(())
    }

    /// `lxc.include = PATH`: a file, or a directory whose `*.conf` entries are read in
    /// sorted order. Relative paths are relative to the including file's directory. A
    /// missing directory written with a trailing '/' is skipped, as LXC does. In a
    /// directory, a `*.conf` subdirectory is skipped (as LXC does); every other `*.conf`
    /// entry must be a regular file or a symlink to one: a FIFO (on which LXC blocks), a
    /// device or a dangling link there is an error naming it.
    fn include(&mut self, value: &str, origin: &Origin, base: &Path) -> Result<(), ConfigError> {
        let p = Path::new(value);
        let path = if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        };
        let fail = |e: std::io::Error| ConfigError::Include {
            origin: origin.clone(),
            path: path.clone(),
            reason: format!(
                "{}; fix the path or remove the lxc.include line",
                io_reason(&e)
            ),
        };
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            // LXC skips a missing *directory* include (Debian's userns.conf includes an
            // optional userns.conf.d/ that no package creates); a missing file is an error.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && value.ends_with('/') => {
                return Ok(())
            }
            Err(e) => return Err(fail(e)),
        };
        if !meta.is_dir() {
            return self.load_path(&path, Some(origin));
        }
        let mut files: Vec<PathBuf> = fs::read_dir(&path)
            .map_err(fail)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|f| {
                f.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.len() > 5 && n.ends_with(".conf"))
                    && !f.is_dir()
            })
            .collect();
        files.sort();
        for f in files {
            self.load_path(&f, Some(origin))?;
        }
        Ok(())
    }

    fn finish(self) -> Config {
        let mut cfg = Config {
            items: self.items,
            warnings: self.warnings,
        };
        // an interface with settings but no type is ignored; say so
        for i in cfg.net_indices() {
            if cfg.net(i, "type").is_none() {
                let first = cfg
                    .effective()
                    .into_iter()
                    .find(|it| keys::split_net_key(&it.key).is_some_and(|(n, _)| n == i))
                    .map(|it| (it.origin.clone(), it.key.clone()));
                if let Some((origin, key)) = first {
                    cfg.warnings.push(Warning {
                        origin,
                        message: format!(
                            "\"{key}\" is set but \"lxc.net.{i}.type\" is not, so interface {i} is ignored; add \"lxc.net.{i}.type = veth\" (or another type)"
                        ),
                    });
                }
            }
        }
        cfg
    }
}

/// Whether an item `clear = ""` clears `key`: the same key, or a group the key belongs to
/// (`lxc.net`, `lxc.net.N`, `lxc.cgroup`, `lxc.cgroup2`, `lxc.hook`, `lxc.prlimit`,
/// `lxc.sysctl`, `lxc.proc`), as LXC's clear functions do.
fn clear_applies(clear: &str, key: &str) -> bool {
    if clear == key {
        return true;
    }
    let Some(rest) = key.strip_prefix(clear).and_then(|r| r.strip_prefix('.')) else {
        return false;
    };
    match clear {
        "lxc.net" | "lxc.cgroup2" | "lxc.prlimit" | "lxc.sysctl" | "lxc.proc" => true,
        "lxc.cgroup" => !(rest == "dir" || rest.starts_with("dir.") || rest == "relative"),
        "lxc.hook" => rest != "version",
        c => keys::split_net_key(c).is_some_and(|(_, sub)| sub.is_empty()),
    }
}

pub(crate) fn bad(item: &Item, e: ValueError) -> ConfigError {
    ConfigError::BadValue {
        origin: item.origin.clone(),
        key: item.key.clone(),
        value: shorten(&item.value, 200),
        reason: e.to_string(),
    }
}

impl Config {
    pub fn new() -> Config {
        Config::default()
    }

    /// Items still in effect: not cleared by a later empty value of the same key or of a
    /// group it belongs to; the clearing items themselves are left out.
    fn effective(&self) -> Vec<&Item> {
        let mut clears: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for it in self.items.iter().rev() {
            if it.value.is_empty() {
                clears.push(&it.key);
            } else if !clears.iter().any(|c| clear_applies(c, &it.key)) {
                out.push(it);
            }
        }
        out.reverse();
        out
    }

    /// The last value of a single-valued key; `None` if unset or cleared (empty value).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.item(key).map(|it| it.value.as_str())
    }

    /// The item behind [`Config::get`], with its origin.
    pub fn item(&self, key: &str) -> Option<&Item> {
        for it in self.items.iter().rev() {
            if it.key == key {
                return (!it.value.is_empty()).then_some(it);
            }
            if it.value.is_empty() && clear_applies(&it.key, key) {
                return None;
            }
        }
        None
    }

    /// The items behind [`Config::get_list`].
    pub fn list_items(&self, key: &str) -> Vec<&Item> {
        let mut out = Vec::new();
        for it in &self.items {
            if it.value.is_empty() {
                if clear_applies(&it.key, key) {
                    out.clear();
                }
            } else if it.key == key {
                out.push(it);
            }
        }
        out
    }

    /// Every value of a multi-valued key, in order; an empty value clears what came before
    /// (as does an empty value of its group, e.g. `lxc.cgroup =`).
    pub fn get_list(&self, key: &str) -> Vec<&str> {
        self.list_items(key)
            .into_iter()
            .map(|it| it.value.as_str())
            .collect()
    }

    /// Items in effect whose key starts with `prefix` (plain string prefix: "lxc.cgroup."
    /// does not match "lxc.cgroup2.*", but does match "lxc.cgroup.dir"; see
    /// [`Config::cgroup_keys`]).
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Item> + 'a {
        self.effective()
            .into_iter()
            .filter(move |it| it.key.starts_with(prefix))
    }

    /// Controller settings: `lxc.cgroup.<file>` (v1) or `lxc.cgroup2.<file>` (v2) as
    /// (`"memory.max"`, value), in order; `lxc.cgroup.dir*` and `lxc.cgroup.relative`
    /// are not controller files and are left out.
    pub fn cgroup_keys(&self, v2: bool) -> Vec<(&str, &str)> {
        let prefix = if v2 { "lxc.cgroup2." } else { "lxc.cgroup." };
        self.effective()
            .into_iter()
            .filter_map(|it| {
                let file = it.key.strip_prefix(prefix)?;
                if !v2 && (file == "dir" || file.starts_with("dir.") || file == "relative") {
                    return None;
                }
                Some((file, it.value.as_str()))
            })
            .collect()
    }

    /// The N of every `lxc.net.N.*` in effect, sorted.
    pub fn net_indices(&self) -> Vec<u32> {
        let set: BTreeSet<u32> = self
            .effective()
            .into_iter()
            .filter_map(|it| {
                keys::split_net_key(&it.key)
                    .filter(|(_, sub)| !sub.is_empty())
                    .map(|(n, _)| n)
            })
            .collect();
        set.into_iter().collect()
    }

    /// `lxc.net.INDEX.SUBKEY`, e.g. `net(0, "type")`, `net(0, "ipv4.gateway")`.
    pub fn net(&self, index: u32, subkey: &str) -> Option<&str> {
        self.get(&format!("lxc.net.{index}.{subkey}"))
    }

    /// Multi-valued `lxc.net.INDEX.SUBKEY` (`ipv4.address`, `ipv6.address`, ...).
    pub fn net_list(&self, index: u32, subkey: &str) -> Vec<&str> {
        self.get_list(&format!("lxc.net.{index}.{subkey}"))
    }

    /// Apply `KEY=VAL` from the command line (`lxc-start -s`): checked like a file line,
    /// with origin `<command line>`; it comes after everything loaded so far.
    pub fn set_override(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let mut l = Loader::new(true);
        l.items = std::mem::take(&mut self.items);
        l.warnings = std::mem::take(&mut self.warnings);
        let last = l
            .items
            .iter()
            .filter_map(|it| keys::split_net_key(&it.key).map(|(n, _)| n))
            .max();
        l.legacy_cur = last;
        l.legacy_next = last.map_or(0, |m| m.saturating_add(1));
        let r = l.process(
            trim(key),
            unquote(trim(value)),
            Origin::command_line(),
            Path::new(""),
        );
        self.items = l.items;
        self.warnings = l.warnings;
        r
    }

    /// Capabilities to drop (`lxc.cap.drop`), lowercase, without duplicates.
    pub fn cap_drop(&self) -> Result<Vec<String>, ConfigError> {
        let mut out: Vec<String> = Vec::new();
        for it in self.list_items("lxc.cap.drop") {
            for c in values::parse_caps(&it.value).map_err(|e| bad(it, e))? {
                if c != "none" && !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    /// Capabilities to keep (`lxc.cap.keep`): `None` when not set; `Some(empty)` for
    /// `none` (drop every capability). `none` clears the names before it.
    pub fn cap_keep(&self) -> Result<Option<Vec<String>>, ConfigError> {
        let mut set = false;
        let mut out: Vec<String> = Vec::new();
        for it in &self.items {
            if it.value.is_empty() {
                if clear_applies(&it.key, "lxc.cap.keep") {
                    set = false;
                    out.clear();
                }
                continue;
            }
            if it.key != "lxc.cap.keep" {
                continue;
            }
            set = true;
            for c in values::parse_caps(&it.value).map_err(|e| bad(it, e))? {
                if c == "none" {
                    out.clear();
                } else if !out.contains(&c) {
                    out.push(c);
                }
            }
        }
        Ok(set.then_some(out))
    }

    /// `lxc.mount.auto`, every line combined (later tokens win per filesystem).
    pub fn mount_auto(&self) -> Result<MountAuto, ConfigError> {
        let mut m = MountAuto::default();
        for it in self.list_items("lxc.mount.auto") {
            m.merge(&values::parse_mount_auto(&it.value).map_err(|e| bad(it, e))?);
        }
        Ok(m)
    }

    /// `lxc.mount.entry` lines, parsed (not the `lxc.mount.fstab` file: reading it is the
    /// caller's business, see [`values::parse_fstab`]).
    pub fn mount_entries(&self) -> Result<Vec<MountEntry>, ConfigError> {
        self.list_items("lxc.mount.entry")
            .into_iter()
            .map(|it| values::parse_mount_entry(&it.value).map_err(|e| bad(it, e)))
            .collect()
    }

    /// `lxc.prlimit.*` as (resource, soft, hard); one entry per resource, the last wins.
    pub fn prlimits(&self) -> Result<Vec<(i32, u64, u64)>, ConfigError> {
        let mut out: Vec<(i32, u64, u64)> = Vec::new();
        for it in self.with_prefix("lxc.prlimit.") {
            let name = &it.key["lxc.prlimit.".len()..];
            let l = values::parse_prlimit(name, &it.value).map_err(|e| bad(it, e))?;
            out.retain(|p| p.0 != l.0);
            out.push(l);
        }
        Ok(out)
    }

    /// `lxc.environment` as (name, value); `None` means "pass the caller's value".
    pub fn environment(&self) -> Vec<(String, Option<String>)> {
        self.get_list("lxc.environment")
            .into_iter()
            .map(values::parse_environment)
            .collect()
    }
}
