//! Bounce Verification (`bvconfig`, AsyncOS's name): outgoing mail leaves
//! with a keyed, time-limited tag in its envelope sender, and incoming
//! bounces (`MAIL FROM:<>`) to addresses without a valid tag are refused
//! (or flagged), so forged bounces (backscatter) never reach mailboxes.
//!
//! The tag is BATV's `prvs` form (draft-levine-smtp-batv):
//! `prvs=KDDDSSSSSS=user@domain`, K the key's number (0-9), DDD the last
//! day the tag is valid (days since 1970, modulo 1000), SSSSSS the first
//! three octets of HMAC-SHA256(key, "KDDD" + the lowercased address), in
//! hex. AsyncOS's guide shows the older `prvs=user=TAG@domain` order:
//! verification reads both, tagging writes BATV's.
//!
//! Settings that belong to a destination control or a HAT mail flow policy
//! are kept here, keyed by their names, because the stored structs cannot
//! grow (see `store`); `destconfig` and `listenerconfig` renames and
//! deletions call [`BounceVerificationSettings::rename_destination`] and
//! friends.

use serde::{Deserialize, Serialize};

/// Days a tag stays valid, and a replaced key keeps verifying (AsyncOS's
/// seven-day grace period).
pub const TAG_LIFETIME_DAYS: i64 = 7;
/// BATV's key number is one digit: at most ten keys.
pub const MAX_KEYS: usize = 10;
/// A typed key shorter than this is guessable.
pub const MIN_KEY_CHARS: usize = 10;
/// Longest key accepted.
pub const MAX_KEY_CHARS: usize = 1024;
/// The header AsyncOS adds to an invalid bounce it delivers.
pub const DEFAULT_HEADER_NAME: &str = "X-IronPort-Invalid-Bounce";
/// Its default value.
pub const DEFAULT_HEADER_VALUE: &str = "Bounce verification failed";

const SECS_PER_DAY: i64 = 86_400;

/// One address tagging key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggingKey {
    /// BATV's key number, 0-9 (the tag's first digit).
    pub number: u8,
    /// The secret: never printed whole, masked by `saveconfig`.
    pub secret: String,
    /// When it was added (Unix seconds).
    pub created: i64,
}

/// What happens to a bounce whose recipient has no valid tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvalidBounceAction {
    /// Refused at RCPT (AsyncOS's default).
    Reject,
    /// Accepted, delivered with this header added.
    AddHeader { name: String, value: String },
}

/// Tagging on or off for one destination control (AsyncOS's "Bounce
/// Verification: perform address tagging").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationTagging {
    pub destination: String,
    pub tag: bool,
}

/// The HAT mail flow policy setting "consider untagged bounces valid".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyUntaggedBounces {
    pub listener: String,
    pub policy: String,
    pub valid: bool,
}

/// `bvconfig`'s settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BounceVerificationSettings {
    /// Oldest first; the last one tags.
    pub keys: Vec<TaggingKey>,
    pub invalid_action: InvalidBounceAction,
    /// The default destination control's tagging (AsyncOS: off).
    pub default_tagging: bool,
    /// Per destination control, overriding the default.
    pub destinations: Vec<DestinationTagging>,
    /// Per (listener, mail flow policy); absent means no (AsyncOS's
    /// default: untagged bounces are invalid).
    pub untagged_valid: Vec<PolicyUntaggedBounces>,
}

impl Default for BounceVerificationSettings {
    fn default() -> Self {
        BounceVerificationSettings {
            keys: Vec::new(),
            invalid_action: InvalidBounceAction::Reject,
            default_tagging: false,
            destinations: Vec::new(),
            untagged_valid: Vec::new(),
        }
    }
}

/// Why a setting is refused; the text is the CLI's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BounceVerificationError {
    #[error("The tagging key must be {MIN_KEY_CHARS} to {MAX_KEY_CHARS} printable characters.")]
    BadKey,
    #[error(
        "{MAX_KEYS} tagging keys are kept already: purge old keys first ('bvconfig purge <days>')."
    )]
    TooManyKeys,
    #[error("Invalid header name '{0}': letters, digits and '-' only.")]
    BadHeaderName(String),
    #[error("Invalid header value: printable characters only, at most 200.")]
    BadHeaderValue,
}

