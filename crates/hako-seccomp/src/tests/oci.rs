//! OCI filters: the profile they make, their programs run in the interpreter, and every
//! error with its place below linux.seccomp.

use super::*;

fn sc(names: &[&str], action: &str, errno: Option<u32>, args: Vec<OciArg>) -> OciSyscall {
    OciSyscall {
        names: names.iter().map(|s| s.to_string()).collect(),
        action: action.into(),
        errno_ret: errno,
        args,
    }
}

fn arg(index: u64, value: u64, value_two: u64, op: &str) -> OciArg {
    OciArg {
        index,
        value,
        value_two,
        op: op.into(),
    }
}

fn filter(default: &str, arches: &[&str], syscalls: Vec<OciSyscall>) -> OciFilter {
    OciFilter {
        default_action: default.into(),
        architectures: arches.iter().map(|s| s.to_string()).collect(),
        syscalls,
        ..Default::default()
    }
}

fn oci_prog(f: &OciFilter) -> (Program, Vec<Warning>) {
    let p = from_oci(f, "config.json").unwrap_or_else(|e| panic!("{e}"));
    let (prog, w) = compile(&p).unwrap_or_else(|e| panic!("{e}"));
    validate(&prog.insns).unwrap_or_else(|e| panic!("invalid program: {e}"));
    (prog, w)
}

#[test]
fn an_allowlist_with_errno_default() {
    let f = OciFilter {
        default_errno_ret: Some(38),
        ..filter(
            "SCMP_ACT_ERRNO",
            &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            vec![
                sc(
                    &["read", "write", "exit_group"],
                    "SCMP_ACT_ALLOW",
                    None,
                    vec![],
                ),
                sc(&["mount"], "SCMP_ACT_ERRNO", None, vec![]),
                sc(&["kexec_load"], "SCMP_ACT_KILL", None, vec![]),
                sc(&["nosuchcall"], "SCMP_ACT_ALLOW", None, vec![]),
            ],
        )
    };
    let p = from_oci(&f, "config.json").unwrap();
    assert_eq!(p.policy, Policy::Allowlist);
    assert_eq!(p.default_action, Action::Errno(38));
    assert!(p.compat_i386);
    let (prog, w) = oci_prog(&f);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].line, 4, "{}", w[0]);
    assert!(w[0].message.contains("nosuchcall"));
    let r = |arch, nr| run(&prog.insns, &data(arch, nr, &[]));
    assert_eq!(r(X64, nr64("read")), RET_ALLOW);
    assert_eq!(r(X64, nr64("mount")), ERRNO(1));
    assert_eq!(r(X64, nr64("kexec_load")), RET_KILL_PROCESS);
    assert_eq!(r(X64, nr64("chroot")), ERRNO(38));
    assert_eq!(r(X86, nr32("write")), RET_ALLOW);
    assert_eq!(r(X86, nr32("chroot")), ERRNO(38));
}

#[test]
fn i386_is_killed_unless_listed() {
    for arches in [&["SCMP_ARCH_X86_64"][..], &[][..]] {
        let f = filter(
            "SCMP_ACT_ALLOW",
            arches,
            vec![sc(&["mount"], "SCMP_ACT_ERRNO", Some(1), vec![])],
        );
        let p = from_oci(&f, "c").unwrap();
        assert_eq!(p.policy, Policy::Denylist);
        assert!(!p.compat_i386);
        let (prog, _) = oci_prog(&f);
        assert_eq!(run(&prog.insns, &data(X64, nr64("read"), &[])), RET_ALLOW);
        assert_eq!(run(&prog.insns, &data(X64, nr64("mount"), &[])), ERRNO(1));
        assert_eq!(
            run(&prog.insns, &data(X86, nr32("read"), &[])),
            RET_KILL_PROCESS
        );
    }
}

