//! Checks a filter list against the names the gateway defines. AsyncOS
//! marks a filter "invalid" when it names a listener or interface that does
//! not exist; Breakwater also warns for sender groups (the seeds' RELAYLIST
//! versus RELAY_O365 pitfall), quarantines and bounce profiles. Warnings do
//! not stop a commit: the CLI shows them.

use std::fmt;

use super::ast::{Action, Condition, Filter, Stmt, TextField};

/// Names configured on the gateway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownNames {
    pub sender_groups: Vec<String>,
    pub listeners: Vec<String>,
    pub interfaces: Vec<String>,
    pub quarantines: Vec<String>,
    pub bounce_profiles: Vec<String>,
}

/// A name a filter uses that nothing defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub filter: String,
    /// "sender group", "listener", "interface", "quarantine", "bounce profile".
    pub what: &'static str,
    pub name: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Filter '{}': {} '{}' is not defined",
            self.filter, self.what, self.name
        )
    }
}

/// Warnings for every undefined name, in filter order, each name once per
/// filter.
pub fn validate(filters: &[Filter], known: &KnownNames) -> Vec<Warning> {
    let mut out = Vec::new();
    for f in filters {
        let mut v = Visitor {
            filter: &f.name,
            known,
            out: Vec::new(),
        };
        v.stmts(&f.body);
        for w in v.out {
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

struct Visitor<'a> {
    filter: &'a str,
    known: &'a KnownNames,
    out: Vec<Warning>,
}

impl Visitor<'_> {
    fn warn(&mut self, what: &'static str, name: &str) {
        self.out.push(Warning {
            filter: self.filter.to_string(),
            what,
            name: name.to_string(),
        });
    }

    fn check(&mut self, what: &'static str, name: &str, known: &[String]) {
        // Names built from variables are only known per message.
        if !name.contains('$') && !known.iter().any(|k| k == name) {
            self.warn(what, name);
        }
    }

    fn stmts(&mut self, stmts: &[Stmt]) {
        for s in stmts {
            match s {
                Stmt::Action(a) => self.action(a),
                Stmt::If(chain) => {
                    for (c, block) in &chain.branches {
                        self.condition(c);
                        self.stmts(block);
                    }
                    if let Some(block) = &chain.otherwise {
                        self.stmts(block);
                    }
                }
            }
        }
    }

    fn condition(&mut self, c: &Condition) {
        let known = self.known;
        match c {
            // sendergroup is a regex: warn when it matches no group.
            Condition::Text(TextField::SenderGroup, _, p)
                if !known.sender_groups.iter().any(|g| p.is_match(g)) =>
            {
                self.warn("sender group", p.source());
            }
            Condition::RecvListener(_, n) => self.check("listener", n, &known.listeners),
            Condition::RecvInt(_, n) => self.check("interface", n, &known.interfaces),
            Condition::Not(a) => self.condition(a),
            Condition::And(a, b) | Condition::Or(a, b) => {
                self.condition(a);
                self.condition(b);
            }
            _ => {}
        }
    }

    fn action(&mut self, a: &Action) {
        let known = self.known;
        match a {
            Action::Quarantine(q) | Action::DuplicateQuarantine(q) => {
                self.check("quarantine", q, &known.quarantines)
            }
            Action::BounceProfile(b) => self.check("bounce profile", b, &known.bounce_profiles),
            Action::AltSrcHost(i) => self.check("interface", i, &known.interfaces),
            _ => {}
        }
    }
}