impl BounceVerificationSettings {
    pub fn validate(&self) -> Result<(), BounceVerificationError> {
        if self.keys.len() > MAX_KEYS {
            return Err(BounceVerificationError::TooManyKeys);
        }
        for k in &self.keys {
            check_secret(&k.secret)?;
        }
        if let InvalidBounceAction::AddHeader { name, value } = &self.invalid_action {
            check_header(name, value)?;
        }
        Ok(())
    }

    /// The key that tags, if any.
    pub fn current_key(&self) -> Option<&TaggingKey> {
        self.keys.last()
    }

    /// Adds `secret` as the current key, numbered after the previous one.
    pub fn add_key(&mut self, secret: String, now: i64) -> Result<u8, BounceVerificationError> {
        check_secret(&secret)?;
        if self.keys.len() >= MAX_KEYS {
            return Err(BounceVerificationError::TooManyKeys);
        }
        let number = self.current_key().map_or(0, |k| (k.number + 1) % 10);
        self.keys.push(TaggingKey {
            number,
            secret,
            created: now,
        });
        Ok(number)
    }

    /// Removes the keys (never the current one) added more than `days`
    /// days before `now`; how many went.
    pub fn purge_older_than(&mut self, days: i64, now: i64) -> usize {
        let before = self.keys.len();
        let last = before.saturating_sub(1);
        let mut i = 0;
        self.keys.retain(|k| {
            let keep = i == last || now - k.created < days * SECS_PER_DAY;
            i += 1;
            keep
        });
        before - self.keys.len()
    }

    /// Whether mail to `domain` is tagged: its destination control's
    /// setting, else the default's.
    pub fn tags_destination(&self, domain: &str) -> bool {
        // As destination controls match: the domain itself, then a
        // `.example.com` row for its subdomains.
        let domain = domain.to_ascii_lowercase();
        let exact = self.destinations.iter().find(|d| d.destination == domain);
        exact
            .or_else(|| {
                self.destinations
                    .iter()
                    .find(|d| d.destination.starts_with('.') && domain.ends_with(&d.destination))
            })
            .map_or(self.default_tagging, |d| d.tag)
    }

    /// Whether incoming bounces are checked at all: a key exists and some
    /// destination is tagged (checking bounces to mail never tagged would
    /// refuse every legitimate one).
    pub fn checks_bounces(&self) -> bool {
        !self.keys.is_empty() && (self.default_tagging || self.destinations.iter().any(|d| d.tag))
    }

    /// The HAT policy's "consider untagged bounces valid".
    pub fn untagged_valid(&self, listener: &str, policy: &str) -> bool {
        self.untagged_valid
            .iter()
            .any(|p| p.listener == listener && p.policy == policy && p.valid)
    }

    pub fn set_untagged_valid(&mut self, listener: &str, policy: &str, valid: bool) {
        self.untagged_valid
            .retain(|p| !(p.listener == listener && p.policy == policy));
        if valid {
            self.untagged_valid.push(PolicyUntaggedBounces {
                listener: listener.to_string(),
                policy: policy.to_string(),
                valid,
            });
        }
    }

    pub fn set_destination(&mut self, destination: &str, tag: bool) {
        self.destinations
            .retain(|d| !d.destination.eq_ignore_ascii_case(destination));
        self.destinations.push(DestinationTagging {
            destination: destination.to_ascii_lowercase(),
            tag,
        });
    }

    /// A destination control was renamed (`None`: deleted).
    pub fn rename_destination(&mut self, old: &str, new: Option<&str>) {
        match new {
            Some(n) => self
                .destinations
                .iter_mut()
                .filter(|d| d.destination.eq_ignore_ascii_case(old))
                .for_each(|d| d.destination = n.to_ascii_lowercase()),
            None => self
                .destinations
                .retain(|d| !d.destination.eq_ignore_ascii_case(old)),
        }
    }

