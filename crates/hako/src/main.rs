fn main() {
    // a container's monitor re-entering this program (reboot, helpers): not a command line
    if let Some(code) = hako_runtime::monitor::resume_entry() {
        std::process::exit(code)
    }
    let code = hako::cli::main();
    hako_runtime::sys::timing("cli: exit");
    std::process::exit(code)
}
