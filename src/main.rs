// mimalloc: compiling and verifying hundreds of specs is allocation-bound (many small strings
// and vectors); glibc malloc spent about a quarter of `rmmc check` on the imported corpus.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(rmmc::cli::main());
}