    /// A listener or mail flow policy was renamed or deleted.
    pub fn rename_policy(&mut self, listener: &str, old: &str, new: Option<&str>) {
        match new {
            Some(n) => self
                .untagged_valid
                .iter_mut()
                .filter(|p| p.listener == listener && p.policy == old)
                .for_each(|p| p.policy = n.to_string()),
            None => self
                .untagged_valid
                .retain(|p| !(p.listener == listener && p.policy == old)),
        }
    }

    /// The keys that verify a tag at `now`: the current one, and those it
    /// replaced less than [`TAG_LIFETIME_DAYS`] ago (all of them when
    /// `lenient`: AsyncOS ignores the expiry for non-bounce mail).
    fn verifying_keys(&self, now: i64, lenient: bool) -> impl Iterator<Item = &TaggingKey> {
        let replaced_at = self
            .keys
            .iter()
            .skip(1)
            .map(|k| Some(k.created))
            .chain([None]);
        self.keys
            .iter()
            .zip(replaced_at)
            .filter(move |(_, r)| {
                lenient || r.is_none_or(|r| now - r < TAG_LIFETIME_DAYS * SECS_PER_DAY)
            })
            .map(|(k, _)| k)
    }
}

/// Forgets the tagging of destination controls and the untagged-bounce
/// setting of mail flow policies that no longer exist: `destconfig delete`
/// and `hostaccess deletepolicy` call it, so a row added again later starts
/// from the defaults, as AsyncOS's would.
pub fn forget_missing(config: &mut crate::Config) {
    let (controls, listeners) = (&config.destination_controls, &config.listeners);
    config.bounce_verification.destinations.retain(|d| {
        controls
            .iter()
            .any(|c| c.domain.eq_ignore_ascii_case(&d.destination))
    });
    config.bounce_verification.untagged_valid.retain(|p| {
        listeners
            .iter()
            .filter(|l| l.name == p.listener)
            .any(|l| l.policies.iter().any(|m| m.name == p.policy))
    });
}

fn check_secret(secret: &str) -> Result<(), BounceVerificationError> {
    let n = secret.chars().count();
    if !(MIN_KEY_CHARS..=MAX_KEY_CHARS).contains(&n) || secret.chars().any(|c| c.is_control()) {
        return Err(BounceVerificationError::BadKey);
    }
    Ok(())
}

/// Checks a custom header for invalid bounces.
pub fn check_header(name: &str, value: &str) -> Result<(), BounceVerificationError> {
    if name.is_empty()
        || name.len() > 76
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(BounceVerificationError::BadHeaderName(name.to_string()));
    }
    if value.len() > 200 || value.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(BounceVerificationError::BadHeaderValue);
    }
    Ok(())
}

/// A key shown without its secret: the first two characters and a mask.
pub fn masked_secret(secret: &str) -> String {
    let head: String = secret.chars().take(2).collect();
    format!("{head}********")
}

/// A new random key: 32 octets from the system's generator, in hex.
pub fn generate_secret() -> Result<String, aws_lc_rs::error::Unspecified> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn day_of(now: i64) -> i64 {
    now.div_euclid(SECS_PER_DAY)
}

fn signature(key: &TaggingKey, kddd: &str, address: &str) -> String {
    use aws_lc_rs::hmac;
    let k = hmac::Key::new(hmac::HMAC_SHA256, key.secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&k);
    ctx.update(kddd.as_bytes());
    ctx.update(address.to_ascii_lowercase().as_bytes());
    let tag = ctx.sign();
    tag.as_ref()[..3]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `address` tagged with `key` at `now` (Unix seconds). A null sender, an
/// address without a domain or one already tagged is returned as is
/// (AsyncOS never tags twice: a bounce relayed by a second appliance).
pub fn tag(key: &TaggingKey, address: &str, now: i64) -> String {
    if address.is_empty() || parse(address).is_some() {
        return address.to_string();
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return address.to_string();
    };
    let expires = (day_of(now) + TAG_LIFETIME_DAYS).rem_euclid(1000);
    let kddd = format!("{}{expires:03}", key.number % 10);
    let sig = signature(key, &kddd, address);
    format!("prvs={kddd}{sig}={local}@{domain}")
}

/// A tagged address's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tagged {
    pub number: u8,
    pub expires: i64,
    pub signature: String,
    /// The address the tag was made for.
    pub original: String,
}

