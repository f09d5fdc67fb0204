fn main() {
    std::process::exit(hako::cli::main())
}
