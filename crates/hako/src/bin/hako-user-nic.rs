//! The setuid-root network helper for rootless containers (LXC's lxc-user-nic): its code is
//! the hako-user-nic crate, which depends on nothing but hako-net, hako-read, nix and libc.
//! A binary of its own, never the hako CLI: only this small program is ever setuid.

fn main() {
    std::process::exit(hako_user_nic::main())
}