fn parse_tag(t: &str) -> Option<(u8, i64, String)> {
    let b = t.as_bytes();
    if b.len() != 10 || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    if !b[4..].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let number = b[0] - b'0';
    let expires = t[1..4].parse().ok()?;
    Some((number, expires, t[4..].to_ascii_lowercase()))
}

/// Reads a tagged address (`prvs=TAG=user@domain`, or AsyncOS's older
/// `prvs=user=TAG@domain`); `None` when it carries no tag.
pub fn parse(address: &str) -> Option<Tagged> {
    let (local, domain) = address.rsplit_once('@')?;
    let rest = local
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("prvs="))
        .map(|_| &local[5..])?;
    let (a, b) = rest.split_once('=')?;
    let ((number, expires, signature), user) = match (parse_tag(a), parse_tag(b)) {
        (Some(t), _) if !b.is_empty() => (t, b),
        (None, Some(t)) if !a.is_empty() => (t, a),
        _ => return None,
    };
    Some(Tagged {
        number,
        expires,
        signature,
        original: format!("{user}@{domain}"),
    })
}

/// Why a recipient's tag does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("untagged")]
    Untagged,
    #[error("tag expired")]
    Expired,
    #[error("invalid tag")]
    Invalid,
}

impl BounceVerificationSettings {
    /// The original address of a tagged `address` whose tag verifies at
    /// `now`. `lenient` (non-bounce mail) ignores the expiry and the
    /// replaced keys' grace period, as AsyncOS does.
    pub fn verify(&self, address: &str, now: i64, lenient: bool) -> Result<String, TagError> {
        let t = parse(address).ok_or(TagError::Untagged)?;
        let kddd = format!("{}{:03}", t.number, t.expires);
        let signed = self
            .verifying_keys(now, lenient)
            .filter(|k| k.number == t.number)
            .any(|k| signature(k, &kddd, &t.original) == t.signature);
        if !signed {
            return Err(TagError::Invalid);
        }
        // DDD is the last valid day, modulo 1000: valid while it lies
        // between today and the longest lifetime ahead.
        let ahead = (t.expires - day_of(now)).rem_euclid(1000);
        if !lenient && ahead > TAG_LIFETIME_DAYS {
            return Err(TagError::Expired);
        }
        Ok(t.original)
    }
}

/// What a public listener's session checks, fixed when the connection is
/// accepted (from the committed configuration and its HAT match).
#[derive(Debug, Clone)]
pub struct BounceCheck {
    pub settings: std::sync::Arc<BounceVerificationSettings>,
    /// The matched mail flow policy considers untagged bounces valid.
    pub untagged_valid: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_780_000_000;

    fn settings() -> BounceVerificationSettings {
        let mut s = BounceVerificationSettings {
            default_tagging: true,
            ..Default::default()
        };
        s.add_key("first secret key".into(), NOW - 100).unwrap();
        s
    }

    #[test]
    fn tags_in_batv_form_and_verifies() {
        let s = settings();
        let t = tag(s.current_key().unwrap(), "joe@example.com", NOW);
        assert!(
            t.starts_with("prvs=0") && t.ends_with("=joe@example.com"),
            "{t}"
        );
        assert_eq!(t.len(), "prvs=0123abcdef=joe@example.com".len());
        assert_eq!(s.verify(&t, NOW, false), Ok("joe@example.com".into()));
        assert_eq!(
            s.verify(&t, NOW + 6 * SECS_PER_DAY, false),
            Ok("joe@example.com".into())
        );
    }

    #[test]
    fn expires_after_the_lifetime() {
        let s = settings();
        let t = tag(s.current_key().unwrap(), "joe@example.com", NOW);
        assert_eq!(
            s.verify(&t, NOW + 9 * SECS_PER_DAY, false),
            Err(TagError::Expired)
        );
        // Non-bounce mail is read leniently.
        assert!(s.verify(&t, NOW + 9 * SECS_PER_DAY, true).is_ok());
    }

