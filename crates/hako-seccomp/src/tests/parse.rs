//! The parser: good profiles, and every error with its line and its fix.

use super::*;

#[test]
fn parses_a_full_version_2_profile() {
    let text = "2\r\n\
        # a comment line\n\
        denylist errno 1   # default: refuse\n\
        \n\
        reject_force_umount  # as LXC's common profile\n\
        mknod\n\
        kexec_load errno 1\n\
        [x86_64]\n\
        ioctl errno 25 [1,0x5412,SCMP_CMP_EQ] [ 0 , 3 , != ]\n\
        [X86]\n\
        personality trap [0,0xff,SCMP_CMP_MASKED_EQ,0xffff]\n\
        [arm64]\n\
        this_is_skipped\n\
        [all]\n\
        getpid allow\n\
        open log\n\
        ptrace trace 3 [2,-1,SCMP_CMP_LT]\n";
    let p = parse(text, "f").unwrap();
    assert_eq!(p.version, 2);
    assert_eq!(p.policy, Policy::Denylist);
    assert_eq!(p.default_action, Action::Errno(1));
    assert_eq!(p.skipped, vec![13]);
    let r = &p.rules;
    assert_eq!(r.len(), 8, "{r:?}");
    assert_eq!(
        (r[0].line, &r[0].syscall, r[0].action),
        (5, &Syscall::Name("umount2".into()), Action::Errno(13))
    );
    assert_eq!(
        r[0].conds,
        vec![ArgCond {
            index: 1,
            op: Op::MaskedEq(MNT_FORCE),
            value: MNT_FORCE
        }]
    );
    // no action in a denylist: LXC kills
    assert_eq!((r[1].line, r[1].action), (6, Action::Kill));
    assert_eq!(r[2].action, Action::Errno(1));
    assert_eq!(r[3].target, Target::X86_64);
    assert_eq!(r[3].action, Action::Errno(25));
    assert_eq!(
        r[3].conds,
        vec![
            ArgCond {
                index: 1,
                op: Op::Eq,
                value: 0x5412
            },
            ArgCond {
                index: 0,
                op: Op::Ne,
                value: 3
            }
        ]
    );
    assert_eq!(r[4].target, Target::I386);
    assert_eq!(r[4].action, Action::Trap);
    assert_eq!(r[4].conds[0].op, Op::MaskedEq(0xffff));
    assert_eq!(r[4].conds[0].value, 0xff);
    assert_eq!((r[5].target, r[5].action), (Target::All, Action::Allow));
    assert_eq!(r[6].action, Action::Log);
    assert_eq!(r[7].action, Action::Trace(3));
    assert_eq!(r[7].conds[0].value, u64::MAX);
    assert_eq!(r[7].conds[0].op, Op::Lt);
}

#[test]
fn parses_policies_and_defaults() {
    let p = parse("1\nallowlist\n0\n1\n60 # exit\n", "v1").unwrap();
    assert_eq!((p.version, p.policy), (1, Policy::Allowlist));
    assert_eq!(p.default_action, Action::Kill);
    let nrs: Vec<_> = p.rules.iter().map(|r| r.syscall.clone()).collect();
    assert_eq!(
        nrs,
        vec![Syscall::Number(0), Syscall::Number(1), Syscall::Number(60)]
    );
    assert!(p.rules.iter().all(|r| r.action == Action::Allow));
    // old names
    assert_eq!(
        parse("1\nwhitelist\n", "x").unwrap().policy,
        Policy::Allowlist
    );
    let b = parse("2\nblacklist\nmknod\n", "x").unwrap();
    assert_eq!(b.policy, Policy::Denylist);
    assert_eq!(b.default_action, Action::Allow);
    let a = parse("2\nwhitelist\nread\n", "x").unwrap();
    assert_eq!(a.default_action, Action::Kill);
    assert_eq!(a.rules[0].action, Action::Allow);
    let e = parse("2\nallowlist errno 38\nread\n", "x").unwrap();
    assert_eq!(e.default_action, Action::Errno(38));
    let t = parse("2\ndenylist trap\n", "x").unwrap();
    assert_eq!(t.default_action, Action::Trap);
    assert!(t.rules.is_empty());
}

#[test]
fn parses_numbers_as_lxc() {
    assert_eq!(parse_u64("42"), Some(42));
    assert_eq!(parse_u64("0x5412"), Some(0x5412));
    assert_eq!(parse_u64("0X10"), Some(16));
    assert_eq!(parse_u64("010"), Some(8));
    assert_eq!(parse_u64("0"), Some(0));
    assert_eq!(parse_u64("-1"), Some(u64::MAX));
    assert_eq!(parse_u64("-9223372036854775808"), Some(1 << 63));
    assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
    for bad in [
        "",
        "x",
        "0x",
        "09",
        "+1",
        "18446744073709551616",
        "-9223372036854775809",
        "1e3",
    ] {
        assert_eq!(parse_u64(bad), None, "{bad}");
    }
}

