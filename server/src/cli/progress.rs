//! Progress of long command-line work (`sendguard probe` with many domains) on standard error:
//! one line rewritten in place while standard error is a terminal, nothing at all when it is
//! piped or redirected, so scripts and logs see only the results.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Counts finished items and shows `probing: 3/40 done (last: example.org)`.
pub struct Progress {
    total: usize,
    /// Items done so far; `None` when nothing is shown.
    done: Option<Mutex<usize>>,
}

impl Progress {
    /// Progress over `total` items, shown when standard error is a terminal and there is more
    /// than one item.
    pub fn on_stderr(total: usize) -> Self {
        Self::new(total, std::io::stderr().is_terminal())
    }

    /// Progress over `total` items, shown when `terminal` and there is more than one item.
    pub fn new(total: usize, terminal: bool) -> Self {
        Progress {
            total,
            done: (terminal && total > 1).then(|| Mutex::new(0)),
        }
    }

    /// Whether anything is shown.
    pub fn shown(&self) -> bool {
        self.done.is_some()
    }

    /// One more item finished, `last` naming it.
    pub fn step(&self, last: &str) {
        let Some(done) = &self.done else {
            return;
        };
        let mut done = done.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *done += 1;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{}", line(*done, self.total, last));
        let _ = err.flush();
    }

    /// Clears the progress line (before the results are printed).
    pub fn finish(&self) {
        if self.done.is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}

/// The progress line, at most 79 characters so that it never wraps on an 80-column terminal.
pub fn line(done: usize, total: usize, last: &str) -> String {
    let head = format!("probing: {done}/{total} done (last: ");
    let room = 78usize.saturating_sub(head.chars().count());
    format!("{head}{})", crate::cli::table::fit(last, room))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_only_on_a_terminal_and_for_more_than_one_item() {
        assert!(Progress::new(5, true).shown());
        assert!(!Progress::new(5, false).shown(), "piped: quiet");
        assert!(
            !Progress::new(1, true).shown(),
            "one domain needs no progress"
        );
        // Stepping hidden progress writes nothing and does not fail.
        Progress::new(5, false).step("a.example");
    }

    #[test]
    fn the_line_fits_a_terminal() {
        assert_eq!(
            line(3, 40, "example.org"),
            "probing: 3/40 done (last: example.org)"
        );
        let long = "a".repeat(120) + ".example";
        assert!(line(1000, 1000, &long).chars().count() < 80);
    }
}
