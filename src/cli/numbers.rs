//! Numbers on the command line: every numeric option takes its value
//! through [`at_least_0`] (counts, seeds, limits) or [`at_least_1`]
//! (lengths), which accept a value that starts with `-` and say what the
//! number must be (clap alone answers `-n -5` with "unexpected argument
//! '-5'"); and clap's refusals of such values become
//! `rasp::cli::bad_input` diagnostics ([`parse_args`]).

use clap::error::{ContextKind, ContextValue, ErrorKind};

use super::args::Cli;
use crate::diag::{Color, Diag, Reporter, codes};

/// A whole number, 0 or more (a count, a seed, a limit).
pub fn at_least_0<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    whole(text, 0)
}

/// A whole number, 1 or more (a length).
pub fn at_least_1<T: TryFrom<u64>>(text: &str) -> Result<T, String> {
    whole(text, 1)
}

/// `text` as a whole number of at least `least` that fits `T`; otherwise
/// what it must be.
fn whole<T: TryFrom<u64>>(text: &str, least: u64) -> Result<T, String> {
    let t = text.trim();
    let sign = if least == 0 {
        "non-negative (0 or more)"
    } else {
        "positive (1 or more)"
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = t.strip_prefix('-')
        && (digits(rest) || rest.parse::<f64>().is_ok())
    {
        return Err(format!("must be {sign}, not negative: {t}"));
    }
    if !digits(t.strip_prefix('+').unwrap_or(t)) {
        return Err(format!("must be a whole number, {sign}; got {t:?}"));
    }
    let too_large = || {
        let most = (0..=64)
            .rev()
            .map(|bits| {
                if bits == 64 {
                    u64::MAX
                } else {
                    (1u64 << bits) - 1
                }
            })
            .find(|m| T::try_from(*m).is_ok())
            .unwrap_or(0);
        format!("must be at most {most}; got {t}")
    };
    // Only digits: `parse` fails on overflow alone.
    let n: u64 = t.parse().map_err(|_| too_large())?;
    if n < least {
        return Err(format!("must be {sign}; got {t}"));
    }
    T::try_from(n).map_err(|_| too_large())
}

/// The command line, parsed; a bad value of an option (a negative count, a
/// word for a number) is a `rasp::cli::bad_input` diagnostic (exit status
/// 2, as clap's usage errors); every other clap outcome (help, version,
/// usage errors) as clap prints it.
pub fn parse_args() -> Result<Cli, i32> {
    use clap::Parser;
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match Cli::try_parse_from(&args) {
        Ok(cli) => Ok(cli),
        Err(e) => match value_error(&e, &command_of(&args)) {
            Some(d) => {
                Reporter::new(color_of(&args)).report(&d);
                Err(2)
            }
            None => Err(clap_exit(&e)),
        },
    }
}

/// What clap has to say instead of a command (help, version, a usage
/// error), printed through the checked standard output or on standard
/// error; the exit status.
fn clap_exit(e: &clap::Error) -> i32 {
    use std::io::IsTerminal;
    let styled = e.render();
    if e.use_stderr() {
        let text = if std::io::stderr().is_terminal() {
            styled.ansi().to_string()
        } else {
            styled.to_string()
        };
        err!("{text}");
    } else {
        let text = if std::io::stdout().is_terminal() {
            styled.ansi().to_string()
        } else {
            styled.to_string()
        };
        out!("{text}");
    }
    e.exit_code()
}

/// A clap error about an option's value as a diagnostic (`None` for every
/// other kind of error); `command` (`rasp gen`) is named in its help.
pub fn value_error(e: &clap::Error, command: &str) -> Option<Diag> {
    if e.kind() != ErrorKind::ValueValidation {
        return None;
    }
    let text = |kind: ContextKind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::StyledStr(s)) => Some(s.to_string()),
        _ => None,
    };
    let arg = text(ContextKind::InvalidArg)?;
    let value = text(ContextKind::InvalidValue).unwrap_or_default();
    let reason = std::error::Error::source(e)
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("{value:?} is not a valid value"));
    Some(
        Diag::error(codes::CLI_INPUT, format!("{arg} {reason}")).help(format!(
            "`{command} --help` lists the options and their values"
        )),
    )
}

/// `rasp CMD` for the first command name among the arguments (`rasp`
/// when there is none).
fn command_of(args: &[std::ffi::OsString]) -> String {
    use clap::CommandFactory;
    let cli = Cli::command();
    let names: Vec<&str> = cli.get_subcommands().map(|c| c.get_name()).collect();
    match args
        .iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find(|a| names.contains(a))
    {
        Some(name) => format!("rasp {name}"),
        None => "rasp".into(),
    }
}

/// `--color` as the command line gives it (the diagnostic above is printed
/// before the command line is parsed).
fn color_of(args: &[std::ffi::OsString]) -> Color {
    use clap::ValueEnum;
    let mut it = args.iter().filter_map(|a| a.to_str());
    while let Some(a) = it.next() {
        let value = match a.strip_prefix("--color") {
            Some("") => it.next(),
            Some(v) => v.strip_prefix('='),
            None => None,
        };
        if let Some(c) = value.and_then(|v| Color::from_str(v, true).ok()) {
            return c;
        }
    }
    Color::Auto
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_say_what_they_must_be() {
        assert_eq!(at_least_0::<u64>("0"), Ok(0));
        assert_eq!(at_least_0::<u64>("+7"), Ok(7));
        assert_eq!(at_least_1::<usize>(" 12 "), Ok(12));
        assert_eq!(at_least_0::<u64>("18446744073709551615"), Ok(u64::MAX));
        let err = |r: Result<u64, String>| r.expect_err("refused");
        assert!(err(at_least_0("-5")).contains("non-negative (0 or more), not negative: -5"));
        assert!(err(at_least_1("-3")).contains("positive (1 or more), not negative"));
        assert!(err(at_least_1("-0.5")).contains("not negative"));
        assert!(err(at_least_1("0")).contains("must be positive (1 or more); got 0"));
        assert!(err(at_least_0("abc")).contains("a whole number"));
        assert!(err(at_least_0("1.5")).contains("a whole number"));
        assert!(err(at_least_0("")).contains("a whole number"));
        assert!(err(at_least_0("18446744073709551616")).contains("at most 18446744073709551615"));
        let e = at_least_0::<u32>("4294967296").expect_err("u32");
        assert!(e.contains("at most 4294967295"), "{e}");
    }

    #[test]
    fn colour_from_the_raw_arguments() {
        let args = |s: &[&str]| -> Vec<std::ffi::OsString> { s.iter().map(Into::into).collect() };
        assert_eq!(
            color_of(&args(&["rasp", "--color=never", "gen"])),
            Color::Never
        );
        assert_eq!(
            color_of(&args(&["rasp", "gen", "--color", "always"])),
            Color::Always
        );
        assert_eq!(color_of(&args(&["rasp", "gen", "-n", "-5"])), Color::Auto);
        assert_eq!(
            command_of(&args(&["rasp", "--color", "never", "gen", "-n", "-5"])),
            "rasp gen"
        );
        assert_eq!(command_of(&args(&["rasp", "-n"])), "rasp");
    }
}
