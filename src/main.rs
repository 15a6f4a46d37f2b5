// glibc's malloc was a quarter of compiling the corpus (many small strings, freed across
// threads); mimalloc serves the same pattern in far fewer instructions.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(rmmc::cli::main());
}
