//! The figures of a batch of generated programs, and the batch itself.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::check::{Class, Outcome, check_prog_isolated, tiny_gap};
use super::generator::{Gen, Prog, Rng, Shape};

/// Figures of a batch.
#[derive(Default)]
pub(super) struct Stats {
    programs: usize,
    program_errors: usize,
    classes: BTreeMap<&'static str, usize>,
    refusals: BTreeMap<String, usize>,
    /// Precision refusals over a gap below 1e-9 (float rounding, not a
    /// real gap between values).
    tiny_gaps: usize,
    /// The first few refused programs of each code, with the message.
    refused_examples: BTreeMap<String, Vec<(Prog, String)>>,
    pub(super) failures: Vec<(Prog, Class)>,
    /// Verified programs with some / most inputs failing in the program.
    some_skipped: usize,
    most_skipped: usize,
    inputs_checked: usize,
    /// (compile s, verify s, program) of each program checked.
    times: Vec<(f64, f64, Prog)>,
    /// Models whose estimate was compared, and the largest ratio estimate
    /// / built with its program.
    estimated: usize,
    worst_ratio: Option<(f64, Prog)>,
}

impl Stats {
    fn add(&mut self, p: Prog, o: Outcome) {
        self.programs += 1;
        *self.classes.entry(o.class.name()).or_default() += 1;
        if let Class::Refused(code, msg) = &o.class {
            *self.refusals.entry(code.clone()).or_default() += 1;
            if tiny_gap(msg) {
                self.tiny_gaps += 1;
            }
            let shown = self.refused_examples.entry(code.clone()).or_default();
            if shown.len() < 3 {
                shown.push((p.clone(), msg.clone()));
            }
        }
        self.inputs_checked += o.checked;
        if let Some(r) = o.ratio {
            self.estimated += 1;
            if self.worst_ratio.as_ref().is_none_or(|w| r > w.0) {
                self.worst_ratio = Some((r, p.clone()));
            }
        }
        if o.class == Class::Verified && o.skipped > 0 {
            self.some_skipped += 1;
            if o.skipped > o.checked {
                self.most_skipped += 1;
            }
        }
        self.times.push((o.compile_secs, o.verify_secs, p.clone()));
        if o.class.is_failure() {
            self.failures.push((p, o.class));
        }
    }

    pub(super) fn render(&self, max_failures: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} programs ({} regenerated: rejected by the front end)",
            self.programs, self.program_errors
        );
        for (c, k) in &self.classes {
            let _ = writeln!(
                s,
                "  {c:<13} {k:>6}  ({:.1}%)",
                100.0 * *k as f64 / self.programs.max(1) as f64
            );
        }
        let _ = writeln!(
            s,
            "{} inputs compared; verified programs failing on some inputs: {}, on most: {}",
            self.inputs_checked, self.some_skipped, self.most_skipped
        );
        if let Some((r, p)) = &self.worst_ratio {
            let _ = writeln!(
                s,
                "size estimate / built parameters over {} models: worst {r:.3}  {}  {}",
                self.estimated,
                p.header(),
                p.src.trim_end().replace('\n', " ")
            );
        }
        let _ = writeln!(s, "refusal codes:");
        for (c, k) in &self.refusals {
            let _ = writeln!(s, "  {c:<28} {k:>6}");
        }
        if self.tiny_gaps > 0 {
            let _ = writeln!(
                s,
                "  (of the precision refusals, {} over gaps below 1e-9)",
                self.tiny_gaps
            );
        }
        let total = |t: &(f64, f64, Prog)| t.0 + t.1;
        let mut times: Vec<&(f64, f64, Prog)> = self.times.iter().collect();
        times.sort_by(|a, b| total(b).total_cmp(&total(a)));
        let at = |q: f64| {
            times
                .get(((times.len() as f64 * q) as usize).min(times.len().saturating_sub(1)))
                .map_or(0.0, |t| total(t))
        };
        let slow = times.iter().filter(|t| total(t) > 5.0).count();
        let _ = writeln!(
            s,
            "time: compile {:.1} s + verify {:.1} s in all; per program median {:.3} s, \
             90% {:.3} s, 99% {:.3} s, max {:.2} s; {slow} over 5 s",
            self.times.iter().map(|t| t.0).sum::<f64>(),
            self.times.iter().map(|t| t.1).sum::<f64>(),
            at(0.5),
            at(0.1),
            at(0.01),
            at(0.0),
        );
        let _ = writeln!(s, "slowest (compile + verify):");
        for t in times.iter().take(slow.clamp(5, 20)) {
            let _ = writeln!(
                s,
                "  {:.2} s + {:.2} s  {}  {}",
                t.0,
                t.1,
                t.2.header(),
                t.2.src.trim_end().replace('\n', " ")
            );
        }
        if max_failures > 0 {
            let _ = writeln!(s, "refused, first examples of each code:");
            for (code, shown) in &self.refused_examples {
                for (p, msg) in shown {
                    let _ = writeln!(
                        s,
                        "  {code}: {}\n    {}  {}",
                        msg.lines().next().unwrap_or(""),
                        p.header(),
                        p.src.trim_end().replace('\n', " ")
                    );
                }
            }
        }
        let _ = writeln!(s, "failures: {}", self.failures.len());
        for (p, c) in self.failures.iter().take(max_failures) {
            let _ = writeln!(
                s,
                "--- {} ---\n{}\n{}{}",
                c.name(),
                p.header(),
                p.src,
                c.detail()
            );
        }
        if self.failures.len() > max_failures {
            let _ = writeln!(s, "... and {} more", self.failures.len() - max_failures);
        }
        s
    }
}

/// Generate and check `count` programs from `seed`.
pub(super) fn batch(
    seed: u64,
    count: usize,
    shape: Shape,
    limit: Duration,
    progress: bool,
) -> Stats {
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    let start = Instant::now();
    while stats.programs < count {
        let p = Gen::program(&mut rng, shape);
        match check_prog_isolated(&p, limit) {
            None => stats.program_errors += 1,
            Some(o) => stats.add(p, o),
        }
        if progress && stats.programs % 500 == 0 && stats.programs > 0 {
            eprintln!(
                "[genprog] {} programs, {} failures, {:.0} s",
                stats.programs,
                stats.failures.len(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    stats
}
