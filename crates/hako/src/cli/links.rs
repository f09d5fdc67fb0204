//! `hako compat-links DIR`: DIR/lxc-<tool> → this binary for every lxc-* name hako
//! answers to. Idempotent: links already right are left alone, links of ours that point
//! elsewhere (an older install) are replaced, anything else is refused before any change.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::action::Tool;

#[derive(Debug, PartialEq, Eq)]
pub enum LinkStep {
    Create(PathBuf),
    Replace(PathBuf),
    Keep(PathBuf),
}

/// Is `target` (a link's destination) one of ours: this very binary, or a file named
/// `hako` (a stale link from an earlier install)?
fn target_is_ours(target: &Path, exe: &Path) -> bool {
    target == exe
        || target.file_name().is_some_and(|n| n == "hako")
        || std::fs::canonicalize(target).is_ok_and(|t| t == exe)
}

/// Decides what to do for every name without touching anything.
pub fn plan(dir: &Path, exe: &Path) -> Result<Vec<LinkStep>, String> {
    let dmeta = std::fs::metadata(dir).map_err(|e| {
        format!(
            "cannot use \"{}\" for the lxc-* links: {e}; create the directory first",
            dir.display()
        )
    })?;
    if !dmeta.is_dir() {
        return Err(format!(
            "cannot create the lxc-* links in \"{}\": it is not a directory; pass a directory such as /usr/local/bin",
            dir.display()
        ));
    }
    let exe_meta = std::fs::metadata(exe).ok();
    let mut steps = Vec::new();
    for tool in Tool::ALL {
        let path = dir.join(tool.program());
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => steps.push(LinkStep::Create(path)),
            Err(e) => {
                return Err(format!(
                    "cannot inspect \"{}\": {e}; check the permissions of {}",
                    path.display(),
                    dir.display()
                ))
            }
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&path)
                    .map_err(|e| format!("cannot read link \"{}\": {e}", path.display()))?;
                let abs = if target.is_absolute() {
                    target.clone()
                } else {
                    dir.join(&target)
                };
                if abs == exe {
                    steps.push(LinkStep::Keep(path));
                } else if target_is_ours(&abs, exe) {
                    steps.push(LinkStep::Replace(path));
                } else {
                    return Err(format!(
                        "refusing to replace \"{}\": it links to \"{}\", which is not hako (is LXC installed there?); remove it yourself or pick another directory",
                        path.display(),
                        target.display()
                    ));
                }
            }
            Ok(m) => {
                // A hard link or copy of this very binary is ours too.
                let same_file = exe_meta
                    .as_ref()
                    .is_some_and(|x| x.dev() == m.dev() && x.ino() == m.ino());
                if m.is_file() && same_file {
                    steps.push(LinkStep::Replace(path));
                } else {
                    return Err(format!(
                        "refusing to replace \"{}\": it is a {} that is not hako (is LXC installed there?); remove it yourself or pick another directory",
                        path.display(),
                        if m.is_dir() { "directory" } else { "file" }
                    ));
                }
            }
        }
    }
    Ok(steps)
}

/// Applies the plan; returns a line per link made or replaced.
pub fn apply(steps: &[LinkStep], exe: &Path) -> Result<String, String> {
    let mut report = String::new();
    for step in steps {
        match step {
            LinkStep::Keep(_) => {}
            LinkStep::Create(path) => {
                std::os::unix::fs::symlink(exe, path).map_err(|e| {
                    format!(
                        "cannot create link \"{}\": {e}; run as a user who may write there",
                        path.display()
                    )
                })?;
                report.push_str(&format!("{} -> {}\n", path.display(), exe.display()));
            }
            LinkStep::Replace(path) => {
                // Make the new link beside it, then rename over: never a moment without one.
                let tmp = path.with_file_name(format!(
                    ".{}.hako-tmp",
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ));
                let _ = std::fs::remove_file(&tmp);
                std::os::unix::fs::symlink(exe, &tmp).map_err(|e| {
                    format!(
                        "cannot create link \"{}\": {e}; run as a user who may write there",
                        tmp.display()
                    )
                })?;
                std::fs::rename(&tmp, path).map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    format!("cannot replace \"{}\": {e}", path.display())
                })?;
                report.push_str(&format!(
                    "{} -> {} (replaced)\n",
                    path.display(),
                    exe.display()
                ));
            }
        }
    }
    Ok(report)
}

pub fn compat_links(dir: &Path, exe: &Path) -> Result<String, String> {
    let steps = plan(dir, exe)?;
    apply(&steps, exe)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_exe(dir: &Path) -> PathBuf {
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let exe = bin.join("hako");
        std::fs::write(&exe, b"#!/bin/false\n").unwrap();
        exe
    }

    #[test]
    fn creates_all_links_and_is_idempotent() {
        let t = tempfile::tempdir().unwrap();
        let exe = fake_exe(t.path());
        let dir = t.path().join("links");
        std::fs::create_dir(&dir).unwrap();
        let out = compat_links(&dir, &exe).unwrap();
        assert_eq!(out.lines().count(), Tool::ALL.len());
        for tool in Tool::ALL {
            assert_eq!(std::fs::read_link(dir.join(tool.program())).unwrap(), exe);
        }
        // second run: nothing to do
        assert_eq!(compat_links(&dir, &exe).unwrap(), "");
    }

    #[test]
    fn replaces_stale_links_of_ours() {
        let t = tempfile::tempdir().unwrap();
        let exe = fake_exe(t.path());
        let dir = t.path().join("links");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink("/opt/old/hako", dir.join("lxc-start")).unwrap();
        std::fs::hard_link(&exe, dir.join("lxc-info")).unwrap();
        let out = compat_links(&dir, &exe).unwrap();
        assert!(
            out.contains("lxc-start -> ") && out.contains("(replaced)"),
            "{out}"
        );
        assert_eq!(std::fs::read_link(dir.join("lxc-start")).unwrap(), exe);
        assert_eq!(std::fs::read_link(dir.join("lxc-info")).unwrap(), exe);
        assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".hako-tmp")));
    }

    #[test]
    fn refuses_foreign_files_and_changes_nothing() {
        let t = tempfile::tempdir().unwrap();
        let exe = fake_exe(t.path());
        let dir = t.path().join("links");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("lxc-stop"), b"real lxc-stop").unwrap();
        let e = compat_links(&dir, &exe).unwrap_err();
        assert!(
            e.contains("refusing to replace") && e.contains("lxc-stop"),
            "{e}"
        );
        // nothing was created, the foreign file is intact
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        assert_eq!(
            std::fs::read(dir.join("lxc-stop")).unwrap(),
            b"real lxc-stop"
        );
        std::fs::remove_file(dir.join("lxc-stop")).unwrap();
        std::os::unix::fs::symlink(
            "/usr/lib/x86_64-linux-gnu/lxc/lxc-stop",
            dir.join("lxc-stop"),
        )
        .unwrap();
        let e = compat_links(&dir, &exe).unwrap_err();
        assert!(e.contains("links to"), "{e}");
    }

    #[test]
    fn missing_directory() {
        let t = tempfile::tempdir().unwrap();
        let exe = fake_exe(t.path());
        let e = compat_links(&t.path().join("nope"), &exe).unwrap_err();
        assert!(e.contains("create the directory first"), "{e}");
        let e = compat_links(&exe, &exe).unwrap_err();
        assert!(e.contains("not a directory"), "{e}");
    }
}
