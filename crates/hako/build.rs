//! Link the unwinder (libgcc_eh) statically, so the binaries do not map libgcc_s.so at run
//! time: with panic = "abort" it is only there for backtraces, and in the resident
//! hako-monitor its ~100 KiB of mapped pages were a tenth of what a running container's
//! monitor costs the host (bench/: Pss). `gcc -static-libgcc` does the same for C programs.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    let static_crt = std::env::var("CARGO_CFG_TARGET_FEATURE")
        .map(|f| f.split(',').any(|x| x == "crt-static"))
        .unwrap_or(false);
    // a crt-static build links libgcc_eh already
    if target.ends_with("-linux-gnu") && !static_crt {
        println!("cargo:rustc-link-lib=static:-bundle=gcc_eh");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
