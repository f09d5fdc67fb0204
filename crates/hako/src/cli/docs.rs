//! Man pages and shell completions, generated from the clap definitions the CLI parses
//! with (`hako_face::command`, and `lxc_face::command` built from each lxc-* tool's getopt
//! table), so they cannot drift from what is parsed.
//!
//! - `hako __generate man DIR`: hako(1), a page per verb and verb group (hako-start(1),
//!   hako-network(1), hako-network-create(1), ...) and hako.conf(5) (the config keys, from
//!   hako-config's key table: which hako carries out, which it reads and ignores);
//! - `hako __generate completions DIR [COMPLETER]`: `DIR/bash/NAME`, `DIR/zsh/_NAME`,
//!   `DIR/fish/NAME.fish` for hako and every lxc-* tool: small scripts that ask the binary
//!   (`COMPLETER`, default `hako` on PATH) for the candidates;
//! - `_HAKO_COMPLETE=SHELL hako -- WORDS...` (what those scripts run): clap_complete's
//!   engine over the command named by the first word: verbs, flags, and the container,
//!   network and image names that exist (in the lxcpath given with -P, else the face's
//!   default).
//!
//! `__generate` is not a clap verb, so it is in no man page and no completion.

use std::ffi::OsString;
use std::path::Path;

use clap::Command;
use clap_complete::engine::{ArgValueCandidates, CompletionCandidate};
use clap_complete::env::{EnvCompleter, Shells};

use super::action::{Face, Tool};
use super::{face_for, hako_face, lxc_face};

/// The environment variable the completion scripts set (not clap's default `COMPLETE`,
/// a name a container's environment could well carry).
pub const COMPLETE_VAR: &str = "_HAKO_COMPLETE";

/// Answers a completion request (the scripts' `_HAKO_COMPLETE=SHELL hako -- WORDS`) and
/// exits; returns when the variable is not set.
pub fn complete_if_asked() {
    match std::env::var_os(COMPLETE_VAR) {
        Some(v) if !v.is_empty() && v != "0" => {}
        _ => return,
    }
    clap_complete::CompleteEnv::with_factory(completion_command)
        .var(COMPLETE_VAR)
        .complete();
}

/// The words being completed (after the scripts' `--`), the command's name first.
fn completion_words() -> Vec<String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--") {
        Some(i) => args[i + 1..].to_vec(),
        None => Vec::new(),
    }
}

/// The face the completed command line is for: `lxc-info ...` or `hako ...`.
fn completion_face(words: &[String]) -> Face {
    words
        .first()
        .and_then(|w| face_for(w).ok())
        .unwrap_or(Face::Hako)
}

fn completion_command() -> Command {
    match completion_face(&completion_words()) {
        Face::Lxc(tool) => lxc_face::command(tool),
        Face::Hako => hako_face::command(),
    }
}

/// The lxcpath a command line names with `-P DIR`, `-PDIR`, `--lxcpath DIR` or
/// `--lxcpath=DIR` (the last one wins, as when it is parsed).
fn lxcpath_in(words: &[String]) -> Option<String> {
    let mut found = None;
    let mut it = words.iter().skip(1).peekable();
    while let Some(w) = it.next() {
        if w == "--" {
            break;
        }
        if w == "-P" || w == "--lxcpath" {
            found = it.peek().map(|v| v.to_string());
        } else if let Some(v) = w.strip_prefix("--lxcpath=") {
            found = Some(v.to_string());
        } else if let Some(v) = w.strip_prefix("-P").filter(|v| !v.is_empty()) {
            found = Some(v.to_string());
        }
    }
    found
}

fn candidates(names: impl IntoIterator<Item = String>) -> Vec<CompletionCandidate> {
    names.into_iter().map(CompletionCandidate::new).collect()
}

/// Names of the containers in the completed command line's lxcpath (none when it
/// cannot be read: completion never fails loudly).
fn container_names() -> Vec<CompletionCandidate> {
    let words = completion_words();
    let face = completion_face(&words);
    let lxcpath = lxcpath_in(&words);
    let names = crate::Context::new(face.flavour(), lxcpath.as_deref().map(Path::new))
        .and_then(|ctx| ctx.list())
        .unwrap_or_default();
    candidates(names)
}

