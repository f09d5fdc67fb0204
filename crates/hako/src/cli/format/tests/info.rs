use super::*;

#[test]
fn info_full_running() {
    let (out, err) = format_info(&running_info(), &InfoRequest::default(), &[], false);
    assert_eq!(
        out,
        "Name:           ref\n\
         State:          RUNNING\n\
         PID:            6498\n\
         IP:             10.0.3.5\n\
         IP:             fd42::5\n\
         CPU use:        0.01 seconds\n\
         BlkIO use:      0 bytes\n\
         Memory use:     664.00 KiB\n\
         KMem use:       372.00 KiB\n\
         Link:           vethAB12\n \
         TX bytes:      1.46 KiB\n \
         RX bytes:      1.91 MiB\n \
         Total bytes:   1.91 MiB\n"
    );
    assert!(err.is_empty());
}

#[test]
fn info_raw_numbers() {
    let req = InfoRequest {
        humanize: false,
        ..Default::default()
    };
    let (out, _) = format_info(&running_info(), &req, &[], true);
    assert!(out.contains("CPU use:        9205300\n"), "{out}");
    assert!(out.contains("Memory use:     679936\n"));
    assert!(out.contains("Pids use:       3\n"));
    assert!(out.contains(" Total bytes:   2001500\n"));
    // labels stay with -H when more than one field is shown
    assert!(out.contains("State:          RUNNING\n"));
}

fn unprivileged_info(name: &str) -> Info {
    let mut i = stopped_info(name);
    i.id_maps = crate::IdMapInfo::from_values(["u 0 1048576 65536", "g 0 1048576 65536"]);
    i.unprivileged = crate::IdMapInfo::unprivileged(&i.id_maps);
    i.privileged = !i.unprivileged;
    i
}

#[test]
fn info_shows_the_id_map() {
    let i = unprivileged_info("web");
    assert!(i.unprivileged);
    let (out, _) = format_info(&i, &InfoRequest::default(), &[], true);
    assert_eq!(
        out,
        "Name:           web\nState:          STOPPED\nPrivileged:     no\nID map:         u 0 1048576 65536, g 0 1048576 65536\n"
    );
    // lxc-info has no such lines
    let (out, _) = format_info(&i, &InfoRequest::default(), &[], false);
    assert!(
        !out.contains("ID map") && !out.contains("Privileged"),
        "{out}"
    );
    let v: serde_json::Value = serde_json::from_str(&info_json(&i)).unwrap();
    assert_eq!(v["unprivileged"], true);
    assert_eq!(v["privileged"], false);
    assert_eq!(v["id_maps"][0]["kind"], "u");
    assert_eq!(v["id_maps"][0]["container"], 0);
    assert_eq!(v["id_maps"][0]["host"], 1048576);
    assert_eq!(v["id_maps"][0]["count"], 65536);
    assert_eq!(v["id_maps"][1]["kind"], "g");
    let v: serde_json::Value = serde_json::from_str(&info_json(&stopped_info("p"))).unwrap();
    assert_eq!(v["id_maps"], serde_json::json!([]));
    assert_eq!(v["unprivileged"], false);
    // ls: the UNPRIVILEGED column (LXC's true/false) and the maps in JSON
    let rows = vec![
        LsRow::from_info(&unprivileged_info("u1")),
        LsRow::from_info(&stopped_info("p1")),
    ];
    assert_eq!(
        ls_table(&rows, &Column::DEFAULT),
        "NAME STATE   AUTOSTART GROUPS IPV4 IPV6 UNPRIVILEGED \n\
         u1   STOPPED 0         -      -    -    true         \n\
         p1   STOPPED 0         -      -    -    false        \n"
    );
    let v: serde_json::Value = serde_json::from_str(&ls_json(&rows)).unwrap();
    assert_eq!(v[0]["unprivileged"], true);
    assert_eq!(v[0]["id_maps"][1]["host"], 1048576);
    assert_eq!(v[1]["unprivileged"], false);
    assert_eq!(v[1]["id_maps"], serde_json::json!([]));
    // a map that keeps host root is not unprivileged
    let m = crate::IdMapInfo::from_values(["u 0 0 65536", "g 0 100000 65536"]);
    assert!(!crate::IdMapInfo::unprivileged(&m));
    assert!(!crate::IdMapInfo::unprivileged(&[]));
}

