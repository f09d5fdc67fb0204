//! Carrying out and printing the storage verbs: `copy`, `snapshot`, `image ls|rm`
//! (and their `lxc-copy`, `lxc-snapshot` faces).

use std::path::Path;

use super::action::{Face, Format};
use super::format::{humanize_bytes, table};
use super::run::Failure;
use super::sys::{print_err, print_out};
use crate::storage::{self, CopyOptions, ImageRequest, SnapshotOutcome, SnapshotRequest};
use crate::Context;

fn fail(e: crate::Error) -> Failure {
    Failure {
        message: e.to_string(),
        code: 1,
    }
}

/// `copy` / `lxc-copy`
pub fn copy(face: Face, ctx: &Context, opts: &CopyOptions) -> Result<i32, Failure> {
    let new = storage::copy(ctx, opts).map_err(fail)?;
    if !opts.quiet {
        let kind = if opts.ephemeral {
            if opts.keep_data {
                "a snapshot clone (started)"
            } else {
                "an ephemeral snapshot clone (started; destroyed when it stops)"
            }
        } else if opts.snapshot {
            "a snapshot clone"
        } else {
            "a copy"
        };
        match face {
            Face::Lxc(_) => print_out(&format!(
                "Created {new} as {} of {}\n",
                if opts.snapshot || opts.ephemeral {
                    "snapshot"
                } else {
                    "copy"
                },
                opts.src
            )),
            Face::Hako => print_out(&format!(
                "Created container \"{new}\" as {kind} of \"{}\"\n",
                opts.src
            )),
        }
    }
    Ok(0)
}

/// `snapshot` / `lxc-snapshot`
pub fn snapshot(
    face: Face,
    ctx: &Context,
    name: &str,
    req: &SnapshotRequest,
    format: Format,
    quiet: bool,
) -> Result<i32, Failure> {
    let req = match req {
        // lxc-snapshot -d ALL: every snapshot
        SnapshotRequest::Destroy { snap } if snap == "ALL" => {
            ctx.store()
                .delete_all_snapshots(name)
                .map_err(|e| fail(e.into()))?;
            return Ok(0);
        }
        r => r,
    };
    let out = storage::snapshot(ctx, name, req).map_err(fail)?;
    match out {
        SnapshotOutcome::Created(snap) => {
            if face == Face::Hako && !quiet {
                print_out(&format!("Snapshot {snap} of \"{name}\" taken\n"));
            }
        }
        SnapshotOutcome::List(snaps) => {
            let comments = matches!(req, SnapshotRequest::List { comments: true });
            let text = match (face, format) {
                (_, Format::Json) => snapshots_json(&snaps),
                (Face::Lxc(_), _) => {
                    lxc_snapshot_list(&snaps, &ctx.lxcpath.join(name).join("snaps"), comments)
                }
                (Face::Hako, _) => snapshot_table(&snaps, comments),
            };
            print_out(&text);
            print_err(&partial_snapshot_notes(face, name, &snaps));
        }
        SnapshotOutcome::Restored { snap, into } => {
            if face == Face::Hako && !quiet {
                print_out(&format!(
                    "Snapshot {snap} of \"{name}\" restored into \"{into}\"\n"
                ));
            }
        }
        SnapshotOutcome::Deleted(snap) => {
            if face == Face::Hako && !quiet {
                print_out(&format!("Snapshot {snap} of \"{name}\" deleted\n"));
            }
        }
    }
    Ok(0)
}

/// One line per half-made snapshot of `name`: what it is and how to delete it.
pub fn partial_snapshot_notes(
    face: Face,
    name: &str,
    snaps: &[hako_store::SnapshotInfo],
) -> String {
    let mut out = String::new();
    for s in snaps {
        let Some(p) = &s.partial else { continue };
        let del = match face {
            Face::Hako => format!("hako snapshot {name} -d {}", s.name),
            Face::Lxc(_) => format!("lxc-snapshot -n {name} -d {}", s.name),
        };
        out.push_str(&format!(
            "{}: snapshot {} of \"{name}\" is half-made ({}); delete it with \"{del}\"\n",
            face.program(),
            s.name,
            p.describe()
        ));
    }
    out
}

/// The CREATED cell: the time, or PARTIAL for a half-made snapshot.
fn created(s: &hako_store::SnapshotInfo) -> String {
    if s.partial.is_some() {
        "PARTIAL".to_string()
    } else {
        s.created.clone()
    }
}

