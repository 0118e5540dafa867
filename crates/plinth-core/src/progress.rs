//! Progress reporting. Libraries never print: they call a [`Reporter`], which the binary
//! implements with progress bars and warnings on stderr.

/// Receives progress of long tasks (downloads, index fetches) and warnings. `task` names
/// the task, e.g. a file name; every call for one task uses the same string. Methods may
/// be called from several threads at once.
pub trait Reporter: Send + Sync {
    /// A task starts; `total_bytes` if its size is known.
    fn start(&self, _task: &str, _total_bytes: Option<u64>) {}
    /// `bytes` more bytes of `task` were transferred.
    fn advance(&self, _task: &str, _bytes: u64) {}
    /// The task ended (successfully or not). A task that needed no work (a cache hit)
    /// may finish without having started, so that a [`plan`](Reporter::plan)'s count
    /// is reached.
    fn finish(&self, _task: &str) {}
    /// `count` tasks of one kind follow, each ending with a [`finish`](Reporter::finish);
    /// `what` names them in the plural (`packages`), for a `[3/41] packages` counter.
    fn plan(&self, _what: &str, _count: u64) {}
    /// Something the user should know about that does not stop the work.
    fn warn(&self, _message: &str) {}
}

/// A [`Reporter`] that discards everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

impl Reporter for NoReporter {}
