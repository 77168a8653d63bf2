//! The printing macros of the crate (`out!`, `outln!`, `errln!`, `err!`):
//! `print!`/`println!` through the checked standard output of
//! [`crate::fsio::stdio`], `eprint!`/`eprintln!` that never panic. Declared
//! at the crate root, before the stages, so every module sees them.

/// `print!` through the checked standard output.
macro_rules! out {
    ($($arg:tt)*) => { $crate::fsio::stdio::out(&format!($($arg)*)) };
}

/// `println!` through the checked standard output.
macro_rules! outln {
    () => { $crate::fsio::stdio::out("\n") };
    ($($arg:tt)*) => {{
        let mut s = format!($($arg)*);
        s.push('\n');
        $crate::fsio::stdio::out(&s)
    }};
}

/// `eprintln!` that never panics.
macro_rules! errln {
    () => { $crate::fsio::stdio::err_line("") };
    ($($arg:tt)*) => { $crate::fsio::stdio::err_line(&format!($($arg)*)) };
}

/// `eprint!` that never panics.
macro_rules! err {
    ($($arg:tt)*) => { $crate::fsio::stdio::err(&format!($($arg)*)) };
}