/// `hako snapshot -L`: NAME CREATED (UTC) [COMMENT]; "no snapshots" when there are none.
pub fn snapshot_table(snaps: &[hako_store::SnapshotInfo], comments: bool) -> String {
    if snaps.is_empty() {
        return "no snapshots\n".to_string();
    }
    let rows: Vec<Vec<String>> = snaps
        .iter()
        .map(|s| {
            let mut r = vec![s.name.clone(), created(s)];
            if comments {
                r.push(
                    s.comment
                        .as_deref()
                        .map(|c| c.lines().collect::<Vec<_>>().join(" / "))
                        .unwrap_or_else(|| "-".into()),
                );
            }
            r
        })
        .collect();
    if comments {
        table(&["NAME", "CREATED (UTC)", "COMMENT"], &rows)
    } else {
        table(&["NAME", "CREATED (UTC)"], &rows)
    }
}

/// lxc-snapshot -L: `snap0 (/var/lib/lxc/web/snaps) 2024:05:20 10:13:20`, with -C each
/// comment below its snapshot; `No snapshots` when there are none.
pub fn lxc_snapshot_list(snaps: &[hako_store::SnapshotInfo], dir: &Path, comments: bool) -> String {
    if snaps.is_empty() {
        return "No snapshots\n".to_string();
    }
    let mut out = String::new();
    for s in snaps {
        out.push_str(&format!("{} ({}) {}\n", s.name, dir.display(), created(s)));
        if comments {
            if let Some(c) = &s.comment {
                for l in c.lines() {
                    out.push_str(&format!("\t{l}\n"));
                }
            }
        }
    }
    out
}

