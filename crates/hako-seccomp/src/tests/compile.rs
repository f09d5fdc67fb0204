//! The tables and the compiler: programs run in the interpreter and checked against the
//! reference.

use super::*;

#[test]
fn syscall_tables_are_sorted_and_right() {
    for t in [tables::X86_64, tables::I386] {
        assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "table not sorted");
    }
    // a few numbers every x86 Linux has had for years
    assert_eq!(nr64("read"), 0);
    assert_eq!(nr64("ioctl"), 16);
    assert_eq!(nr64("getpid"), 39);
    assert_eq!(nr64("keyctl"), 250);
    assert_eq!(nr64("open_by_handle_at"), 304);
    assert_eq!(nr64("fsopen"), 430);
    assert_eq!(nr64("open_tree_attr"), 467);
    assert_eq!(nr32("getpid"), 20);
    assert_eq!(nr32("ioctl"), 54);
    assert_eq!(nr32("keyctl"), 288);
    assert_eq!(nr32("socketcall"), 102);
    assert_eq!(nr32("open_tree_attr"), 467);
    assert_eq!(syscall_number(Arch::I386, "arch_prctl"), Some(384));
    assert_eq!(syscall_number(Arch::X86_64, "socketcall"), None);
    assert_eq!(syscall_number(Arch::I386, "kexec_file_load"), None);
}

// ---------------------------------------------------------------------------------------
// The compiler

#[test]
fn builtin_profile_refuses_what_it_says_on_both_abis() {
    let (p, w) = prog(builtin::PROFILE);
    assert!(w.is_empty(), "the built-in profile warns: {w:?}");
    let eperm = ERRNO(1);
    let enosys = ERRNO(38);
    let cases64: &[(&str, &[u64], u32)] = &[
        ("getpid", &[], RET_ALLOW),
        ("read", &[0, 0, 0], RET_ALLOW),
        ("mount", &[], RET_ALLOW),
        ("seccomp", &[], RET_ALLOW),
        ("mount_setattr", &[], RET_ALLOW),
        ("kexec_load", &[], eperm),
        ("kexec_file_load", &[], eperm),
        ("init_module", &[], eperm),
        ("finit_module", &[], eperm),
        ("delete_module", &[], eperm),
        ("open_by_handle_at", &[], eperm),
        ("keyctl", &[], enosys),
        ("add_key", &[], enosys),
        ("request_key", &[], enosys),
        ("bpf", &[], eperm),
        ("perf_event_open", &[], eperm),
        ("syslog", &[], eperm),
        ("quotactl", &[], eperm),
        ("swapon", &[], eperm),
        ("lookup_dcookie", &[], eperm),
        ("fsopen", &[], enosys),
        ("fsconfig", &[], enosys),
        ("fsmount", &[], enosys),
        ("fspick", &[], enosys),
        ("open_tree", &[], enosys),
        ("open_tree_attr", &[], enosys),
        ("move_mount", &[], enosys),
        // TIOCSTI / TIOCLINUX, also with junk in the high half the kernel ignores
        ("ioctl", &[0, 0x5412], eperm),
        ("ioctl", &[7, 0x1_0000_5412], eperm),
        ("ioctl", &[7, 0xffff_ffff_0000_5412], eperm),
        ("ioctl", &[0, 0x541c], eperm),
        ("ioctl", &[0, 0x5413], RET_ALLOW),
        ("ioctl", &[0, 0x5401], RET_ALLOW),
        ("ioctl", &[0x5412, 0], RET_ALLOW),
        // umount2: MNT_FORCE refused (EACCES), MNT_DETACH allowed
        ("umount2", &[0, 0], RET_ALLOW),
        ("umount2", &[0, 2], RET_ALLOW),
        ("umount2", &[0, 1], ERRNO(13)),
        ("umount2", &[0, 3], ERRNO(13)),
        ("umount2", &[0, 0x1_0000_0001], ERRNO(13)),
    ];
    for (name, args, want) in cases64 {
        let got = run(&p.insns, &data(X64, nr64(name), args));
        assert_eq!(got, *want, "x86_64 {name} {args:x?}: {got:#x}");
    }
    let cases32: &[(&str, &[u64], u32)] = &[
        ("getpid", &[], RET_ALLOW),
        ("socketcall", &[1], RET_ALLOW),
        ("kexec_load", &[], eperm),
        ("init_module", &[], eperm),
        ("finit_module", &[], eperm),
        ("delete_module", &[], eperm),
        ("open_by_handle_at", &[], eperm),
        ("keyctl", &[], enosys),
        ("add_key", &[], enosys),
        ("request_key", &[], enosys),
        ("bpf", &[], eperm),
        ("perf_event_open", &[], eperm),
        ("syslog", &[], eperm),
        ("fsopen", &[], enosys),
        ("move_mount", &[], enosys),
        ("ioctl", &[0, 0x5412], eperm),
        ("ioctl", &[0, 0x1_0000_5412], eperm),
        ("ioctl", &[0, 0x541c], eperm),
        ("ioctl", &[0, 0x5401], RET_ALLOW),
        ("umount2", &[0, 1], ERRNO(13)),
        ("umount2", &[0, 2], RET_ALLOW),
        ("umount", &[0], RET_ALLOW),
    ];
    for (name, args, want) in cases32 {
        let got = run(&p.insns, &data(X86, nr32(name), args));
        assert_eq!(got, *want, "i386 {name} {args:x?}: {got:#x}");
    }
    // i386 keyctl is 288, which is accept4 on x86_64 and must stay allowed there
    assert_eq!(run(&p.insns, &data(X64, 288, &[])), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X86, nr64("keyctl"), &[])), RET_ALLOW); // 250: i386 fadvise64
                                                                           // x32 numbers: ENOSYS, also for the x32 form of a refused call
    for nr in [0, 39, 250, 304, 512, 0x3fff_ffff, u32::MAX] {
        let got = run(&p.insns, &data(X64, X32_SYSCALL_BIT | nr, &[]));
        assert_eq!(got, enosys, "x32 {nr:#x}");
    }
    // numbers past the table
    assert_eq!(run(&p.insns, &data(X64, 1000, &[])), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X86, 100_000, &[])), RET_ALLOW);
    // another ABI: kill
    for arch in [0, 0x4000_0028, 0xc000_00b7, X64 + 1, X86 | 0x8000_0000] {
        assert_eq!(run(&p.insns, &data(arch, 39, &[])), RET_KILL_PROCESS);
    }
    // it is small
    assert!(p.insns.len() < 150, "{} instructions", p.insns.len());
}

