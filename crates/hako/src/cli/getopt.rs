//! A GNU `getopt_long` work-alike, so the `lxc-*` face parses exactly as LXC's tools do:
//! bundled short options (`-sp`), attached values (`-nweb`, `--name=web`), separate
//! values (`-n web`, `--name web`), unambiguous long-option prefixes (`--na web`),
//! optional values only when attached (`-eCAP`, `--elevated-privileges=CAP`), operands
//! mixed with options (permutation), and `--` ending the options.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HasArg {
    No,
    Required,
    Optional,
}

/// One option: a short letter and/or a long name, and an id the caller matches on.
#[derive(Clone, Copy, Debug)]
pub struct Opt {
    pub short: Option<char>,
    pub long: Option<&'static str>,
    pub has_arg: HasArg,
    pub id: &'static str,
}

impl Opt {
    pub const fn flag(short: char, long: &'static str, id: &'static str) -> Opt {
        Opt {
            short: Some(short),
            long: Some(long),
            has_arg: HasArg::No,
            id,
        }
    }
    pub const fn value(short: char, long: &'static str, id: &'static str) -> Opt {
        Opt {
            short: Some(short),
            long: Some(long),
            has_arg: HasArg::Required,
            id,
        }
    }
    pub const fn long_flag(long: &'static str, id: &'static str) -> Opt {
        Opt {
            short: None,
            long: Some(long),
            has_arg: HasArg::No,
            id,
        }
    }
    pub const fn long_value(long: &'static str, id: &'static str) -> Opt {
        Opt {
            short: None,
            long: Some(long),
            has_arg: HasArg::Required,
            id,
        }
    }
    pub const fn short_flag(short: char, id: &'static str) -> Opt {
        Opt {
            short: Some(short),
            long: None,
            has_arg: HasArg::No,
            id,
        }
    }
}

/// Options in command-line order, and the operands (non-options, then everything after
/// `--`), as GNU getopt leaves them after permuting.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Matches {
    pub opts: Vec<(&'static str, Option<String>)>,
    pub operands: Vec<String>,
}

impl Matches {
    pub fn has(&self, id: &str) -> bool {
        self.opts.iter().any(|(i, _)| *i == id)
    }
    /// The last value given for `id`.
    pub fn last(&self, id: &str) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(i, _)| *i == id)
            .and_then(|(_, v)| v.as_deref())
    }
    /// Every value given for a repeatable option, in order.
    pub fn all(&self, id: &str) -> Vec<&str> {
        self.opts
            .iter()
            .filter(|(i, _)| *i == id)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }
}

/// Parses `args` (without argv[0]). Errors are worded as GNU getopt words them.
pub fn parse(args: &[String], table: &[Opt]) -> Result<Matches, String> {
    let mut m = Matches::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            m.operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            let (name, attached) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            let opt = find_long(table, name)?;
            let value = match opt.has_arg {
                HasArg::No => {
                    if attached.is_some() {
                        return Err(format!(
                            "option '--{}' doesn't allow an argument",
                            opt.long.unwrap_or(name)
                        ));
                    }
                    None
                }
                HasArg::Optional => attached,
                HasArg::Required => match attached {
                    Some(v) => Some(v),
                    None => {
                        if i < args.len() {
                            i += 1;
                            Some(args[i - 1].clone())
                        } else {
                            return Err(format!(
                                "option '--{}' requires an argument",
                                opt.long.unwrap_or(name)
                            ));
                        }
                    }
                },
            };
            m.opts.push((opt.id, value));
            continue;
        }
        if arg.len() > 1 && arg.starts_with('-') {
            let chars: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                j += 1;
                let opt = table
                    .iter()
                    .find(|o| o.short == Some(c))
                    .ok_or_else(|| format!("invalid option -- '{c}'"))?;
                let rest: String = chars[j..].iter().collect();
                match opt.has_arg {
                    HasArg::No => m.opts.push((opt.id, None)),
                    HasArg::Optional => {
                        m.opts.push((opt.id, (!rest.is_empty()).then_some(rest)));
                        break;
                    }
                    HasArg::Required => {
                        let value = if !rest.is_empty() {
                            rest
                        } else if i < args.len() {
                            i += 1;
                            args[i - 1].clone()
                        } else {
                            return Err(format!("option requires an argument -- '{c}'"));
                        };
                        m.opts.push((opt.id, Some(value)));
                        break;
                    }
                }
            }
            continue;
        }
        m.operands.push(arg.clone());
    }
    Ok(m)
}

