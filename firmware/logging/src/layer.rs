//! The `tracing` layer that turns events into lines of one [`LogFile`].
//! Which events reach it is decided by the per-layer filter it is wrapped in.

use std::io::{self, Write as _};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::format::{EventText, format_line};
use super::rotate::LogFile;

pub(crate) struct FileLayer {
    file: Arc<Mutex<LogFile>>,
    echo_stderr: bool,
}

impl FileLayer {
    pub(crate) fn new(file: Arc<Mutex<LogFile>>, echo_stderr: bool) -> Self {
        Self { file, echo_stderr }
    }
}

impl<S: Subscriber> Layer<S> for FileLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = EventText::default();
        event.record(&mut text);
        // The appliance's zone (`settz`), not the process's: the image has no
        // zoneinfo, and the zone changes at commit without a restart.
        let now = breakwater_types::clock::now().naive_local();
        let line = format_line(now, *event.metadata().level(), &text);
        if self.echo_stderr {
            // A closed stderr (daemonised, console gone) is not worth a report.
            let _ = writeln!(io::stderr().lock(), "{line}");
        }
        lock(&self.file).write_line(&line, now);
    }
}

/// A poisoned lock is still usable: `LogFile` holds no invariant a panic
/// could break worse than a miscounted size, which the next rotation resets.
pub(crate) fn lock(file: &Mutex<LogFile>) -> MutexGuard<'_, LogFile> {
    file.lock().unwrap_or_else(PoisonError::into_inner)
}
