//! Comments on sender groups and their members ([`Config::hat_comments`]).
//!
//! They live beside the listeners rather than in [`SenderGroup`] because
//! the stored config (postcard, positional) can only grow at its end; so
//! they are keyed by names — listener, sender group, member as typed —
//! and whatever renames or deletes a group or member keeps them in step
//! through the helpers here. [`Config::validate`] refuses what would
//! otherwise drift: a comment on nothing, two comments on one thing, and
//! text a one-line display cannot show.
//!
//! [`SenderGroup`]: super::model::SenderGroup

use super::model::{Config, HatComment};

/// The longest comment, in characters: AsyncOS's web UI field takes a
/// sentence ("From Microsoft 365 mail to Cisco Secure Email"), and 255 is
/// what its text fields hold.
pub const MAX_HAT_COMMENT_CHARS: usize = 255;

/// Why a comment text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HatCommentError {
    #[error("a comment holds at most {MAX_HAT_COMMENT_CHARS} characters (this one has {0}).")]
    TooLong(usize),
    #[error("a comment is one line of text: no control characters (tabs, line breaks).")]
    ControlCharacter,
}

/// Checks a comment's text (an empty one means "no comment").
pub fn check_hat_comment(text: &str) -> Result<(), HatCommentError> {
    let n = text.chars().count();
    if n > MAX_HAT_COMMENT_CHARS {
        return Err(HatCommentError::TooLong(n));
    }
    if text.chars().any(char::is_control) {
        return Err(HatCommentError::ControlCharacter);
    }
    Ok(())
}

impl Config {
    /// Sets (or, with an empty `comment`, removes) the comment on group
    /// `group` of `listener`, or on its member `member` (as stored). The
    /// names are the stored ones; the caller has found them.
    pub fn set_hat_comment(
        &mut self,
        listener: &str,
        group: &str,
        member: Option<&str>,
        comment: &str,
    ) {
        let comment = comment.trim();
        let at = self.hat_comments.iter().position(|c| {
            c.listener == listener && c.sender_group == group && c.member.as_deref() == member
        });
        match (at, comment.is_empty()) {
            (Some(i), true) => {
                self.hat_comments.remove(i);
            }
            (Some(i), false) => self.hat_comments[i].comment = comment.to_string(),
            (None, true) => {}
            (None, false) => self.hat_comments.push(HatComment {
                listener: listener.to_string(),
                sender_group: group.to_string(),
                member: member.map(str::to_string),
                comment: comment.to_string(),
            }),
        }
    }

    /// Group `from` of `listener` is now called `to`: its comments and its
    /// members' follow it.
    pub fn rename_hat_comments(&mut self, listener: &str, from: &str, to: &str) {
        for c in &mut self.hat_comments {
            if c.listener == listener && c.sender_group == from {
                c.sender_group = to.to_string();
            }
        }
    }

    /// Drops the comments whose listener, group or member is gone (after a
    /// delete, clear or import): what is left is exactly what `validate`
    /// accepts.
    pub fn prune_hat_comments(&mut self) {
        let mut kept = std::mem::take(&mut self.hat_comments);
        kept.retain(|c| self.hat_comment_target_exists(c));
        self.hat_comments = kept;
    }

