use clap::Parser;

/// Stack for the worker thread: deep (but bounded) recursion in user
/// programs must end in a diagnostic, never in a stack overflow.
const STACK_BYTES: usize = 512 * 1024 * 1024;

fn main() {
    let cli = rasp::cli::Cli::parse();
    let worker = std::thread::Builder::new()
        .name("rasp".into())
        .stack_size(STACK_BYTES)
        .spawn(move || rasp::cli::main_with(cli));
    let code = match worker.map(|h| h.join()) {
        Ok(Ok(code)) => code,
        Ok(Err(_)) => {
            eprintln!("rasp: internal error (a bug): the worker thread panicked");
            101
        }
        Err(e) => {
            eprintln!("rasp: could not start the worker thread: {e}");
            70
        }
    };
    std::process::exit(code);
}
