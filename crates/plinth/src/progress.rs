//! Progress on stderr: bars on a terminal (indicatif), nothing otherwise; warnings always,
//! unless `--quiet`. Bars clear when their work ends: the command then leaves one summary
//! line of its own.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex, MutexGuard};

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use plinth_core::progress::{NoReporter, Reporter};

struct Bars {
    multi: MultiProgress,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    bars: HashMap<String, ProgressBar>,
    /// `[3/41] packages`, from the last [`Reporter::plan`], until its count is reached.
    overall: Option<ProgressBar>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

impl Bars {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Reporter for Bars {
    fn plan(&self, what: &str, count: u64) {
        let mut st = self.state();
        if let Some(old) = st.overall.take() {
            old.finish_and_clear();
        }
        if count > 0 {
            let bar = ProgressBar::new(count)
                .with_style(style("[{pos}/{len}] {msg}"))
                .with_message(what.to_string());
            // Above the per-task bars.
            st.overall = Some(self.multi.insert(0, bar));
        }
    }

    fn start(&self, task: &str, total: Option<u64>) {
        let bar = match total {
            Some(n) => ProgressBar::new(n).with_style(style(
                "{msg:40!} {bar:30} {decimal_bytes:>10}/{decimal_total_bytes}",
            )),
            None => ProgressBar::new_spinner()
                .with_style(style("{spinner} {msg:38!} {decimal_bytes:>10}")),
        };
        let bar = self.multi.add(bar.with_message(task.to_string()));
        self.state().bars.insert(task.to_string(), bar);
    }

    fn advance(&self, task: &str, bytes: u64) {
        if let Some(b) = self.state().bars.get(task) {
            b.inc(bytes);
        }
    }

    fn finish(&self, task: &str) {
        let mut st = self.state();
        if let Some(b) = st.bars.remove(task) {
            b.finish_and_clear();
        }
        if let Some(o) = &st.overall {
            o.inc(1);
            if o.position() >= o.length().unwrap_or(0) {
                o.finish_and_clear();
                st.overall = None;
            }
        }
    }

    fn warn(&self, message: &str) {
        let _ = self.multi.println(crate::render::warning_line(message));
    }
}

struct Warnings;

impl Reporter for Warnings {
    fn warn(&self, message: &str) {
        crate::render::warn(message);
    }
}

/// The reporter for this run: nothing with `--quiet`; bars when stderr is a terminal;
/// else only warnings.
pub fn reporter(quiet: bool) -> Arc<dyn Reporter> {
    if quiet {
        Arc::new(NoReporter)
    } else if std::io::stderr().is_terminal() {
        Arc::new(Bars {
            multi: MultiProgress::new(),
            state: Mutex::new(State::default()),
        })
    } else {
        Arc::new(Warnings)
    }
}
