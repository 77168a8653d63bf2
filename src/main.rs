use clap::Parser;

/// Stack for the worker thread: deep (but bounded) recursion in user
/// programs must end in a diagnostic, never in a stack overflow.
const STACK_BYTES: usize = 512 * 1024 * 1024;

fn main() {
    let cli = rasp::cli::Cli::parse();
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::Builder::new()
        .name("rasp".into())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            // Receive the command only once the thread exists, so that a
            // refused spawn leaves it here for the main thread.
            rx.recv().map(rasp::cli::main_with)
        });
    let code = match worker {
        Ok(handle) => {
            if tx.send(cli).is_err() {
                eprintln!("rasp: internal error: the worker thread is gone");
                std::process::exit(70);
            }
            match handle.join() {
                Ok(Ok(code)) => code,
                Ok(Err(_)) => 70,
                Err(_) => {
                    eprintln!("rasp: internal error (a bug): the worker thread panicked");
                    101
                }
            }
        }
        // No big stack to be had (e.g. strict memory overcommit): run here,
        // with the ordinary stack.
        Err(_) => rasp::cli::main_with(cli),
    };
    std::process::exit(code);
}