#[test]
fn allowlists_allow_what_they_list_only() {
    let (p, w) = prog("2\nallowlist errno 1\nread\nwrite\nexit_group\n[x86]\nsocketcall\n");
    assert!(w.is_empty(), "{w:?}");
    let ok = |arch, nr| run(&p.insns, &data(arch, nr, &[]));
    assert_eq!(ok(X64, nr64("read")), RET_ALLOW);
    assert_eq!(ok(X64, nr64("write")), RET_ALLOW);
    assert_eq!(ok(X64, nr64("exit_group")), RET_ALLOW);
    assert_eq!(ok(X64, nr64("getpid")), ERRNO(1));
    assert_eq!(ok(X64, nr64("open")), ERRNO(1));
    assert_eq!(ok(X86, nr32("read")), RET_ALLOW);
    assert_eq!(ok(X86, nr32("socketcall")), RET_ALLOW);
    assert_eq!(ok(X86, nr32("getpid")), ERRNO(1));
    // x32 gets the default action, never the allowance of a listed number
    assert_eq!(ok(X64, X32_SYSCALL_BIT), ERRNO(1));
    assert_eq!(ok(X64, X32_SYSCALL_BIT | 1), ERRNO(1));
    // without a default action: kill
    let (k, _) = prog("2\nallowlist\nread\n");
    assert_eq!(run(&k.insns, &data(X64, 1, &[])), RET_KILL_PROCESS);
    assert_eq!(run(&k.insns, &data(X64, 0, &[])), RET_ALLOW);
}

#[test]
fn version_1_allows_native_numbers_and_kills_the_rest() {
    let (p, w) = prog("1\nallowlist\n0\n1\n60\n231\n");
    assert!(w.is_empty());
    for nr in [0, 1, 60, 231] {
        assert_eq!(run(&p.insns, &data(X64, nr, &[])), RET_ALLOW, "{nr}");
    }
    for nr in [2, 59, 61, 230, 232, 400] {
        assert_eq!(run(&p.insns, &data(X64, nr, &[])), RET_KILL_PROCESS, "{nr}");
    }
    // the numbers are x86_64's: i386 and x32 calls are not listed
    for nr in [0, 1, 60] {
        assert_eq!(run(&p.insns, &data(X86, nr, &[])), RET_KILL_PROCESS);
        assert_eq!(
            run(&p.insns, &data(X64, X32_SYSCALL_BIT | nr, &[])),
            RET_KILL_PROCESS
        );
    }
}

