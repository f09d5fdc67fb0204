//! Storage operations of the facade: create with the backing store picked by the template
//! (overlay on the image cache for debian), copies (full, snapshot clone, ephemeral),
//! snapshots, destroy with snapshots, and the image cache (`hako image`). The logic is in
//! hako-store; this layer adds what needs the runtime (is a container running? start an
//! ephemeral copy).

use std::path::PathBuf;

use hako_store::{CopySpec, ImageCache, ImageInfo, SnapshotInfo};

use crate::{Container, Context, CreateOptions, Error, Result, StartOptions, State};

/// `copy` / `lxc-copy`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyOptions {
    pub src: String,
    /// None with `ephemeral`: a name is made up (`SRC-xxxxxx`).
    pub new: Option<String>,
    /// `-s`: snapshot clone (overlay or btrfs), which depends on SRC.
    pub snapshot: bool,
    /// `-e`: ephemeral: an overlay snapshot clone with `lxc.ephemeral = 1`, started at
    /// once and destroyed when it stops.
    pub ephemeral: bool,
    /// `-D` with `-e`: keep it when it stops (no `lxc.ephemeral`).
    pub keep_data: bool,
    /// `-F` with `-e`: start in the foreground.
    pub foreground: bool,
    /// `-B`
    pub backing: Option<String>,
    /// `-K`
    pub keep_name: bool,
    /// `-M`
    pub keep_mac: bool,
    pub quiet: bool,
    /// arguments after `--`: passed on to the clone hooks
    pub hook_args: Vec<String>,
}

/// `snapshot` / `lxc-snapshot`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotRequest {
    /// take one; `-c FILE` gives its comment
    Create { comment_file: Option<PathBuf> },
    /// `-L` (`-C`: with comments)
    List { comments: bool },
    /// `-r SNAP [-N NEW]`
    Restore { snap: String, new: Option<String> },
    /// `-d SNAP`
    Destroy { snap: String },
}

/// `image ...`
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageRequest {
    Ls,
    Rm { name: String },
}

fn running(ctx: &Context) -> impl Fn(&str) -> bool + '_ {
    move |n: &str| {
        ctx.container(n)
            .and_then(|c| c.state())
            .map(|s| s != State::Stopped)
            .unwrap_or(false)
    }
}

/// Creates a container as [`Container::create`] does, except that without `-B` the
/// template picks the backing store (overlay on the cached image for debian, dir for the
/// others).
pub fn create(c: &Container, opts: &CreateOptions) -> Result<()> {
    let store = c.context().store();
    let template = match opts.template.as_deref() {
        None => hako_store::Template::None,
        Some(t) => hako_store::Template::parse(t)?,
    };
    let spec = hako_store::CreateSpec {
        name: c.name().to_string(),
        template,
        template_args: opts.template_args.clone(),
        extra_config: opts.config_file.clone(),
        backing: opts.backing.clone().unwrap_or_default(),
        quiet: opts.quiet,
        ids: opts.ids,
    };
    store.create(&spec)?;
    // rootless: the rootfs the user made belongs to the container's range from now on
    if crate::rootless::is_rootless() {
        let r = crate::rootless::own_rootfs(
            c.name(),
            &store.config_path(c.name()),
            &store.rootfs_path(c.name()),
        );
        if let Err(e) = r {
            // nothing half-made: the new container goes again
            let _ = c.destroy_with(true, false);
            return Err(e);
        }
    }
    // the config's notes (keys hako ignores, legacy keys), shown once here; a config that
    // cannot make a spec yet (a template's rootfs to come) says so at start
    let _ = c.load_spec(None, &[]);
    Ok(())
}

/// A made-up name for an ephemeral copy: `SRC-` and six random letters and digits.
fn ephemeral_name(src: &str) -> String {
    let mut b = [0u8; 6];
    let _ = getrandom_bytes(&mut b);
    let tail: String = b
        .iter()
        .map(|x| b"abcdefghijklmnopqrstuvwxyz0123456789"[(*x as usize) % 36] as char)
        .collect();
    let mut base = src.to_string();
    while base.len() > hako_store::MAX_NAME_LEN - 7 {
        base.pop();
    }
    format!("{base}-{tail}")
}

