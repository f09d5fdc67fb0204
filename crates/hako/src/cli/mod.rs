//! The command-line front end. It parses and prints; all logic is in the facade.
//!
//! Two faces share one set of actions ([`action::Action`]):
//! - `hako [-P LXCPATH] [-l LEVEL] [-o LOGFILE] [-q] <verb> ...` (clap, hako_face/);
//!   usage errors exit 2, clap's convention;
//! - invoked as `lxc-start`, `lxc-info`, ... it is that LXC 5 tool (lxc_face/): same
//!   flags, output and exit codes (usage errors exit 1), LXC's lxcpath and system files.
//!
//! Parsing ([`parse`]) is a pure function from argv to an [`action::Invocation`] or an
//! [`action::EarlyExit`] (help, version, usage error); [`run::run`] executes it.

pub mod action;
pub mod checkconfig;
pub mod docs;
pub mod format;
pub mod getopt;
pub mod hako_face;
pub mod links;
pub mod logging;
pub mod lxc_face;
pub mod oci_face;
pub mod run;
pub mod storage_cmd;
pub mod sys;
pub mod values;

use std::ffi::OsString;
use std::path::Path;

use action::{EarlyExit, Face, Parsed, Tool};

/// Which face argv[0] asks for: `lxc-<tool>` for the tools hako provides, else hako.
pub fn face_for(argv0: &str) -> Result<Face, EarlyExit> {
    let base = Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(argv0);
    if let Some(tool) = Tool::from_program(base) {
        return Ok(Face::Lxc(tool));
    }
    if base.starts_with("lxc-") {
        let known: Vec<&str> = Tool::ALL.iter().map(|t| t.program()).collect();
        return Err(EarlyExit {
            stdout: String::new(),
            stderr: format!(
                "hako: called as \"{base}\", which is not an LXC tool hako provides ({}); call hako directly or use one of those names\n",
                known.join(", ")
            ),
            code: 1,
        });
    }
    Ok(Face::Hako)
}

/// The OCI face's arguments: called as `hako-oci ARGS` or `hako oci ARGS` (runc's
/// command line, see [`oci_face`]). None: another face.
pub fn oci_args(argv: &[OsString]) -> Option<Vec<String>> {
    let argv0 = argv.first()?.to_string_lossy();
    let base = Path::new(argv0.as_ref())
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    let skip = if base == "hako-oci" {
        1
    } else if argv.get(1).is_some_and(|a| a == "oci") {
        2
    } else {
        return None;
    };
    Some(
        argv.iter()
            .skip(skip)
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    )
}

/// Parses a whole argv (argv[0] included).
pub fn parse(argv: &[OsString]) -> Parsed {
    let argv0 = argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "hako".into());
    let face = face_for(&argv0)?;
    let mut args = Vec::with_capacity(argv.len().saturating_sub(1));
    for a in argv.iter().skip(1) {
        match a.to_str() {
            Some(s) => args.push(s.to_string()),
            None => {
                return Err(EarlyExit::usage_error(
                    face,
                    format!("argument {a:?} is not valid UTF-8; container names, keys and paths must be UTF-8"),
                ))
            }
        }
    }
    match face {
        Face::Hako => hako_face::parse(&args),
        Face::Lxc(tool) => lxc_face::parse(tool, &args),
    }
}

/// The binary's entry point: parse, run, return the exit code.
pub fn main() -> i32 {
    hako_runtime::sys::timing("cli: main");
    // a shell's completion request (cli/docs.rs) answers and exits here
    docs::complete_if_asked();
    let argv: Vec<OsString> = std::env::args_os().collect();
    if let Some(args) = docs::generate_args(&argv) {
        return docs::generate_main(&args);
    }
    if let Some(args) = oci_args(&argv) {
        return oci_face::main(&args);
    }
    let parsed = parse(&argv);
    hako_runtime::sys::timing("cli: parsed");
    match parsed {
        Ok(inv) => run::run(inv),
        Err(early) => {
            sys::print_out(&early.stdout);
            sys::print_err(&early.stderr);
            early.code
        }
    }
}

#[cfg(test)]
mod tests {
    use super::action::Action;
    use super::*;

    fn argv(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn face_from_argv0() {
        assert_eq!(face_for("hako").unwrap(), Face::Hako);
        assert_eq!(face_for("/usr/local/bin/hako").unwrap(), Face::Hako);
        assert_eq!(face_for("./target/debug/hako").unwrap(), Face::Hako);
        assert_eq!(
            face_for("/usr/bin/lxc-start").unwrap(),
            Face::Lxc(Tool::Start)
        );
        assert_eq!(face_for("lxc-ls").unwrap(), Face::Lxc(Tool::Ls));
        assert_eq!(
            face_for("lxc-checkconfig").unwrap(),
            Face::Lxc(Tool::Checkconfig)
        );
        assert_eq!(
            face_for("/usr/bin/lxc-snapshot").unwrap(),
            Face::Lxc(Tool::Snapshot)
        );
        assert_eq!(face_for("/usr/bin/lxc-top").unwrap(), Face::Lxc(Tool::Top));
        assert_eq!(
            face_for("/usr/bin/lxc-device").unwrap(),
            Face::Lxc(Tool::Device)
        );
        let e = face_for("/usr/bin/lxc-snapshotx").unwrap_err();
        assert_eq!(e.code, 1);
        assert!(e.stderr.contains("lxc-snapshotx"));
        for t in Tool::ALL {
            assert_eq!(Tool::from_program(t.program()), Some(t));
        }
    }

    #[test]
    fn dispatch() {
        let i = parse(&argv(&["/usr/bin/lxc-stop", "-n", "web", "-k"])).unwrap();
        assert_eq!(i.face, Face::Lxc(Tool::Stop));
        assert_eq!(i.face.flavour(), crate::Flavour::Lxc);
        assert!(matches!(i.action, Action::Stop { .. }));
        let i = parse(&argv(&["hako", "stop", "web", "-k"])).unwrap();
        assert_eq!(i.face, Face::Hako);
        assert_eq!(i.face.flavour(), crate::Flavour::Hako);
        // the same usage error exits 1 as lxc-*, 2 as hako
        assert_eq!(parse(&argv(&["lxc-stop"])).unwrap_err().code, 1);
        assert_eq!(parse(&argv(&["hako", "stop"])).unwrap_err().code, 2);
    }

    #[test]
    fn non_utf8_argument() {
        use std::os::unix::ffi::OsStringExt;
        let mut v = argv(&["lxc-info", "-n"]);
        v.push(OsString::from_vec(vec![0xff, 0xfe]));
        let e = parse(&v).unwrap_err();
        assert_eq!(e.code, 1);
        assert!(e.stderr.starts_with("lxc-info: argument"));
    }
}