#[test]
fn rules_of_one_call_are_tried_in_order() {
    let (p, _) = prog(
        "2\ndenylist\n\
         ioctl allow [1,0x5401,==]\n\
         ioctl errno 5 [0,3,==]\n\
         ioctl errno 6\n\
         ioctl errno 7\n",
    );
    let io = |a: &[u64]| run(&p.insns, &data(X64, nr64("ioctl"), a));
    assert_eq!(io(&[3, 0x5401]), RET_ALLOW);
    assert_eq!(io(&[3, 0x5402]), ERRNO(5));
    assert_eq!(io(&[4, 0x5402]), ERRNO(6));
    // denylist default for other calls, the rule default (kill) for a bare name
    let (q, _) = prog("2\ndenylist\nmknod\n");
    assert_eq!(
        run(&q.insns, &data(X64, nr64("mknod"), &[])),
        RET_KILL_PROCESS
    );
    assert_eq!(run(&q.insns, &data(X64, nr64("mknodat"), &[])), RET_ALLOW);
}

#[test]
fn sections_pick_the_abi() {
    let (p, w) = prog(
        "2\ndenylist\n[x86_64]\nmount errno 1\n[x86]\numount2 errno 2\n[all]\nchroot errno 3\n\
         [x32]\nread errno 4\nwrite errno 4\n[s390x]\nnot_here errno 5\n",
    );
    let d = |arch, name: &str| {
        let nr = if arch == X64 { nr64(name) } else { nr32(name) };
        run(&p.insns, &data(arch, nr, &[]))
    };
    assert_eq!(d(X64, "mount"), ERRNO(1));
    assert_eq!(d(X86, "mount"), RET_ALLOW);
    assert_eq!(d(X64, "umount2"), RET_ALLOW);
    assert_eq!(d(X86, "umount2"), ERRNO(2));
    assert_eq!(d(X64, "chroot"), ERRNO(3));
    assert_eq!(d(X86, "chroot"), ERRNO(3));
    assert_eq!(d(X64, "read"), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X64, X32_SYSCALL_BIT, &[])), ERRNO(38));
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].line, 10);
    assert!(
        w[0].message
            .contains("[x32] rules (2 of them) are not used"),
        "{}",
        w[0]
    );
}

#[test]
fn unknown_names_warn_and_are_skipped() {
    let (p, w) = prog(
        "2\ndenylist\nopen_by_handle_att errno 1\nkexec_load errno 1\n[x86_64]\nsocketcall errno 1\n\
         [x86]\nkexec_file_load errno 1\n",
    );
    let shown: Vec<String> = w.iter().map(|w| w.to_string()).collect();
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(
        shown[0].starts_with(
            "test.seccomp:3: unknown system call \"open_by_handle_att\" skipped (it is not denied)"
        ),
        "{shown:?}"
    );
    assert!(
        shown[1].contains(":6: \"socketcall\" does not exist on x86_64"),
        "{shown:?}"
    );
    assert!(
        shown[2].contains(":8: \"kexec_file_load\" does not exist on i386"),
        "{shown:?}"
    );
    assert_eq!(run(&p.insns, &data(X64, nr64("kexec_load"), &[])), ERRNO(1));
    let (_, w) = prog("2\nallowlist\nnosuchcall\n");
    assert!(w[0].message.contains("it is not allowed"), "{w:?}");
}