/// Each bad profile: (text, line of the error, words the message must contain).
#[test]
fn every_parse_error_names_the_line_and_the_fix() {
    let cases: &[(&str, usize, &[&str])] = &[
        ("", 1, &["empty", "version"]),
        ("# only a comment\n\n", 1, &["empty"]),
        ("3\ndenylist\n", 1, &["\"3\"", "1 or 2"]),
        ("two\ndenylist\n", 1, &["not a profile version"]),
        ("2\n", 2, &["missing policy line"]),
        (
            "2\n# c\nmaybelist\n",
            3,
            &["\"maybelist\"", "allowlist or denylist"],
        ),
        ("1\ndenylist\n", 2, &["version 1", "only be an allowlist"]),
        ("2\ndenylist debug\n", 2, &["debug", "not supported"]),
        (
            "1\nallowlist errno 1\n",
            2,
            &["version 1 profile takes no default"],
        ),
        (
            "2\nallowlist maybe\n",
            2,
            &["bad default action", "unknown action \"maybe\""],
        ),
        ("2\nallowlist errno\n", 2, &["errno needs a number"]),
        ("2\nallowlist errno 1 2\n", 2, &["unexpected \"2\""]),
        (
            "2\ndenylist notify\n",
            2,
            &["notify", "not supported by hako yet"],
        ),
        (
            "1\nallowlist\n0\n1\nread\n",
            5,
            &["\"read\" is not a system call number"],
        ),
        ("1\nallowlist\n-1\n", 3, &["not a system call number"]),
        (
            "2\ndenylist\n[sparc]\n",
            3,
            &["unknown architecture section [sparc]", "[x86_64]"],
        ),
        (
            "2\ndenylist\nMount errno 1\n",
            3,
            &["\"Mount\" is not a system call name"],
        ),
        (
            "2\ndenylist\nmount deny\n",
            3,
            &["unknown action \"deny\"", "errno N"],
        ),
        ("2\ndenylist\nmount errno\n", 3, &["errno needs a number"]),
        (
            "2\ndenylist\nmount errno 4096\n",
            3,
            &["\"4096\"", "0..=4095"],
        ),
        ("2\ndenylist\nmount errno -1\n", 3, &["\"-1\"", "0..=4095"]),
        (
            "2\ndenylist\nmount trace 65536\n",
            3,
            &["trace", "0..=65535"],
        ),
        (
            "2\ndenylist\nmount notify\n",
            3,
            &["notify", "not supported by hako yet", "errno N"],
        ),
        (
            "2\ndenylist\nmount errno 1 extra\n",
            3,
            &["unexpected \"extra\""],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2]\n",
            3,
            &["2 fields", "[INDEX,VALUE,OP]"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,==,4,5]\n",
            3,
            &["5 fields"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [6,2,==]\n",
            3,
            &["\"6\" is not an argument index", "0 to 5"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [a,2,==]\n",
            3,
            &["\"a\" is not an argument index"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,zz,==]\n",
            3,
            &["\"zz\" is not a number"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,SCMP_CMP_FOO]\n",
            3,
            &["unknown comparison \"SCMP_CMP_FOO\"", "SCMP_CMP_MASKED_EQ"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,SCMP_CMP_MASKED_EQ]\n",
            3,
            &["needs the mask"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,SCMP_CMP_MASKED_EQ,q]\n",
            3,
            &["\"q\" is not a number"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,SCMP_CMP_EQ,3]\n",
            3,
            &["only SCMP_CMP_MASKED_EQ takes a fourth field"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,SCMP_CMP_EQ\n",
            3,
            &["missing ]"],
        ),
        (
            "2\ndenylist\nioctl errno 1 [1,2,==] junk\n",
            3,
            &["unexpected \"junk\""],
        ),
        (
            "2\ndenylist\nioctl errno 1 [0,1,==][1,1,==][2,1,==][3,1,==][4,1,==][5,1,==][0,2,==]\n",
            3,
            &["more than 6"],
        ),
        (
            "2\ndenylist\nreject_force_umount errno 1\n",
            3,
            &["reject_force_umount takes nothing"],
        ),
        (
            "2\ndenylist\n\n\n# c\nread\n[1,2,==]\n",
            7,
            &["\"\" is not a system call name"],
        ),
    ];
    for (text, line, words) in cases {
        let e = parse(text, "/etc/p.seccomp").expect_err(text);
        assert_eq!(e.line, *line, "line of {text:?}: {e}");
        assert_eq!(e.source, "/etc/p.seccomp");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("/etc/p.seccomp:{line}: ")),
            "{shown}"
        );
        for w in *words {
            assert!(shown.contains(w), "{text:?}: {shown:?} lacks {w:?}");
        }
    }
}

#[test]
fn load_file_reads_regular_files_only() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("p.seccomp");
    std::fs::write(&f, "2\ndenylist\nkexec_load errno 1\n").unwrap();
    let p = load_file(&f).unwrap();
    assert_eq!(p.source, f.display().to_string());
    assert_eq!(p.rules.len(), 1);
    // a parse error names the file and line
    std::fs::write(&f, "2\ndenylist\nkexec_load oops\n").unwrap();
    let e = load_file(&f).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:3: ", f.display())), "{e}");
    // missing, a directory, a FIFO (must not block), too big, not text
    let e = load_file(&d.path().join("nope")).unwrap_err().to_string();
    assert!(
        e.contains("cannot open seccomp profile") && e.ends_with(": no such file or directory"),
        "{e}"
    );
    let e = load_file(d.path()).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let fifo = d.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid path string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let e = load_file(&fifo).unwrap_err().to_string();
    assert!(e.contains("not a regular file"), "{e}");
    let big = d.path().join("big");
    std::fs::write(&big, vec![b'#'; MAX_PROFILE_BYTES as usize + 1]).unwrap();
    let e = load_file(&big).unwrap_err().to_string();
    assert!(e.contains("more than the"), "{e}");
    std::fs::write(&f, b"2\ndenylist\n\xff\xfe\n").unwrap();
    let e = load_file(&f).unwrap_err().to_string();
    assert!(e.contains(":3: not text"), "{e}");
}
