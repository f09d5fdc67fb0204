//! Who is calling: the real uid (never the environment), its name and groups from the user
//! database, and the checks that the helper runs as it must (setuid root, in the host's user
//! namespace).

use std::ffi::CString;

use nix::unistd::{geteuid, getgid, getgrouplist, getuid, Group, User};

use crate::Fail;

pub struct Caller {
    pub uid: u32,
    pub name: String,
    pub groups: Vec<String>,
}

impl Caller {
    /// `user "alice" (uid 1000)`, for messages.
    pub fn who(&self) -> String {
        format!("user \"{}\" (uid {})", self.name, self.uid)
    }
}

pub fn identify() -> Result<Caller, Fail> {
    let uid = getuid().as_raw();
    let gid = getgid();
    if !geteuid().is_root() {
        return Err(Fail::new(format!(
            "hako-user-nic runs as uid {} instead of root, so it cannot make network devices; \
             install it setuid root (\"make install\" does; by hand: chown root:root FILE; chmod 4755 FILE) \
             on a file system mounted without nosuid",
            geteuid()
        )));
    }
    // the host's user namespace maps every id to itself; in any other the real uid is not
    // the host's (and a setuid root program is not root there)
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let fields: Vec<&str> = map.split_whitespace().collect();
    if fields != ["0", "0", "4294967295"] {
        return Err(Fail::new(
            "hako-user-nic was called inside a user namespace; call it from the host's \
             (where the container's monitor runs), not from inside a container"
                .into(),
        ));
    }
    let user = User::from_uid(getuid()).ok().flatten().ok_or_else(|| {
        Fail::new(format!(
            "uid {uid} has no name in the user database, and /etc/lxc/lxc-usernet names users; \
                 add the user (useradd) or call as a user that has a name"
        ))
    })?;
    // names go into the allowlist's and the records' whitespace-separated fields
    if user.name.is_empty()
        || user
            .name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(Fail::new(format!(
            "the name {:?} of uid {uid} contains blanks or control characters, which /etc/lxc/lxc-usernet cannot name;              rename the user (usermod -l)",
            user.name
        )));
    }
    let cname = CString::new(user.name.clone()).map_err(|_| {
        Fail::new(format!(
            "the name of uid {uid} contains a NUL byte; fix the user database"
        ))
    })?;
    let gids = getgrouplist(&cname, user.gid).unwrap_or_else(|_| vec![user.gid, gid]);
    let mut groups: Vec<String> = Vec::new();
    for g in gids {
        if let Ok(Some(gr)) = Group::from_gid(g) {
            if !groups.contains(&gr.name) {
                groups.push(gr.name);
            }
        }
    }
    Ok(Caller {
        uid,
        name: user.name,
        groups,
    })
}