fn network_names() -> Vec<CompletionCandidate> {
    let names = crate::network::networks()
        .list()
        .map(|defs| defs.into_iter().map(|d| d.name).collect::<Vec<_>>())
        .unwrap_or_default();
    candidates(names)
}

fn image_names() -> Vec<CompletionCandidate> {
    let names = crate::storage::images()
        .map(|imgs| imgs.into_iter().map(|i| i.name).collect::<Vec<_>>())
        .unwrap_or_default();
    candidates(names)
}

/// For a container name argument (`#[arg(add = ...)]`).
pub fn container_candidates() -> ArgValueCandidates {
    ArgValueCandidates::new(container_names)
}

pub fn network_candidates() -> ArgValueCandidates {
    ArgValueCandidates::new(network_names)
}

pub fn image_candidates() -> ArgValueCandidates {
    ArgValueCandidates::new(image_names)
}

/// `hako __generate ...` (argv without argv[0] and `__generate`); returns the exit code.
pub fn generate_main(args: &[String]) -> i32 {
    let r = match args {
        [what, dir] if what == "man" => man_pages(Path::new(dir)),
        [what, dir] if what == "completions" => completions(Path::new(dir), "hako"),
        [what, dir, completer] if what == "completions" => completions(Path::new(dir), completer),
        _ => Err(
            "usage: hako __generate man DIR | hako __generate completions DIR [COMPLETER]".into(),
        ),
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            super::sys::print_err(&format!("hako __generate: {e}\n"));
            1
        }
    }
}

fn write(path: &Path, text: &[u8]) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| {
        format!(
            "cannot write \"{}\": {e}; check that the directory is writable",
            path.display()
        )
    })
}

fn make_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create directory \"{}\": {e}", dir.display()))
}

const MANUAL: &str = "hako manual";

fn source() -> String {
    format!("hako {}", env!("CARGO_PKG_VERSION"))
}

/// hako(1), a page per verb and verb group (named hako-VERB, hako-GROUP-VERB), hako.conf(5).
pub fn man_pages(dir: &Path) -> Result<(), String> {
    make_dir(dir)?;
    let mut cmd = hako_face::command();
    cmd.build();
    fn page(cmd: &Command, dir: &Path) -> Result<(), String> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            page(sub, dir)?;
        }
        let man = clap_mangen::Man::new(cmd.clone())
            .manual(MANUAL)
            .source(source());
        let mut buf = Vec::new();
        man.render(&mut buf)
            .map_err(|e| format!("cannot render the man page of {}: {e}", cmd.get_name()))?;
        write(&dir.join(man.get_filename()), &buf)
    }
    page(&cmd, dir)?;
    write(&dir.join("hako.conf.5"), conf_page().as_bytes())
}

/// Escapes text for a roff line (a backslash, and a leading dot or quote).
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

/// hako.conf(5): the files, their syntax, and every key hako knows, marked as carried out
/// or read and ignored (from hako-config's key table).
fn conf_page() -> String {
    let mut out = format!(".TH hako.conf 5 \"\" \"{}\" \"{MANUAL}\"\n", source());
    out.push_str(
        ".SH NAME\nhako.conf \\- container configuration files of hako\n\
.SH SYNOPSIS\n\\fILXCPATH\\fR/\\fINAME\\fR/config, /etc/hako/default.conf, /etc/hako/hako.conf\n\
.SH DESCRIPTION\n\
A container's configuration is LXC's: lines of \\fBKEY = VALUE\\fR, comments starting with \\fB#\\fR, \
\\fBlxc.include\\fR for other files, the keys of lxc.container.conf(5). \
\\fBhako create\\fR writes \\fILXCPATH\\fR/\\fINAME\\fR/config from the template and \
\\fB/etc/hako/default.conf\\fR (new containers join the managed network hakobr0; a conffile, \
kept on upgrade). \\fB/etc/hako/hako.conf\\fR holds system settings such as \\fBlxc.lxcpath\\fR \
(default /var/lib/hako).\n\
.PP\nKeys hako does not carry out yet are read, checked and ignored: \\fBhako create\\fR, \
\\fBhako start\\fR and \\fBhako checkconfig\\fR say so once (\\fB\\-q\\fR silences it); \
read\\-only commands (info, ls, attach, wait, console) say so only with \\fB\\-l INFO\\fR. \
An unknown key is an error naming the file and line, with the closest known key.\n\
.PP\n\\fBlxc.net.\\fIN\\fB.*\\fR keys are shown for interface 0; \\fBlxc.cgroup.\\fIKEY\\fR and \
\\fBlxc.cgroup2.\\fIKEY\\fR set the cgroup file \\fIKEY\\fR.\n\
.SH KEYS\n",
    );
    let mut keys = hako_config::known_keys();
    keys.sort();
    keys.dedup();
    for k in keys {
        let mut notes = Vec::new();
        if !hako_config::is_supported(&k) {
            notes.push("read and ignored: not carried out by hako yet");
        }
        if hako_config::is_multi_valued(&k) {
            notes.push("may be given several times; an empty value clears the list");
        }
        out.push_str(&format!(".TP\n\\fB{}\\fR\n", roff(&k)));
        out.push_str(&if notes.is_empty() {
            "carried out by hako.\n".to_string()
        } else {
            format!("{}.\n", roff(&notes.join("; ")))
        });
    }
    out.push_str(
        ".SH SEE ALSO\n\\fBhako\\fR(1), \\fBhako\\-checkconfig\\fR(1), \\fBhako\\-config\\fR(1), \
\\fBlxc.container.conf\\fR(5)\n",
    );
    out
}