/// Exact long name, else the unique option whose name starts with `name`.
fn find_long<'a>(table: &'a [Opt], name: &str) -> Result<&'a Opt, String> {
    if let Some(o) = table.iter().find(|o| o.long == Some(name)) {
        return Ok(o);
    }
    let candidates: Vec<&Opt> = if name.is_empty() {
        Vec::new()
    } else {
        table
            .iter()
            .filter(|o| o.long.is_some_and(|l| l.starts_with(name)))
            .collect()
    };
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("unrecognized option '--{name}'")),
        many => {
            // Several names for the same option are not ambiguous.
            if many.iter().all(|o| o.id == many[0].id) {
                Ok(many[0])
            } else {
                let names: Vec<String> = many
                    .iter()
                    .map(|o| format!("'--{}'", o.long.unwrap_or("")))
                    .collect();
                Err(format!(
                    "option '--{name}' is ambiguous; possibilities: {}",
                    names.join(" ")
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &[Opt] = &[
        Opt::value('n', "name", "name"),
        Opt::flag('s', "state", "state"),
        Opt::flag('p', "pid", "pid"),
        Opt::value('t', "timeout", "timeout"),
        Opt {
            short: Some('e'),
            long: Some("elevated-privileges"),
            has_arg: HasArg::Optional,
            id: "e",
        },
        Opt::long_flag("nokill", "nokill"),
        Opt::long_flag("nolock", "nolock"),
    ];

    fn v(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn short_forms() {
        let m = parse(&v(&["-sp", "-nweb", "-t", "5"]), T).unwrap();
        assert_eq!(
            m.opts,
            vec![
                ("state", None),
                ("pid", None),
                ("name", Some("web".into())),
                ("timeout", Some("5".into()))
            ]
        );
        let m = parse(&v(&["-spn", "web"]), T).unwrap();
        assert_eq!(m.last("name"), Some("web"));
        assert!(m.has("state") && m.has("pid"));
    }

    #[test]
    fn long_forms_and_prefixes() {
        let m = parse(&v(&["--name=web", "--time", "3", "--st"]), T).unwrap();
        assert_eq!(m.last("name"), Some("web"));
        assert_eq!(m.last("timeout"), Some("3"));
        assert!(m.has("state"));
        let e = parse(&v(&["--no"]), T).unwrap_err();
        assert!(e.contains("ambiguous"), "{e}");
        let e = parse(&v(&["--bogus"]), T).unwrap_err();
        assert_eq!(e, "unrecognized option '--bogus'");
        let e = parse(&v(&["--state=x"]), T).unwrap_err();
        assert!(e.contains("doesn't allow an argument"), "{e}");
        let e = parse(&v(&["--name"]), T).unwrap_err();
        assert!(e.contains("requires an argument"), "{e}");
        let e = parse(&v(&["-x"]), T).unwrap_err();
        assert_eq!(e, "invalid option -- 'x'");
        let e = parse(&v(&["-n"]), T).unwrap_err();
        assert_eq!(e, "option requires an argument -- 'n'");
    }

    #[test]
    fn optional_values_only_attached() {
        let m = parse(&v(&["-e", "web"]), T).unwrap();
        assert_eq!(m.opts, vec![("e", None)]);
        assert_eq!(m.operands, v(&["web"]));
        let m = parse(&v(&["-eCAP", "--elevated-privileges=LSM"]), T).unwrap();
        assert_eq!(m.all("e"), vec!["CAP", "LSM"]);
    }

    #[test]
    fn permutation_and_double_dash() {
        let m = parse(&v(&["web", "-s", "--", "ls", "-l", "--", "x"]), T).unwrap();
        assert!(m.has("state"));
        assert_eq!(m.operands, v(&["web", "ls", "-l", "--", "x"]));
        let m = parse(&v(&["-", "-s"]), T).unwrap();
        assert_eq!(m.operands, v(&["-"]));
    }

    #[test]
    fn value_may_look_like_option() {
        let m = parse(&v(&["-t", "-1", "-n", "--weird"]), T).unwrap();
        assert_eq!(m.last("timeout"), Some("-1"));
        assert_eq!(m.last("name"), Some("--weird"));
    }
}
