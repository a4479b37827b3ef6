//! Standard error: the one place progress, `-v` call lists and warnings are written. Reports
//! go to standard output, through `report`.

use crate::diagnosis::model::{CallRecord, Text};
use crate::report::{TextOut, WriteColor};
use std::sync::{Mutex, MutexGuard};

pub struct Console {
    sink: Mutex<Box<dyn WriteColor + Send>>,
    /// `-v`: list every AWS call.
    pub verbose: bool,
    /// Draw a spinner (standard error is a terminal).
    interactive: bool,
    spinner: Mutex<Option<indicatif::ProgressBar>>,
}

/// A poisoned lock only means a thread panicked while writing to standard error: what it holds
/// is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Console {
    pub fn new(sink: Box<dyn WriteColor + Send>, verbose: bool, interactive: bool) -> Console {
        Console {
            sink: Mutex::new(sink),
            verbose,
            interactive,
            spinner: Mutex::new(None),
        }
    }

    /// Progress of a CloudTrail search, once it takes more than a page.
    pub fn progress(&self, pages: u32, events: u64) {
        if !self.interactive || pages < 2 {
            return;
        }
        let mut spinner = lock(&self.spinner);
        let bar = spinner.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            // A spinner and the counts: a search has no known length, so no bar (indicatif's
            // default style would draw an empty one, 0/0).
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}") {
                b.set_style(style);
            }
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        bar.set_message(format!(
            "Searching CloudTrail: {pages} pages, {events} events read"
        ));
    }

    /// Progress of a scan: keys done of keys found, and what is happening where.
    pub fn scan_progress(&self, tick: crate::evidence::scan::Tick) {
        use crate::evidence::scan::Tick;
        if !self.interactive {
            return;
        }
        let mut spinner = lock(&self.spinner);
        let bar = spinner.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::with_draw_target(
                Some(0),
                indicatif::ProgressDrawTarget::stderr(),
            );
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} keys  {msg}")
            {
                b.set_style(style);
            }
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        });
        match tick {
            Tick::Found { region, keys } => {
                bar.inc_length(keys);
                bar.set_message(format!(
                    "listed {keys} keys in {}",
                    crate::report::escape::terminal(region)
                ));
            }
            Tick::KeyDone => bar.inc(1),
            Tick::Searching { region, keys } => bar.set_message(format!(
                "searching CloudTrail in {} for {keys} unreadable policies",
                crate::report::escape::terminal(region)
            )),
        }
    }

    pub fn finish_progress(&self) {
        if let Some(bar) = lock(&self.spinner).take() {
            bar.finish_and_clear();
        }
    }

    /// `-v`: the calls, one a line.
    pub fn calls(&self, calls: &[CallRecord]) {
        if self.verbose {
            let mut sink = lock(&self.sink);
            let _ = crate::report::diagnose::write_calls(calls, sink.as_mut());
        }
    }

    /// A line for the operator that is not part of the report.
    pub fn note(&self, text: &Text) {
        let mut sink = lock(&self.sink);
        let mut out = TextOut::new(sink.as_mut());
        let _ = out
            .p("kms-doctor: ")
            .and_then(|o| o.t(text))
            .and_then(|o| o.nl());
    }
}

/// What a long computation reports as it goes: the CLI's spinner, nothing for a server.
pub trait Progress: Send + Sync {
    /// A CloudTrail search read `pages` pages and `events` events so far.
    fn pages(&self, pages: u32, events: u64);
    /// A scan went one step further.
    fn scan(&self, tick: crate::evidence::scan::Tick);
    /// The search or the scan is over.
    fn done(&self);
}

impl Progress for Console {
    fn pages(&self, pages: u32, events: u64) {
        self.progress(pages, events);
    }
    fn scan(&self, tick: crate::evidence::scan::Tick) {
        self.scan_progress(tick);
    }
    fn done(&self) {
        self.finish_progress();
    }
}

/// No progress shown: for front ends with nobody watching a terminal.
pub struct NoProgress;

impl Progress for NoProgress {
    fn pages(&self, _: u32, _: u64) {}
    fn scan(&self, _: crate::evidence::scan::Tick) {}
    fn done(&self) {}
}
