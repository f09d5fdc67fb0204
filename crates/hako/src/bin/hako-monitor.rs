//! The per-container monitor, as a small executable of its own: `hako start` execs it so a
//! running container costs the host only this program's pages, not the whole CLI's.
fn main() {
    std::process::exit(hako_runtime::monitor::exec_main())
}
