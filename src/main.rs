//! The `rasp` binary: the command line (`rasp --help`).

fn main() {
    std::process::exit(rasp::cli_main());
}