#[test]
fn info_security_modules() {
    let mut i = stopped_info("web");
    i.lsm.apparmor.status = "not available on this kernel (lxc.apparmor.profile ignored)".into();
    i.lsm.selinux.status = "not active on this kernel".into();
    let (out, _) = format_info(&i, &InfoRequest::default(), &[], true);
    assert_eq!(
        out,
        "Name:           web\nState:          STOPPED\nPrivileged:     yes\nAppArmor:       not available on this kernel (lxc.apparmor.profile ignored)\n"
    );
    // SELinux shows where it is active or configured
    i.lsm.selinux.configured = Some("system_u:system_r:container_t:s0".into());
    i.lsm.selinux.status = "not active on this kernel (lxc.selinux.context ignored)".into();
    let (out, _) = format_info(&i, &InfoRequest::default(), &[], true);
    assert!(
        out.ends_with("SELinux:        not active on this kernel (lxc.selinux.context ignored)\n")
    );
    // not in lxc-info's output, nor in a single field's
    let (out, _) = format_info(&i, &InfoRequest::default(), &[], false);
    assert!(!out.contains("AppArmor"), "{out}");
    let s = InfoRequest {
        state: true,
        ..Default::default()
    };
    assert!(!format_info(&i, &s, &[], true).0.contains("AppArmor"));
    let json = info_json(&i);
    assert!(json.contains("\"apparmor\": {"), "{json}");
    assert!(json.contains("\"available\": false"), "{json}");
    assert!(json.contains("\"selinux\": {"), "{json}");
}

#[test]
fn info_stopped_full() {
    let (out, _) = format_info(&stopped_info("ref"), &InfoRequest::default(), &[], false);
    assert_eq!(out, "Name:           ref\nState:          STOPPED\n");
}

#[test]
fn info_single_fields() {
    let i = running_info();
    let s = InfoRequest {
        state: true,
        ..Default::default()
    };
    assert_eq!(
        format_info(&i, &s, &[], false).0,
        "State:          RUNNING\n"
    );
    let sh = InfoRequest {
        state: true,
        humanize: false,
        ..Default::default()
    };
    assert_eq!(format_info(&i, &sh, &[], false).0, "RUNNING\n");
    let ph = InfoRequest {
        pid: true,
        humanize: false,
        ..Default::default()
    };
    assert_eq!(format_info(&i, &ph, &[], false).0, "6498\n");
    let sp = InfoRequest {
        state: true,
        pid: true,
        humanize: false,
        ..Default::default()
    };
    assert_eq!(
        format_info(&i, &sp, &[], false).0,
        "State:          RUNNING\nPID:            6498\n"
    );
    // pid of a stopped container: nothing
    let p = InfoRequest {
        pid: true,
        ..Default::default()
    };
    assert_eq!(format_info(&stopped_info("x"), &p, &[], false).0, "");
    // -S alone: stats with labels even with -H (it counts 5)
    let sh = InfoRequest {
        stats: true,
        humanize: false,
        ..Default::default()
    };
    let out = format_info(&i, &sh, &[], false).0;
    assert!(out.starts_with("CPU use:        9205300\n"), "{out}");
    assert!(!out.contains("Name:"));
}

#[test]
fn info_config_keys() {
    let i = running_info();
    let req = InfoRequest {
        keys: vec![
            "lxc.uts.name".into(),
            "lxc.bogus".into(),
            "lxc.cap.drop".into(),
            "lxc.environment".into(),
        ],
        ..Default::default()
    };
    let config = vec![
        ("lxc.uts.name".to_string(), Ok(vec!["ref".to_string()])),
        (
            "lxc.bogus".to_string(),
            Err("lxc.bogus invalid".to_string()),
        ),
        ("lxc.cap.drop".to_string(), Ok(vec![])),
        (
            "lxc.environment".to_string(),
            Ok(vec!["A=1".to_string(), "B=2".to_string()]),
        ),
    ];
    let (out, err) = format_info(&i, &req, &config, false);
    assert_eq!(
        out,
        "lxc.uts.name = ref\nlxc.cap.drop =\nlxc.environment = A=1\nlxc.environment = B=2\n"
    );
    assert_eq!(err, "lxc.bogus invalid\n");
    let req = InfoRequest {
        keys: vec!["lxc.uts.name".into()],
        humanize: false,
        ..Default::default()
    };
    let (out, _) = format_info(&i, &req, &config[..1], false);
    assert_eq!(out, "ref\n");
}

#[test]
fn info_json_has_fields() {
    let v: serde_json::Value = serde_json::from_str(&info_json(&running_info())).unwrap();
    assert_eq!(v["name"], "ref");
    assert_eq!(v["state"], "RUNNING");
    assert_eq!(v["pid"], 6498);
    assert_eq!(v["memory_bytes"], 679936);
    assert_eq!(v["interfaces"][0]["link"], "vethAB12");
}
