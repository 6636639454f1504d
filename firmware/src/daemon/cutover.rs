//! The daemon's side of the cut-over commands (`suspendlistener`,
//! `resumelistener`, `suspenddel`, `resumedel`, `suspend`, `resume`, and
//! the delay of `reboot`/`shutdown`): the arguments are parsed by the
//! control crate (`commands::cutover`); here the state is saved (it
//! survives a restart, as AsyncOS's survives a reboot), then applied to
//! the listeners and the work queue.

use std::sync::atomic::Ordering;
use std::time::Duration;

use breakwater_store::suspension::Suspension;

use super::Status;
use crate::control::commands::cutover::{self, Cutover, Listeners};

/// How often the wait for deliveries under way looks again.
const POLL: Duration = Duration::from_millis(100);

impl Status {
    /// Carries out one cut-over command (on a blocking thread of the
    /// runtime, as every daemon command).
    pub(super) fn cutover(&self, request: Cutover) -> Result<String, String> {
        // One change at a time: each reads, changes and saves the state.
        let _one = self
            .suspension_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let configured: Vec<String> = self
            .config
            .borrow()
            .listeners
            .iter()
            .map(|l| l.name.clone())
            .collect();
        let mut state = self.suspension.load();
        let answer = match request {
            Cutover::SuspendListeners { which, delay } => {
                self.suspend_listeners(&mut state, &which, &configured, delay)?
            }
            Cutover::ResumeListeners { which } => {
                self.resume_listeners(&mut state, &which, &configured)?
            }
            Cutover::SuspendDelivery { delay } => self.suspend_delivery(&mut state, delay)?,
            Cutover::ResumeDelivery => self.resume_delivery(&mut state)?,
            Cutover::Suspend { delay } => {
                let receiving =
                    self.suspend_listeners(&mut state, &Listeners::All, &configured, delay)?;
                let delivery = self.suspend_delivery(&mut state, delay)?;
                format!("{receiving}\n{delivery}")
            }
            Cutover::Resume => {
                let receiving = self.resume_listeners(&mut state, &Listeners::All, &configured)?;
                let delivery = self.resume_delivery(&mut state)?;
                format!("{receiving}\n{delivery}")
            }
            Cutover::Stop { reboot, delay } => {
                self.stop_grace_secs
                    .store(delay.as_secs(), Ordering::Relaxed);
                return Ok(self.stop(if reboot { "reboot" } else { "shutdown" }, delay));
            }
        };
        self.publish(&state, &configured);
        Ok(answer)
    }

    fn save(&self, state: &Suspension) -> Result<(), String> {
        self.suspension.save(state).map_err(|e| {
            tracing::error!("{e}");
            format!("Nothing changed: {e}")
        })
    }

    fn suspend_listeners(
        &self,
        state: &mut Suspension,
        which: &Listeners,
        configured: &[String],
        delay: Duration,
    ) -> Result<String, String> {
        let names = cutover::resolve(which, configured)?;
        state.listeners.extend(names.iter().cloned());
        self.save(state)?;
        tracing::info!(
            "receiving suspended for {} ({} s for sessions in progress)",
            names.join(", "),
            delay.as_secs()
        );
        let open = tokio::runtime::Handle::current()
            .block_on(self.reception.suspend(&state.listeners, delay));
        Ok(cutover::listeners_suspended(&names, open))
    }

    fn resume_listeners(
        &self,
        state: &mut Suspension,
        which: &Listeners,
        configured: &[String],
    ) -> Result<String, String> {
        let names = match which {
            // All: also a suspended listener since renamed or deleted.
            Listeners::All => state.listeners.iter().cloned().collect(),
            Listeners::Named(_) => cutover::resolve(which, configured)?,
        };
        for n in &names {
            state.listeners.remove(n);
        }
        self.save(state)?;
        tracing::info!("receiving resumed for {}", names.join(", "));
        tokio::runtime::Handle::current()
            .block_on(self.reception.suspend(&state.listeners, Duration::ZERO));
        let shown = match which {
            Listeners::All => configured.to_vec(),
            Listeners::Named(_) => names,
        };
        Ok(cutover::listeners_resumed(&shown))
    }

    /// Nothing new dials out; deliveries under way get `delay` to finish
    /// (the answer says how many are left).
    fn suspend_delivery(&self, state: &mut Suspension, delay: Duration) -> Result<String, String> {
        state.delivery = true;
        self.save(state)?;
        tracing::info!("mail delivery suspended");
        let runtime = tokio::runtime::Handle::current();
        let end = std::time::Instant::now() + delay;
        let mut in_progress = runtime
            .block_on(self.workqueue.query(|wq| {
                wq.set_delivery_suspended(true);
                wq.deliveries_in_progress()
            }))
            .ok_or("The work queue is not running.")?;
        while in_progress > 0 && std::time::Instant::now() < end {
            std::thread::sleep(POLL);
            in_progress = runtime
                .block_on(self.workqueue.query(|wq| wq.deliveries_in_progress()))
                .unwrap_or(0);
        }
        Ok(cutover::delivery_suspended(in_progress))
    }

    fn resume_delivery(&self, state: &mut Suspension) -> Result<String, String> {
        state.delivery = false;
        self.save(state)?;
        tracing::info!("mail delivery resumed");
        tokio::runtime::Handle::current()
            .block_on(self.workqueue.query(|wq| wq.set_delivery_suspended(false)))
            .ok_or("The work queue is not running.")?;
        Ok(cutover::DELIVERY_RESUMED.to_string())
    }

    /// The "System status" line of `status detail`, kept by the work queue.
    fn publish(&self, state: &Suspension, configured: &[String]) {
        let line = state.system_status(configured.iter().map(String::as_str));
        let _ = tokio::runtime::Handle::current()
            .block_on(self.workqueue.query(move |wq| wq.system_status = line));
    }
}