/// The completion scripts of hako and every lxc-* tool for bash, zsh and fish.
pub fn completions(dir: &Path, completer: &str) -> Result<(), String> {
    let shells = Shells::builtins();
    let names: Vec<&str> = std::iter::once("hako")
        .chain(Tool::ALL.iter().map(|t| t.program()))
        .collect();
    for (shell, sub, file) in [
        ("bash", "bash", "{}"),
        ("zsh", "zsh", "_{}"),
        ("fish", "fish", "{}.fish"),
    ] {
        let sh: &dyn EnvCompleter = shells
            .completer(shell)
            .ok_or_else(|| format!("clap_complete has no {shell} completer"))?;
        let d = dir.join(sub);
        make_dir(&d)?;
        for name in &names {
            let mut buf = Vec::new();
            sh.write_registration(COMPLETE_VAR, name, name, completer, &mut buf)
                .map_err(|e| format!("cannot write the {shell} completion of {name}: {e}"))?;
            write(&d.join(file.replace("{}", name)), &buf)?;
        }
    }
    Ok(())
}

/// `hako __generate ARGS`: the generator's arguments (only under the hako face).
pub fn generate_args(argv: &[OsString]) -> Option<Vec<String>> {
    let argv0 = argv.first()?.to_string_lossy();
    if face_for(&argv0).ok()? != Face::Hako || argv.get(1)? != "__generate" {
        return None;
    }
    Some(
        argv.iter()
            .skip(2)
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lxcpath_from_the_words() {
        assert_eq!(lxcpath_in(&w(&["hako", "start", ""])), None);
        assert_eq!(
            lxcpath_in(&w(&["hako", "-P", "/a", "start", ""])).as_deref(),
            Some("/a")
        );
        assert_eq!(
            lxcpath_in(&w(&["lxc-info", "-P/b", "-n", ""])).as_deref(),
            Some("/b")
        );
        assert_eq!(
            lxcpath_in(&w(&["hako", "--lxcpath=/c", "info", "--lxcpath", "/d"])).as_deref(),
            Some("/d")
        );
        assert_eq!(lxcpath_in(&w(&["hako", "-P"])), None);
        assert_eq!(
            completion_face(&w(&["/usr/bin/lxc-info", "-n"])),
            Face::Lxc(Tool::Info)
        );
        assert_eq!(completion_face(&w(&["hako", "info"])), Face::Hako);
    }

    #[test]
    fn every_lxc_tool_builds_a_command() {
        for t in Tool::ALL {
            let mut c = lxc_face::command(t);
            c.build();
            assert_eq!(c.get_name(), t.program());
        }
        hako_face::command().debug_assert();
    }

    #[test]
    fn conf_page_lists_keys() {
        let p = conf_page();
        assert!(p.starts_with(".TH hako.conf 5"));
        assert!(p.contains("\\fBlxc.rootfs.path\\fR\ncarried out by hako."));
        assert!(p.contains("\\fBlxc.console.rotate\\fR\nread and ignored"));
    }
}
