//! A one-line progress display on the terminal (stderr), for long work: image builds and
//! copies. Quiet when stderr is not a terminal or the user asked for quiet. No threads: the
//! caller refreshes it as output arrives (and at least once a second while it waits).

use std::io::Write;
use std::time::{Duration, Instant};

pub(crate) struct Progress {
    enabled: bool,
    label: String,
    start: Instant,
    last: Option<Instant>,
    text: String,
    drawn: bool,
}

/// Is stderr a terminal?
pub(crate) fn stderr_is_terminal() -> bool {
    nix::unistd::isatty(2).unwrap_or(false)
}

impl Progress {
    pub fn new(label: impl Into<String>, enabled: bool) -> Progress {
        Progress {
            enabled,
            label: label.into(),
            start: Instant::now(),
            last: None,
            text: String::new(),
            drawn: false,
        }
    }

    /// Shows `text` (redrawn at most 10 times a second, unless it changed).
    pub fn set(&mut self, text: &str) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let changed = text != self.text;
        if !changed {
            if let Some(l) = self.last {
                if now.duration_since(l) < Duration::from_millis(100) {
                    return;
                }
            }
        }
        self.text = text.to_string();
        self.last = Some(now);
        self.draw();
    }

    /// Redraws the current text (for the elapsed time).
    pub fn tick(&mut self) {
        if self.enabled && self.drawn {
            let t = self.text.clone();
            self.last = None;
            self.set(&t);
        }
    }

    fn draw(&mut self) {
        let secs = self.start.elapsed().as_secs();
        let line = format!(
            "{}: {} [{}:{:02}]",
            self.label,
            self.text,
            secs / 60,
            secs % 60
        );
        let mut e = std::io::stderr().lock();
        let _ = write!(e, "\r\x1b[K{line}");
        let _ = e.flush();
        self.drawn = true;
    }

    /// Ends the line with `text` (or clears it when `text` is empty).
    pub fn finish(&mut self, text: &str) {
        if !self.enabled {
            return;
        }
        let mut e = std::io::stderr().lock();
        if text.is_empty() {
            let _ = write!(e, "\r\x1b[K");
        } else {
            let secs = self.start.elapsed().as_secs_f64();
            let _ = writeln!(e, "\r\x1b[K{}: {text} ({secs:.1} s)", self.label);
        }
        let _ = e.flush();
        self.drawn = false;
    }
}