    fn hat_comment_target_exists(&self, c: &HatComment) -> bool {
        let group = self
            .listeners
            .iter()
            .find(|l| l.name == c.listener)
            .and_then(|l| l.hat.iter().find(|g| g.name == c.sender_group));
        match (group, &c.member) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(g), Some(m)) => g.members.iter().any(|x| &**x == m.as_str()),
        }
    }

    /// The problems of [`Config::validate`] about comments, each as
    /// (field, message).
    pub(crate) fn hat_comment_problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, c) in self.hat_comments.iter().enumerate() {
            let field = format!("hat_comments[{i}]");
            let what = match &c.member {
                Some(m) => format!("member '{m}' of sender group {}", c.sender_group),
                None => format!("sender group {}", c.sender_group),
            };
            if !self.hat_comment_target_exists(c) {
                out.push((
                    field.clone(),
                    format!(
                        "the comment is on {what} of listener {}, which does not exist.",
                        c.listener
                    ),
                ));
            }
            if c.comment.is_empty() {
                out.push((field.clone(), format!("the comment on {what} is empty.")));
            }
            if let Err(e) = check_hat_comment(&c.comment) {
                out.push((field.clone(), format!("the comment on {what}: {e}")));
            }
            let twice = self.hat_comments[..i].iter().any(|o| {
                o.listener == c.listener && o.sender_group == c.sender_group && o.member == c.member
            });
            if twice {
                out.push((field, format!("{what} has two comments.")));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::Certificate;
    use super::super::factory::factory_config;
    use super::*;

    fn factory() -> Config {
        let board = breakwater_board::BoardProfile::builtin("dev").unwrap();
        let cert = Certificate {
            name: "Demo".into(),
            cert_pem: "CERT".into(),
            key_pem: "KEY".into(),
        };
        factory_config(&board, cert)
    }

    fn relaylist(cfg: &Config) -> (String, String) {
        let l = cfg
            .listeners
            .iter()
            .find(|l| l.hat.iter().any(|g| g.name == "RELAYLIST"))
            .expect("a listener with RELAYLIST");
        (l.name.clone(), "RELAYLIST".to_string())
    }

    #[test]
    fn comments_are_set_replaced_removed_and_follow_a_renamed_group() {
        let mut cfg = factory();
        let (l, g) = relaylist(&cfg);
        cfg.set_hat_comment(&l, &g, None, " From Microsoft 365 ");
        cfg.set_hat_comment(
            &l,
            &g,
            None,
            "From Microsoft 365 mail to Cisco Secure Email",
        );
        assert_eq!(
            cfg.hat_comment(&l, &g, None),
            Some("From Microsoft 365 mail to Cisco Secure Email")
        );
        assert_eq!(cfg.hat_comments.len(), 1);
        cfg.validate().unwrap();
        cfg.listeners
            .iter_mut()
            .find(|x| x.name == l)
            .unwrap()
            .hat
            .iter_mut()
            .find(|x| x.name == g)
            .unwrap()
            .name = "RELAY_O365".into();
        assert!(cfg.validate().is_err(), "the comment names the old group");
        cfg.rename_hat_comments(&l, &g, "RELAY_O365");
        cfg.validate().unwrap();
        cfg.set_hat_comment(&l, "RELAY_O365", None, "");
        assert!(cfg.hat_comments.is_empty());
    }

    #[test]
    fn validate_refuses_orphans_control_characters_long_and_double_comments() {
        let mut cfg = factory();
        let (l, g) = relaylist(&cfg);
        let comment = |member: Option<&str>, text: &str| HatComment {
            listener: l.clone(),
            sender_group: g.clone(),
            member: member.map(str::to_string),
            comment: text.to_string(),
        };
        cfg.hat_comments = vec![
            comment(Some("10.9.9.9"), "not a member"),
            comment(None, "two\nlines"),
            comment(None, &"x".repeat(MAX_HAT_COMMENT_CHARS + 1)),
            HatComment {
                listener: "Nope".into(),
                ..comment(None, "no such listener")
            },
        ];
        let errors = cfg.validate().unwrap_err().errors;
        let said: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        let has = |field: &str, text: &str| {
            said.iter()
                .any(|s| s.starts_with(field) && s.contains(text))
        };
        assert!(has("hat_comments[0]", "member '10.9.9.9'"), "{said:?}");
        assert!(has("hat_comments[0]", "does not exist"), "{said:?}");
        assert!(has("hat_comments[1]", "no control characters"), "{said:?}");
        assert!(has("hat_comments[2]", "two comments"), "{said:?}");
        assert!(has("hat_comments[2]", "at most 255 characters"), "{said:?}");
        assert!(has("hat_comments[3]", "listener Nope"), "{said:?}");
        cfg.prune_hat_comments();
        assert_eq!(cfg.hat_comments.len(), 2, "the group's two comments stay");
        assert_eq!(check_hat_comment(&"é".repeat(255)), Ok(()));
    }
}
