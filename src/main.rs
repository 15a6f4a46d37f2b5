fn main() {
    std::process::exit(rmmc::cli::main());
}