fn getrandom_bytes(b: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(b)
}

/// Copies a container; returns the new container's name. With `ephemeral` the copy is
/// started (and removed again if it cannot start).
pub fn copy(ctx: &Context, opts: &CopyOptions) -> Result<String> {
    let new = match (&opts.new, opts.ephemeral) {
        (Some(n), _) => n.clone(),
        (None, true) => ephemeral_name(&opts.src),
        (None, false) => {
            return Err(Error::other(format!(
                "copy needs a name for the new container; run \"hako copy {} NEW\"",
                opts.src
            )))
        }
    };
    let store = ctx.store();
    let spec = CopySpec {
        src: opts.src.clone(),
        new: new.clone(),
        // an ephemeral copy is a snapshot clone, as lxc-copy -e makes it
        snapshot: opts.snapshot || opts.ephemeral,
        backing: opts.backing.clone().unwrap_or_default(),
        ephemeral: opts.ephemeral && !opts.keep_data,
        keep_name: opts.keep_name,
        keep_mac: opts.keep_mac,
        quiet: opts.quiet,
    };
    store.copy(&spec, &running(ctx))?;
    clone_hooks(ctx, &opts.src, &new, &opts.hook_args)?;
    if opts.ephemeral {
        let c = ctx.container(&new)?;
        let start = StartOptions {
            foreground: opts.foreground,
            ..Default::default()
        };
        if let Err(e) = c.start(&start) {
            // nothing half-made: an ephemeral copy that cannot start goes again
            if c.state().map(|s| s == State::Stopped).unwrap_or(false) && c.exists() {
                let _ = c.destroy(true);
            }
            return Err(e);
        }
    }
    Ok(new)
}

/// `lxc.hook.clone` of the new container `new`, made from `src`: run with its root
/// filesystem mounted at `LXC_ROOTFS_MOUNT` (see hako_runtime::hooks). A hook that fails
/// removes the copy again, as in LXC.
fn clone_hooks(ctx: &Context, src: &str, new: &str, args: &[String]) -> Result<()> {
    let c = ctx.container(new)?;
    let has_hooks = hako_config::load_file(&c.config_path())
        .map(|cfg| !cfg.get_list("lxc.hook.clone").is_empty())
        .unwrap_or(false);
    if !has_hooks {
        return Ok(());
    }
    let store = ctx.store();
    let _lock = store.lock(new, std::time::Duration::from_secs(30))?;
    let r = c.read_spec().and_then(|spec| {
        store
            .with_rootfs_mounted(new, &|root| {
                hako_runtime::hooks::clone_hooks(&spec, src, root, args).map_err(|e| e.to_string())
            })
            .map_err(Error::from)
    });
    let Err(e) = r else { return Ok(()) };
    match store.destroy(new) {
        Ok(()) => Err(Error::other(format!(
            "{e}; the copy \"{new}\" was removed again"
        ))),
        Err(d) => Err(Error::other(format!(
            "{e}; and the copy \"{new}\" could not be removed: {d}"
        ))),
    }
}