#[test]
fn argument_conditions_compare_64_bits_natively_and_32_on_i386() {
    let ops = [
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        ("<=", Op::Le),
        (">", Op::Gt),
        (">=", Op::Ge),
    ];
    let mut r = Rng(7);
    for v in INTERESTING
        .iter()
        .chain([0x1_0000_0001, 0x2_ffff_ffff].iter())
    {
        for (sym, _) in ops {
            let text = format!("2\ndenylist\npersonality errno 9 [2,{v:#x},{sym}]\n");
            let profile = parse(&text, "t").unwrap();
            let (p, _) = prog(&text);
            for arch in [X64, X86] {
                let nr = if arch == X64 {
                    nr64("personality")
                } else {
                    nr32("personality")
                };
                let mut args: Vec<u64> = INTERESTING
                    .iter()
                    .flat_map(|x| [*x, x.wrapping_add(1), x.wrapping_sub(1)])
                    .collect();
                args.extend([v.wrapping_add(1), v.wrapping_sub(1), *v, v ^ (1 << 32)]);
                args.extend((0..20).map(|_| r.next()));
                for a in args {
                    let d = data(arch, nr, &[0, 0, a]);
                    assert_eq!(
                        run(&p.insns, &d),
                        reference(&profile, &d),
                        "{sym} {v:#x} on {arch:#x} with {a:#x}"
                    );
                }
            }
        }
    }
    // spot checks of the two widths
    let (p, _) = prog("2\ndenylist\npersonality errno 9 [0,0xffffffff,==]\n");
    let per64 = nr64("personality");
    let per32 = nr32("personality");
    assert_eq!(run(&p.insns, &data(X64, per64, &[0xffff_ffff])), ERRNO(9));
    assert_eq!(run(&p.insns, &data(X64, per64, &[u64::MAX])), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X86, per32, &[0xffff_ffff])), ERRNO(9));
    // i386: the high half of a value is cut, so -1 is 0xffffffff there
    let (p, _) = prog("2\ndenylist\npersonality errno 9 [0,-1,==]\n");
    assert_eq!(run(&p.insns, &data(X86, per32, &[0xffff_ffff])), ERRNO(9));
    assert_eq!(run(&p.insns, &data(X64, per64, &[0xffff_ffff])), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X64, per64, &[u64::MAX])), ERRNO(9));
}

#[test]
fn masked_conditions_fold_constants() {
    // bits of the value outside the mask: never true; a zero mask with value 0: always
    let (p, _) = prog(
        "2\ndenylist\nread errno 1 [0,3,SCMP_CMP_MASKED_EQ,1]\nwrite errno 2 [0,0,SCMP_CMP_MASKED_EQ,0]\n\
         close errno 3 [0,0x100000000,SCMP_CMP_MASKED_EQ,0xffffffff00000000]\n",
    );
    for a in [0u64, 1, 3, u64::MAX] {
        assert_eq!(run(&p.insns, &data(X64, nr64("read"), &[a])), RET_ALLOW);
        assert_eq!(run(&p.insns, &data(X64, nr64("write"), &[a])), ERRNO(2));
        assert_eq!(run(&p.insns, &data(X86, nr32("write"), &[a])), ERRNO(2));
    }
    let close = |arch, nr, a| run(&p.insns, &data(arch, nr, &[a]));
    assert_eq!(close(X64, nr64("close"), 0x1_0000_0000), ERRNO(3));
    assert_eq!(close(X64, nr64("close"), 0x1_1234_5678), ERRNO(3));
    assert_eq!(close(X64, nr64("close"), 0x2_0000_0000), RET_ALLOW);
    assert_eq!(close(X64, nr64("close"), 5), RET_ALLOW);
    // on i386 value and mask are cut to their low words: (a & 0) == 0, always true
    assert_eq!(close(X86, nr32("close"), 5), ERRNO(3));
}

#[test]
fn i386_multiplexed_socket_and_ipc_calls_are_covered() {
    let (p, w) = prog("2\ndenylist\nsocket errno 97\nsemop errno 22\nshmget errno 12\n");
    assert!(w.is_empty(), "{w:?}");
    let sc = nr32("socketcall");
    let ipc = nr32("ipc");
    let d = |nr, a: &[u64]| run(&p.insns, &data(X86, nr, a));
    assert_eq!(d(nr32("socket"), &[]), ERRNO(97));
    assert_eq!(d(sc, &[1]), ERRNO(97));
    assert_eq!(d(sc, &[2]), RET_ALLOW);
    assert_eq!(d(sc, &[0x1_0000_0001]), ERRNO(97));
    // ipc's call is the low 16 bits; the high ones carry a version
    assert_eq!(d(ipc, &[1]), ERRNO(22));
    assert_eq!(d(ipc, &[0x1_0001]), ERRNO(22));
    assert_eq!(d(ipc, &[23]), ERRNO(12));
    assert_eq!(d(ipc, &[2]), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X64, nr64("socket"), &[])), ERRNO(97));
    // with argument conditions: a refusal covers the whole multiplexed call (stricter) ...
    let (p, w) = prog("2\ndenylist\nsocket errno 97 [0,16,==]\n");
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(run(&p.insns, &data(X86, nr32("socket"), &[2])), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X86, nr32("socket"), &[16])), ERRNO(97));
    assert_eq!(run(&p.insns, &data(X86, sc, &[1])), ERRNO(97));
    // ... and a permission none of it, with a warning
    let (p, w) = prog("2\nallowlist errno 1\nsocket [0,1,==]\nsocketcall [0,3,==]\n");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].message.contains("through socketcall(2)"), "{w:?}");
    assert_eq!(run(&p.insns, &data(X86, nr32("socket"), &[1])), RET_ALLOW);
    assert_eq!(run(&p.insns, &data(X86, sc, &[1])), ERRNO(1));
    assert_eq!(run(&p.insns, &data(X86, sc, &[3])), RET_ALLOW);
}