#[test]
fn argument_conditions() {
    let f = filter(
        "SCMP_ACT_ALLOW",
        &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        vec![
            // the same index twice: either value
            sc(
                &["personality"],
                "SCMP_ACT_ERRNO",
                Some(22),
                vec![
                    arg(0, 8, 0, "SCMP_CMP_EQ"),
                    arg(0, 0x20008, 0, "SCMP_CMP_EQ"),
                ],
            ),
            // mask first, then the value; and a second index that must hold too
            sc(
                &["clone"],
                "SCMP_ACT_ERRNO",
                Some(1),
                vec![
                    arg(0, 0x7e020000, 0x10000000, "SCMP_CMP_MASKED_EQ"),
                    arg(1, 5, 0, "SCMP_CMP_GT"),
                ],
            ),
        ],
    );
    let p = from_oci(&f, "c").unwrap();
    assert_eq!(p.rules.len(), 3);
    assert_eq!(p.rules[2].conds[0].op, Op::MaskedEq(0x7e020000));
    assert_eq!(p.rules[2].conds[0].value, 0x10000000);
    let (prog, _) = oci_prog(&f);
    let r = |nr, args: &[u64]| run(&prog.insns, &data(X64, nr, args));
    assert_eq!(r(nr64("personality"), &[8]), ERRNO(22));
    assert_eq!(r(nr64("personality"), &[0x20008]), ERRNO(22));
    assert_eq!(r(nr64("personality"), &[0]), RET_ALLOW);
    assert_eq!(r(nr64("clone"), &[0x10000011, 6]), ERRNO(1));
    assert_eq!(r(nr64("clone"), &[0x10000011, 5]), RET_ALLOW);
    assert_eq!(r(nr64("clone"), &[0x00000011, 6]), RET_ALLOW);
}

#[test]
fn errors_name_the_place_the_cause_and_the_fix() {
    let e = |f: OciFilter| from_oci(&f, "c").unwrap_err().to_string();
    let one = |s: OciSyscall| filter("SCMP_ACT_ALLOW", &[], vec![s]);
    assert_eq!(
        e(one(sc(&["mount"], "SCMP_ACT_NOTIFY", None, vec![]))),
        "linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY (a supervisor in user space answering system calls) is not supported by hako yet; use SCMP_ACT_ERRNO or another action"
    );
    assert_eq!(
        e(OciFilter {
            listener_path: Some("/run/l.sock".into()),
            ..filter("SCMP_ACT_ALLOW", &[], vec![])
        }),
        "linux.seccomp.listenerPath: \"/run/l.sock\": seccomp notifications (a supervisor in user space answering system calls) are not supported by hako yet; remove listenerPath and every SCMP_ACT_NOTIFY"
    );
    assert_eq!(
        e(OciFilter {
            flags: vec!["SECCOMP_FILTER_FLAG_LOG".into()],
            ..filter("SCMP_ACT_ALLOW", &[], vec![])
        }),
        "linux.seccomp.flags: SECCOMP_FILTER_FLAG_LOG: hako installs its filters without flags and cannot honour it yet; remove the flags"
    );
    assert_eq!(
        e(one(sc(&["mount"], "SCMP_ACT_ALLOW", Some(1), vec![]))),
        "linux.seccomp.syscalls[0].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take a return value, not SCMP_ACT_ALLOW; remove it"
    );
    assert_eq!(
        e(one(sc(&["mount"], "SCMP_ACT_ERRNO", Some(5000), vec![]))),
        "linux.seccomp.syscalls[0].errnoRet: 5000 is above 4095, the largest error number a filter can return; use an errno(3) number"
    );
    assert_eq!(
        e(one(sc(&[], "SCMP_ACT_ERRNO", None, vec![]))),
        "linux.seccomp.syscalls[0].names: no system call named; list at least one name (e.g. \"mount\")"
    );
    assert_eq!(
        e(one(sc(&["mount"], "SCMP_ACT_ERRNO", None, vec![arg(6, 0, 0, "SCMP_CMP_EQ")]))),
        "linux.seccomp.syscalls[0].args[0].index: 6 is not an argument index; a system call has arguments 0 to 5"
    );
    assert_eq!(
        e(one(sc(&["mount"], "SCMP_ACT_ERRNO", None, vec![arg(1, 0, 3, "SCMP_CMP_EQ")]))),
        "linux.seccomp.syscalls[0].args[0].valueTwo: only SCMP_CMP_MASKED_EQ takes a second value; remove it"
    );
    assert!(e(filter("SCMP_ACT_FOO", &[], vec![]))
        .starts_with("linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\"; use"));
}
