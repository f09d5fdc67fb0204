//! `-l LEVEL`, `-o FILE`, `-q`: a plain tracing-subscriber fmt subscriber. It writes
//! synchronously from the calling thread and starts no thread of its own, so the process
//! can fork the container later (DESIGN.md: no threads before clone).

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing::level_filters::LevelFilter;

use super::action::Globals;

/// The level in force: `-l`, else WARN; `-q` without `-o` silences the log entirely.
pub fn effective_level(g: &Globals) -> LevelFilter {
    if g.quiet && g.log_file.is_none() {
        return LevelFilter::OFF;
    }
    match g.log_level {
        Some(l) => LevelFilter::from_level(l.to_tracing()),
        None => LevelFilter::WARN,
    }
}

/// Installs the global subscriber. Fails only when the log file cannot be opened.
pub fn init(g: &Globals, program: &'static str) -> Result<(), String> {
    let level = effective_level(g);
    match &g.log_file {
        Some(path) => {
            let file = OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
                format!(
                    "cannot open log file \"{}\": {e}; pick a writable path for -o or create its directory",
                    path.display()
                )
            })?;
            let _ = tracing_subscriber::fmt()
                .with_max_level(level)
                .with_ansi(false)
                .with_target(true)
                .with_writer(Mutex::new(file))
                .try_init();
        }
        None => {
            let _ = tracing_subscriber::fmt()
                .with_max_level(level)
                .with_ansi(false)
                .without_time()
                .with_target(false)
                .with_writer(std::io::stderr)
                .try_init();
        }
    }
    tracing::debug!(program, level = %level, "logging initialised");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::action::LogLevel;

    #[test]
    fn levels() {
        let g = Globals::default();
        assert_eq!(effective_level(&g), LevelFilter::WARN);
        let g = Globals {
            log_level: Some(LogLevel::Notice),
            ..Default::default()
        };
        assert_eq!(effective_level(&g), LevelFilter::INFO);
        let g = Globals {
            log_level: Some(LogLevel::Fatal),
            ..Default::default()
        };
        assert_eq!(effective_level(&g), LevelFilter::ERROR);
        let g = Globals {
            log_level: Some(LogLevel::Trace),
            ..Default::default()
        };
        assert_eq!(effective_level(&g), LevelFilter::TRACE);
        let g = Globals {
            quiet: true,
            log_level: Some(LogLevel::Debug),
            ..Default::default()
        };
        assert_eq!(effective_level(&g), LevelFilter::OFF);
        let g = Globals {
            quiet: true,
            log_level: Some(LogLevel::Debug),
            log_file: Some("/tmp/x.log".into()),
            ..Default::default()
        };
        assert_eq!(effective_level(&g), LevelFilter::DEBUG);
        for (s, l) in [
            ("trace", LogLevel::Trace),
            ("WARNING", LogLevel::Warn),
            ("Crit", LogLevel::Crit),
            ("ALERT", LogLevel::Alert),
        ] {
            assert_eq!(LogLevel::parse(s), Some(l));
        }
        assert_eq!(LogLevel::parse("LOUD"), None);
    }

    #[test]
    fn unwritable_log_file_is_reported() {
        let g = Globals {
            log_file: Some("/nonexistent-dir-hako/x.log".into()),
            ..Default::default()
        };
        let e = init(&g, "hako").unwrap_err();
        assert!(
            e.contains("cannot open log file \"/nonexistent-dir-hako/x.log\""),
            "{e}"
        );
    }
}