#[test]
fn random_profiles_match_the_reference() {
    let mut r = Rng(0x5eed_cafe_f00d_1234);
    for round in 0..300 {
        let n = 1 + r.below(25);
        let text = random_profile(&mut r, n, 3);
        let profile = parse(&text, "rnd").unwrap_or_else(|e| panic!("{e}\n{text}"));
        let (p, _) = compile(&profile).unwrap();
        validate(&p.insns).unwrap_or_else(|e| panic!("round {round}: {e}\n{text}"));
        for _ in 0..300 {
            let d = random_data(&mut r, &profile);
            let (got, want) = (run(&p.insns, &d), reference(&profile, &d));
            assert_eq!(
                got, want,
                "round {round}: {d:x?}: program {got:#x}, reference {want:#x}\n{text}"
            );
        }
    }
}

#[test]
fn long_programs_keep_their_jumps_in_range() {
    // many calls with many conditions: the search's jumps to the chains and the chains'
    // jumps to the shared returns cross far more than 255 instructions
    let mut r = Rng(42);
    let names: Vec<&str> = tables::X86_64
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| syscall_number(Arch::I386, n).is_some())
        .take(80)
        .collect();
    let mut text = String::from("2\ndenylist\n");
    for n in &names {
        text.push_str(&format!(
            "{n} errno {} [0,{:#x},>=] [1,{:#x},!=] [2,{:#x},<]\n{n} errno 2 [3,{:#x},SCMP_CMP_MASKED_EQ,{:#x}]\n",
            1 + r.below(100),
            random_value(&mut r),
            random_value(&mut r),
            random_value(&mut r),
            random_value(&mut r) & 0xff00_ff00_ff00_ff00,
            0xff00_ff00_ff00_ff00u64,
        ));
    }
    let profile = parse(&text, "long").unwrap();
    let (p, w) = compile(&profile).unwrap();
    assert!(w.is_empty(), "{w:?}");
    validate(&p.insns).unwrap();
    assert!(p.insns.len() > 2000, "only {} instructions", p.insns.len());
    let far = p
        .insns
        .iter()
        .filter(|i| i.code == JMP_JA && i.k > 255)
        .count();
    assert!(far > 0, "no long jump was needed: the test does not test");
    for _ in 0..20_000 {
        let d = random_data(&mut r, &profile);
        assert_eq!(run(&p.insns, &d), reference(&profile, &d), "{d:x?}");
    }
    // every call of the profile, on both ABIs, with arguments that meet the first rule
    for n in &names {
        for (arch, nr) in [(X64, nr64(n)), (X86, nr32(n))] {
            let d = data(arch, nr, &[u64::MAX, 7, 0, 0]);
            assert_eq!(run(&p.insns, &d), reference(&profile, &d), "{n}");
        }
    }
}

#[test]
fn too_long_a_program_is_refused() {
    let mut text = String::from("2\ndenylist\n");
    for (n, _) in tables::X86_64.iter().take(300) {
        for v in 0..4 {
            text.push_str(&format!("{n} errno 1 [0,{v},==] [1,{v},>] [2,{v},<=]\n"));
        }
    }
    let profile = parse(&text, "/etc/huge.seccomp").unwrap();
    let e = compile(&profile).unwrap_err().to_string();
    assert!(
        e.contains("/etc/huge.seccomp") && e.contains("more than the kernel's limit of 4096"),
        "{e}"
    );
}
