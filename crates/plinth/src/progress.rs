//! Progress on stderr: bars on a terminal (indicatif), nothing otherwise; warnings always.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use plinth_core::progress::{NoReporter, Reporter};

struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Reporter for Bars {
    fn start(&self, task: &str, total: Option<u64>) {
        let bar = match total {
            Some(n) => ProgressBar::new(n).with_style(
                ProgressStyle::with_template("{msg:40!} {bar:30} {bytes:>10}/{total_bytes}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner(),
        };
        let bar = self.multi.add(bar.with_message(task.to_string()));
        self.bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(task.to_string(), bar);
    }

    fn advance(&self, task: &str, bytes: u64) {
        if let Some(b) = self
            .bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(task)
        {
            b.inc(bytes);
        }
    }

    fn finish(&self, task: &str) {
        if let Some(b) = self
            .bars
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(task)
        {
            b.finish_and_clear();
        }
    }

    fn warn(&self, message: &str) {
        let _ = self.multi.println(format!("warning: {message}"));
    }
}

struct Warnings;

impl Reporter for Warnings {
    fn warn(&self, message: &str) {
        crate::render::warn(message);
    }
}

/// The reporter for this run: bars when stderr is a terminal and not `--quiet`.
pub fn reporter(quiet: bool) -> Arc<dyn Reporter> {
    if quiet {
        Arc::new(NoReporter)
    } else if std::io::stderr().is_terminal() {
        Arc::new(Bars {
            multi: MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
        })
    } else {
        Arc::new(Warnings)
    }
}