pub fn snapshots_json(snaps: &[hako_store::SnapshotInfo]) -> String {
    let v: Vec<serde_json::Value> = snaps
        .iter()
        .map(|s| {
            serde_json::json!({
                "name": s.name,
                "created": (!s.created.is_empty()).then_some(&s.created),
                "comment": s.comment,
                "path": s.dir,
                "partial": s.partial.as_ref().map(|p| serde_json::json!({
                    "operation": p.operation,
                    "in_progress": p.busy.is_some(),
                })),
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

/// `image ls` / `image rm`
pub fn image(
    ctx: &Context,
    req: &ImageRequest,
    format: Format,
    quiet: bool,
) -> Result<i32, Failure> {
    match req {
        ImageRequest::Ls => {
            let images = storage::images().map_err(fail)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            let text = match format {
                Format::Json => images_json(&images, now),
                Format::Text => image_table(&images, now, &ctx.lxcpath),
            };
            print_out(&text);
            Ok(0)
        }
        ImageRequest::Rm { name } => {
            storage::remove_image(ctx, name).map_err(fail)?;
            if !quiet {
                print_out(&format!("Image {name} removed\n"));
            }
            Ok(0)
        }
    }
}

/// `2m`, `3h`, `5d` (how long ago).
pub fn age(built: u64, now: u64) -> String {
    if built == 0 {
        return "-".into();
    }
    let d = now.saturating_sub(built);
    match d {
        0..=59 => format!("{d}s"),
        60..=3599 => format!("{}m", d / 60),
        3600..=86399 => format!("{}h", d / 3600),
        _ => format!("{}d", d / 86400),
    }
}

/// A user of an image as `image ls` shows it: the name for a container of this lxcpath,
/// the directory otherwise.
fn user_label(u: &Path, lxcpath: &Path) -> String {
    let lp = std::fs::canonicalize(lxcpath).unwrap_or_else(|_| lxcpath.to_path_buf());
    if let Some(parent) = u.parent() {
        if parent == lp {
            return u
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        if parent.file_name() == Some("snaps".as_ref())
            && parent.parent().and_then(|p| p.parent()) == Some(lp.as_path())
        {
            let c = parent
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let s = u
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            return format!("{c}/{s}");
        }
    }
    u.display().to_string()
}

/// `hako image ls`: NAME RELEASE ARCH SIZE AGE USED-BY; "no images in CACHE" when empty.
pub fn image_table(images: &[hako_store::ImageInfo], now: u64, lxcpath: &Path) -> String {
    if images.is_empty() {
        return format!("no images in {}\n", storage::image_cache().root().display());
    }
    let rows: Vec<Vec<String>> = images
        .iter()
        .map(|i| {
            vec![
                i.name.clone(),
                i.release.clone(),
                i.arch.clone(),
                humanize_bytes(i.size),
                age(i.built, now),
                if i.users.is_empty() {
                    "-".into()
                } else {
                    i.users
                        .iter()
                        .map(|u| user_label(u, lxcpath))
                        .collect::<Vec<_>>()
                        .join(",")
                },
            ]
        })
        .collect();
    table(
        &["NAME", "RELEASE", "ARCH", "SIZE", "AGE", "USED-BY"],
        &rows,
    )
}

pub fn images_json(images: &[hako_store::ImageInfo], now: u64) -> String {
    let v: Vec<serde_json::Value> = images
        .iter()
        .map(|i| {
            serde_json::json!({
                "name": i.name,
                "template": i.template,
                "release": i.release,
                "arch": i.arch,
                "packages": i.packages,
                "builder": i.builder,
                "size_bytes": i.size,
                "built": i.built,
                "age_seconds": now.saturating_sub(i.built),
                "path": i.dir,
                "used_by": i.users,
            })
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn snap(n: &str, c: Option<&str>) -> hako_store::SnapshotInfo {
        hako_store::SnapshotInfo {
            name: n.into(),
            dir: PathBuf::from(format!("/lp/web/snaps/{n}")),
            created: "2024:05:20 10:13:20".into(),
            comment: c.map(str::to_string),
            partial: None,
        }
    }

    #[test]
    fn snapshot_lists() {
        let s = vec![snap("snap0", Some("before upgrade")), snap("snap1", None)];
        assert_eq!(
            lxc_snapshot_list(&s, Path::new("/lp/web/snaps"), false),
            "snap0 (/lp/web/snaps) 2024:05:20 10:13:20\nsnap1 (/lp/web/snaps) 2024:05:20 10:13:20\n"
        );
        assert!(lxc_snapshot_list(&s, Path::new("/x"), true).contains("\tbefore upgrade\n"));
        assert_eq!(
            lxc_snapshot_list(&[], Path::new("/x"), false),
            "No snapshots\n"
        );
        let t = snapshot_table(&s, true);
        assert!(
            t.starts_with("NAME   CREATED (UTC)        COMMENT\n"),
            "{t}"
        );
        assert!(t.contains("snap1  2024:05:20 10:13:20  -\n"), "{t}");
        let j: serde_json::Value = serde_json::from_str(&snapshots_json(&s)).unwrap();
        assert_eq!(j[0]["comment"], "before upgrade");
        assert_eq!(j[1]["comment"], serde_json::Value::Null);
        assert_eq!(j[1]["partial"], serde_json::Value::Null);
        assert!(partial_snapshot_notes(Face::Hako, "web", &s).is_empty());
    }

    #[test]
    fn half_made_snapshots_are_listed_as_such() {
        let mut half = snap("snap1", None);
        half.created = String::new();
        half.partial = Some(hako_store::Partial {
            operation: Some("snapshot".into()),
            busy: None,
        });
        let s = vec![snap("snap0", None), half];
        let t = snapshot_table(&s, false);
        assert!(t.contains("snap1  PARTIAL"), "{t}");
        assert!(lxc_snapshot_list(&s, Path::new("/lp/web/snaps"), false)
            .ends_with("snap1 (/lp/web/snaps) PARTIAL\n"));
        let j: serde_json::Value = serde_json::from_str(&snapshots_json(&s)).unwrap();
        assert_eq!(j[1]["partial"]["operation"], "snapshot");
        assert_eq!(j[1]["created"], serde_json::Value::Null);
        assert_eq!(
            partial_snapshot_notes(Face::Hako, "web", &s),
            "hako: snapshot snap1 of \"web\" is half-made (an interrupted snapshot); delete it with \"hako snapshot web -d snap1\"\n"
        );
    }

    #[test]
    fn image_listing() {
        let img = hako_store::ImageInfo {
            name: "debian/bookworm-amd64".into(),
            dir: PathBuf::from("/c/debian/bookworm-amd64"),
            template: "debian".into(),
            release: "bookworm".into(),
            arch: "amd64".into(),
            packages: vec![],
            builder: "mmdebstrap".into(),
            built: 1000,
            size: 300 << 20,
            users: vec![
                PathBuf::from("/nonexistent-lp/web"),
                PathBuf::from("/other/db"),
            ],
        };
        let t = image_table(
            std::slice::from_ref(&img),
            1000 + 7200,
            Path::new("/nonexistent-lp"),
        );
        assert!(
            t.starts_with("NAME                   RELEASE   ARCH   SIZE        AGE  USED-BY\n"),
            "{t}"
        );
        assert!(
            t.contains("debian/bookworm-amd64  bookworm  amd64  300.00 MiB  2h   web,/other/db\n"),
            "{t}"
        );
        let j: serde_json::Value = serde_json::from_str(&images_json(&[img], 1060)).unwrap();
        assert_eq!(j[0]["age_seconds"], 60);
        assert_eq!(j[0]["used_by"][0], "/nonexistent-lp/web");
        assert_eq!(age(0, 5), "-");
        assert_eq!(age(100, 100 + 3 * 86400), "3d");
    }
}
