//! Running a filter list on one message, with AsyncOS semantics:
//!
//! - filters run in order; inactive ones are skipped;
//! - `and`/`or` short-circuit, so a later, costlier rule (a body scan, a
//!   DNS list) is not evaluated when an earlier one decides;
//! - non-final actions accumulate; when an action repeats one already taken
//!   (same kind and target, see `ActionKind::same_target`) the earlier one is
//!   removed and the later one kept, in its own position;
//! - a final action (`drop`, `bounce`, `deliver`, `skip-filters`) ends the
//!   filter it is in and the whole list. Actions taken before it stay in
//!   [`Verdict::actions`]: a `bcc(); drop();` still sends the copy.

use std::fmt;

use rand::Rng;

use super::ast::{Action, Filter, FinalAction, Stmt};
use super::context::{Lookups, MessageContext};
use super::invocation::{ActionInvocation, ActionKind};
use super::vars::Vars;

/// The outcome of the filter list for one message.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verdict {
    pub final_action: Option<FinalAction>,
    /// The filter that took the final action.
    pub final_filter: Option<String>,
    pub actions: Vec<ActionInvocation>,
    pub trace: Vec<TraceLine>,
}

/// One step of the evaluation, for `trace` and the logs.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceLine {
    pub filter: String,
    pub event: TraceEvent,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TraceEvent {
    /// The filter is inactive and was skipped.
    Inactive,
    /// A condition was evaluated (detailed trace only).
    Condition { condition: String, result: bool },
    /// A non-final action was taken (printed as written).
    Action(String),
    /// A final action was taken.
    Final(FinalAction),
    /// The filter ran and took no action (detailed trace only).
    NoMatch,
    /// A final action earlier in the list stopped processing before this
    /// filter (detailed trace only).
    NotReached,
}

impl fmt::Display for TraceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.filter;
        match &self.event {
            TraceEvent::Inactive => write!(f, "Filter '{name}': inactive, skipped"),
            TraceEvent::Condition { condition, result } => {
                write!(f, "Filter '{name}': ({condition}) is {result}")
            }
            TraceEvent::Action(a) => write!(f, "Filter '{name}': action {a}"),
            TraceEvent::Final(k) => write!(f, "Filter '{name}': final action {k}()"),
            TraceEvent::NoMatch => write!(f, "Filter '{name}': no action taken"),
            TraceEvent::NotReached => write!(f, "Filter '{name}': not reached"),
        }
    }
}

/// Runs `filters` on `msg`. The trace holds only the actions taken (cheap
/// enough for every message); use [`trace`] to see every condition.
pub fn evaluate<R: Rng + ?Sized>(
    filters: &[Filter],
    msg: &MessageContext<'_>,
    lookups: &dyn Lookups,
    rng: &mut R,
) -> Verdict {
    run(filters, msg, lookups, rng, false)
}

/// As [`evaluate`], with a trace line for every condition evaluated and
/// every filter (the CLI's `trace`).
pub fn trace<R: Rng + ?Sized>(
    filters: &[Filter],
    msg: &MessageContext<'_>,
    lookups: &dyn Lookups,
    rng: &mut R,
) -> Verdict {
    run(filters, msg, lookups, rng, true)
}

fn run<R: Rng + ?Sized>(
    filters: &[Filter],
    msg: &MessageContext<'_>,
    lookups: &dyn Lookups,
    rng: &mut R,
    detailed: bool,
) -> Verdict {
    let mut ev = Evaluator {
        msg,
        lookups,
        rng,
        detailed,
        vars: None,
        verdict: Verdict::default(),
    };
    for (i, filter) in filters.iter().enumerate() {
        if !filter.active {
            ev.note(filter, TraceEvent::Inactive);
            continue;
        }
        let before = ev.verdict.trace.len();
        let stopped = ev.stmts(filter, &filter.body);
        if detailed
            && !ev.verdict.trace[before..]
                .iter()
                .any(|t| matches!(t.event, TraceEvent::Action(_) | TraceEvent::Final(_)))
        {
            ev.note(filter, TraceEvent::NoMatch);
        }
        if stopped {
            if detailed {
                for rest in &filters[i + 1..] {
                    ev.note(rest, TraceEvent::NotReached);
                }
            }
            break;
        }
    }
    ev.verdict
}

pub(super) struct Evaluator<'e, 'm, R: ?Sized> {
    pub(super) msg: &'e MessageContext<'m>,
    pub(super) lookups: &'e dyn Lookups,
    pub(super) rng: &'e mut R,
    detailed: bool,
    vars: Option<Vars>,
    verdict: Verdict,
}

impl<R: Rng + ?Sized> Evaluator<'_, '_, R> {
    fn note(&mut self, filter: &Filter, event: TraceEvent) {
        self.verdict.trace.push(TraceLine {
            filter: filter.name.clone(),
            event,
        });
    }

    /// Runs statements; true when a final action stopped processing.
    fn stmts(&mut self, filter: &Filter, stmts: &[Stmt]) -> bool {
        for stmt in stmts {
            let stop = match stmt {
                Stmt::Action(a) => self.action(filter, a),
                Stmt::If(chain) => {
                    let mut taken = None;
                    for (cond, block) in &chain.branches {
                        let result = self.condition(cond);
                        if self.detailed {
                            let condition = cond.to_string();
                            self.note(filter, TraceEvent::Condition { condition, result });
                        }
                        if result {
                            taken = Some(block);
                            break;
                        }
                    }
                    match taken.or(chain.otherwise.as_ref()) {
                        Some(block) => self.stmts(filter, block),
                        None => false,
                    }
                }
            };
            if stop {
                return true;
            }
        }
        false
    }

    fn action(&mut self, filter: &Filter, action: &Action) -> bool {
        if let Action::Final(kind) = action {
            self.verdict.final_action = Some(*kind);
            self.verdict.final_filter = Some(filter.name.clone());
            self.note(filter, TraceEvent::Final(*kind));
            return true;
        }
        let msg = self.msg;
        let vars = self.vars.get_or_insert_with(|| Vars::from_context(msg));
        if vars.filter_name != filter.name {
            vars.filter_name.clone_from(&filter.name);
        }
        let Some(kind) = ActionKind::from_action(action, vars) else {
            return false; // no-op
        };
        self.verdict
            .actions
            .retain(|earlier| !earlier.kind.same_target(&kind));
        self.verdict.actions.push(ActionInvocation {
            filter: filter.name.clone(),
            kind,
        });
        self.note(filter, TraceEvent::Action(action.to_string()));
        false
    }
}