    #[test]
    fn a_wrong_key_or_a_forged_tag_fails() {
        let s = settings();
        let other = TaggingKey {
            number: 0,
            secret: "another secret".into(),
            created: NOW,
        };
        let t = tag(&other, "joe@example.com", NOW);
        assert_eq!(s.verify(&t, NOW, false), Err(TagError::Invalid));
        assert_eq!(
            s.verify("joe@example.com", NOW, false),
            Err(TagError::Untagged)
        );
        let good = tag(s.current_key().unwrap(), "joe@example.com", NOW);
        let moved = good.replace("=joe@", "=eve@");
        assert_eq!(s.verify(&moved, NOW, false), Err(TagError::Invalid));
    }

    #[test]
    fn the_local_part_and_tag_are_case_insensitive() {
        let s = settings();
        let t = tag(s.current_key().unwrap(), "Joe@Example.com", NOW);
        assert_eq!(
            s.verify(&t.to_ascii_uppercase(), NOW, false),
            Ok("JOE@EXAMPLE.COM".into())
        );
    }

    #[test]
    fn reads_asyncos_older_order_and_never_tags_twice() {
        let s = settings();
        let t = tag(s.current_key().unwrap(), "joe@example.com", NOW);
        let p = parse(&t).unwrap();
        let tagval = &t[5..15];
        let old = format!("prvs=joe={tagval}@example.com");
        assert_eq!(parse(&old).unwrap(), p);
        assert_eq!(s.verify(&old, NOW, false), Ok("joe@example.com".into()));
        assert_eq!(tag(s.current_key().unwrap(), &t, NOW), t);
        assert_eq!(tag(s.current_key().unwrap(), "", NOW), "");
    }

    #[test]
    fn replaced_keys_verify_for_the_grace_period_and_purged_ones_never() {
        let mut s = settings();
        let old = tag(s.current_key().unwrap(), "joe@example.com", NOW);
        s.add_key("second secret key".into(), NOW).unwrap();
        assert_eq!(s.current_key().unwrap().number, 1);
        assert!(s.verify(&old, NOW + SECS_PER_DAY, false).is_ok());
        assert_eq!(s.purge_older_than(0, NOW + 10), 1);
        assert_eq!(s.keys.len(), 1);
        assert_eq!(
            s.verify(&old, NOW + SECS_PER_DAY, false),
            Err(TagError::Invalid)
        );
        // The current key is never purged.
        assert_eq!(s.purge_older_than(0, NOW + 10 * SECS_PER_DAY), 0);
    }

    #[test]
    fn per_destination_and_policy_settings_follow_renames() {
        let mut s = settings();
        s.set_destination(".sub.example", false);
        assert!(!s.tags_destination("a.sub.example"));
        s.set_destination("Internal.example", false);
        assert!(!s.tags_destination("internal.example"));
        assert!(s.tags_destination("gmail.com"));
        s.rename_destination("internal.example", Some("corp.example"));
        assert!(!s.tags_destination("corp.example"));
        s.rename_destination("corp.example", None);
        assert!(s.tags_destination("corp.example"));
        s.set_untagged_valid("IncomingMail", "TRUSTED", true);
        assert!(s.untagged_valid("IncomingMail", "TRUSTED"));
        s.rename_policy("IncomingMail", "TRUSTED", Some("PARTNERS"));
        assert!(s.untagged_valid("IncomingMail", "PARTNERS"));
        s.rename_policy("IncomingMail", "PARTNERS", None);
        assert!(!s.untagged_valid("IncomingMail", "PARTNERS"));
    }

    #[test]
    fn limits_are_refused() {
        let mut s = BounceVerificationSettings::default();
        assert_eq!(
            s.add_key("short".into(), NOW),
            Err(BounceVerificationError::BadKey)
        );
        for i in 0..MAX_KEYS {
            s.add_key(format!("secret key {i}"), NOW).unwrap();
        }
        assert_eq!(
            s.add_key("one key too many".into(), NOW),
            Err(BounceVerificationError::TooManyKeys)
        );
        assert!(check_header("X-Bad Header", "x").is_err());
        let g = generate_secret().unwrap();
        assert!(g.len() == 64 && g != generate_secret().unwrap());
        assert!(check_header(DEFAULT_HEADER_NAME, DEFAULT_HEADER_VALUE).is_ok());
    }
}
