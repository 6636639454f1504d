//! The `tracing` layer that turns events into lines of one [`LogFile`].
//! Which events reach it is decided by the per-layer filter it is wrapped in.

use std::io::{self, Write as _};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

use super::format::{EventText, format_line};
use super::rotate::LogFile;
use super::ship::Tap;
use breakwater_config::logship::LogName;

pub(crate) struct FileLayer {
    file: Arc<Mutex<LogFile>>,
    echo_stderr: bool,
    /// The log's syslog subscribers (see `ship`).
    tap: Tap,
    log: LogName,
}

impl FileLayer {
    pub(crate) fn new(
        file: Arc<Mutex<LogFile>>,
        echo_stderr: bool,
        tap: Tap,
        log: LogName,
    ) -> Self {
        Self {
            file,
            echo_stderr,
            tap,
            log,
        }
    }
}

impl<S: Subscriber> Layer<S> for FileLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut text = EventText::default();
        event.record(&mut text);
        // The appliance's zone (`settz`), not the process's: the image has no
        // zoneinfo, and the zone changes at commit without a restart.
        let now = breakwater_types::clock::now().naive_local();
        let level = *event.metadata().level();
        let line = format_line(now, level, &text);
        if self.echo_stderr {
            // A closed stderr (daemonised, console gone) is not worth a report.
            let _ = writeln!(io::stderr().lock(), "{line}");
        }
        lock(&self.file).write_line(&line, now);
        // After the file: the file is the record, shipping a copy of it.
        self.tap.offer(self.log, level, &line);
    }
}

/// A poisoned lock is still usable: `LogFile` holds no invariant a panic
/// could break worse than a miscounted size, which the next rotation resets.
pub(crate) fn lock(file: &Mutex<LogFile>) -> MutexGuard<'_, LogFile> {
    file.lock().unwrap_or_else(PoisonError::into_inner)
}