/// Takes, lists, restores or deletes snapshots. Returns what to print.
pub fn snapshot(ctx: &Context, name: &str, req: &SnapshotRequest) -> Result<SnapshotOutcome> {
    let store = ctx.store();
    Ok(match req {
        SnapshotRequest::Create { comment_file } => {
            let comment = match comment_file {
                // bounded: a FIFO or /dev/zero given to -c is refused, not read forever
                Some(p) => Some(
                    hako_config::read_bounded_text(p, hako_config::read::CONFIG_LIMIT).map_err(
                        |e| {
                            Error::other(format!(
                                "cannot read the comment file {}: {}; pass a readable file to -c",
                                p.display(),
                                e.reason()
                            ))
                        },
                    )?,
                ),
                None => None,
            };
            SnapshotOutcome::Created(store.snapshot(name, comment.as_deref(), &running(ctx))?)
        }
        SnapshotRequest::List { .. } => SnapshotOutcome::List(store.snapshots(name)?),
        SnapshotRequest::Restore { snap, new } => {
            store.restore_snapshot(name, snap, new.as_deref(), &running(ctx))?;
            SnapshotOutcome::Restored {
                snap: snap.clone(),
                into: new.clone().unwrap_or_else(|| name.to_string()),
            }
        }
        SnapshotRequest::Destroy { snap } => {
            store.delete_snapshot(name, snap)?;
            SnapshotOutcome::Deleted(snap.clone())
        }
    })
}

/// What a snapshot request did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotOutcome {
    Created(String),
    List(Vec<SnapshotInfo>),
    Restored { snap: String, into: String },
    Deleted(String),
}

/// `destroy [-f] [-s]`: with `-s` the snapshots go too, but only once the container is
/// known to be stopped (or killed, with `-f`) and nothing else refuses the destroy. A
/// half-made container (a killed create, copy or destroy) is destroyed by name as well.
pub fn destroy(c: &Container, force: bool, with_snapshots: bool) -> Result<()> {
    c.destroy_with(force, with_snapshots)
}

/// The containers of the lxcpath and the half-made ones, sorted (see
/// [`hako_store::Store::list_all`]).
pub fn list_all(ctx: &Context) -> Result<Vec<hako_store::Listed>> {
    Ok(ctx.store().list_all()?)
}

/// The command that removes container `name`, in the face's words.
pub fn destroy_command(flavour: crate::Flavour, name: &str) -> String {
    match flavour {
        crate::Flavour::Hako => format!("hako destroy {name}"),
        crate::Flavour::Lxc => format!("lxc-destroy -n {name}"),
    }
}

/// What `ls` says about a half-made container: what it is and how to remove it, in the
/// face's words.
pub fn partial_note(flavour: crate::Flavour, name: &str, p: &hako_store::Partial) -> String {
    let destroy = destroy_command(flavour, name);
    if p.busy.is_some() {
        format!(
            "{name} is {} ({}); it is listed as PARTIAL until that command has finished",
            p.adjective(),
            p.describe()
        )
    } else if p.operation.as_deref() == Some("destroy") {
        format!(
            "{name} is {} ({}); finish it with \"{destroy}\"",
            p.adjective(),
            p.describe()
        )
    } else {
        format!(
            "{name} is {} ({}); remove it with \"{destroy}\"",
            p.adjective(),
            p.describe()
        )
    }
}

/// The error for a command that needs container `name` when it is not one: "does not
/// exist", or what a half-made one is and how to remove it.
pub fn not_usable(ctx: &Context, name: &str) -> Error {
    if ctx.store().is_partial(name) {
        ctx.store().not_usable(name).into()
    } else {
        Error::NotFound {
            name: name.to_string(),
            lxcpath: ctx.lxcpath.display().to_string(),
        }
    }
}

/// The image cache hako uses (`$HAKO_CACHE`, default /var/cache/hako).
pub fn image_cache() -> ImageCache {
    ImageCache::from_env()
}

pub fn images() -> Result<Vec<ImageInfo>> {
    Ok(image_cache().list()?)
}

/// Removes an image; refused while containers use it (named as seen from `ctx`'s lxcpath).
pub fn remove_image(ctx: &Context, name: &str) -> Result<()> {
    image_cache().remove(name, Some(&ctx.lxcpath))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_names_are_valid_and_distinct() {
        let a = ephemeral_name("web");
        let b = ephemeral_name("web");
        assert!(a.starts_with("web-") && a.len() == 10, "{a}");
        assert_ne!(a, b);
        let long = "x".repeat(64);
        let n = ephemeral_name(&long);
        assert!(n.len() <= 64, "{n}");
        hako_store::validate_name(&n).unwrap();
    }
}
