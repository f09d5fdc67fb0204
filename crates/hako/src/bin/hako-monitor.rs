//! The per-container monitor, as a small executable of its own: `hako start` execs it so a
//! running container costs the host only this program's pages, not the whole CLI's.

// Linked for its native libraries only (build.rs: the static unwinder instead of
// libgcc_s.so); none of its code is used here, so none of it ends up in this binary.
extern crate hako as _;

fn main() {
    std::process::exit(hako_runtime::monitor::exec_main())
}
