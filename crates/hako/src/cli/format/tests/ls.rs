use super::*;

#[test]
fn names_in_columns() {
    let names: Vec<String> = ["ref", "a", "web1"].iter().map(|s| s.to_string()).collect();
    // no terminal: one per line, padded to the width (4), as lxc-ls prints "ref \n"
    assert_eq!(ls_names(&names, false, 0), "ref \na   \nweb1\n");
    // a wide terminal: all on one line, separated by one space after padding
    assert_eq!(ls_names(&names, false, 80), "ref  a    web1 \n");
    // width 10: 4+1+4 = 9, then 9+4 >= 10 wraps
    assert_eq!(ls_names(&names, false, 10), "ref  a   \nweb1 \n");
    assert_eq!(ls_names(&names, true, 80), "ref\na\nweb1\n");
    let long: Vec<String> = vec!["container-one".into(), "b".into()];
    assert_eq!(ls_names(&long, false, 80), "container-one b             \n");
    assert_eq!(ls_names(&[], false, 80), "");
}

#[test]
fn fancy_table_like_lxc() {
    let rows = vec![LsRow::from_info(&stopped_info("ref"))];
    assert_eq!(
        ls_table(&rows, &Column::DEFAULT),
        "NAME STATE   AUTOSTART GROUPS IPV4 IPV6 UNPRIVILEGED \n\
         ref  STOPPED 0         -      -    -    false        \n"
    );
    let mut r = running_info();
    r.name = "web".into();
    r.groups = vec!["prod".into(), "db".into()];
    r.autostart = true;
    let rows = vec![
        LsRow::from_info(&r),
        LsRow::from_info(&stopped_info("a-longer-name")),
    ];
    assert_eq!(
        ls_table(&rows, &Column::DEFAULT),
        "NAME          STATE   AUTOSTART GROUPS   IPV4     IPV6    UNPRIVILEGED \n\
         web           RUNNING 1         prod, db 10.0.3.5 fd42::5 false        \n\
         a-longer-name STOPPED 0         -        -        -       false        \n"
    );
    assert_eq!(ls_table(&[], &Column::DEFAULT), "");
}

#[test]
fn fancy_format_columns() {
    let mut r = running_info();
    r.memory_bytes = Some(681_574); // 0.65 MB
    r.interfaces[0].name = "lo".into();
    let rows = vec![LsRow::from_info(&r), LsRow::from_info(&stopped_info("b"))];
    let cols = [
        Column::Name,
        Column::Pid,
        Column::Ram,
        Column::Swap,
        Column::Interface,
        Column::State,
    ];
    assert_eq!(
        ls_table(&rows, &cols),
        "NAME PID  RAM    SWAP   INTERFACE STATE   \n\
         ref  6498 0.65MB 0.00MB lo        RUNNING \n\
         b    -    -      -      -         STOPPED \n"
    );
}

#[test]
fn ls_json_objects() {
    let rows = vec![LsRow::from_info(&running_info())];
    let v: serde_json::Value = serde_json::from_str(&ls_json(&rows)).unwrap();
    assert_eq!(v[0]["name"], "ref");
    assert_eq!(v[0]["state"], "RUNNING");
    assert_eq!(v[0]["ipv4"][0], "10.0.3.5");
    assert_eq!(v[0]["ipv6"][0], "fd42::5");
    assert_eq!(v[0]["autostart"], false);
    assert_eq!(v[0]["unprivileged"], false);
    assert!(v[0].get("partial").is_none());
    assert_eq!(ls_json(&[]), "[]\n");
}

#[test]
fn half_made_containers_are_partial_rows() {
    let p = hako_store::Partial {
        operation: Some("create".into()),
        busy: None,
    };
    let rows = vec![
        LsRow::from_info(&stopped_info("b")),
        LsRow::partial("half", &p, "hako destroy half".into()),
    ];
    assert_eq!(
        ls_table(&rows, &[Column::Name, Column::State, Column::Ipv4]),
        "NAME STATE   IPV4 \n\
         b    STOPPED -    \n\
         half PARTIAL -    \n"
    );
    let v: serde_json::Value = serde_json::from_str(&ls_json(&rows)).unwrap();
    assert_eq!(v[1]["state"], "PARTIAL");
    assert_eq!(v[1]["partial"]["operation"], "create");
    assert_eq!(v[1]["partial"]["in_progress"], false);
    assert_eq!(v[1]["partial"]["fix"], "hako destroy half");
    assert_eq!(v[0]["state"], "STOPPED");
}
