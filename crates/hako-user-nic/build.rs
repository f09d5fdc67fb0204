//! As crates/hako/build.rs: the unwinder (libgcc_eh) linked statically into the binary that
//! uses this crate, so the setuid hako-user-nic maps one shared library fewer (libgcc_s;
//! with panic = "abort" it would only serve backtraces).
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    let static_crt = std::env::var("CARGO_CFG_TARGET_FEATURE")
        .map(|f| f.split(',').any(|x| x == "crt-static"))
        .unwrap_or(false);
    if target.ends_with("-linux-gnu") && !static_crt {
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
