//! Action variables: `$MID`, `$Subject`, `$Header['X']`, ... expanded in
//! action arguments when the action runs. Names are case-insensitive
//! (`$remotehost` and `$RemoteHost` are the same); an unknown `$Name` is
//! left as written.

use super::context::MessageContext;

/// The variable values for one message, captured once from its context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    pub mid: String,
    pub subject: String,
    pub remote_ip: String,
    pub remote_host: String,
    pub hostname: String,
    pub listener: String,
    pub interface: String,
    pub policy: String,
    pub sender_group: String,
    pub envelope_from: String,
    /// Envelope recipients joined with ", ".
    pub envelope_recipients: String,
    pub from_address: String,
    /// `HH:MM:SS` (the appliance's zone).
    pub time: String,
    /// `MM/DD/YYYY` (the appliance's zone).
    pub date: String,
    /// RFC 2822 date-time (the appliance's zone, with its offset).
    pub timestamp: String,
    pub body_size: String,
    /// The filter whose action is being expanded.
    pub filter_name: String,
    /// Decoded top-level headers, for `$Header['X']` (first occurrence).
    pub headers: Vec<(String, String)>,
}

impl Vars {
    pub fn from_context(ctx: &MessageContext<'_>) -> Vars {
        let local_now = breakwater_types::clock::local(ctx.now);
        Vars {
            mid: ctx.mid.to_string(),
            subject: ctx.subject().to_string(),
            remote_ip: ctx.remote_ip.to_string(),
            remote_host: ctx.remote_host.clone().unwrap_or_default(),
            hostname: ctx.hostname.clone(),
            listener: ctx.listener.clone(),
            interface: ctx.interface.clone(),
            policy: ctx.policy.clone().unwrap_or_default(),
            sender_group: ctx.sender_group.clone().unwrap_or_default(),
            envelope_from: ctx.envelope_sender.clone(),
            envelope_recipients: ctx.recipients.join(", "),
            from_address: ctx.from_address().unwrap_or_default(),
            // `$Time`, `$Date` and `$Timestamp` are the appliance's local
            // time (`settz`), as AsyncOS stamps them.
            time: local_now.format("%H:%M:%S").to_string(),
            date: local_now.format("%m/%d/%Y").to_string(),
            timestamp: local_now.to_rfc2822(),
            body_size: ctx.raw().len().to_string(),
            filter_name: String::new(),
            headers: ctx
                .headers()
                .iter()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect(),
        }
    }

    fn lookup(&self, name: &str) -> Option<&str> {
        let v = match name.to_ascii_lowercase().as_str() {
            "mid" => &self.mid,
            "subject" => &self.subject,
            "remoteip" => &self.remote_ip,
            "remotehost" => &self.remote_host,
            "hostname" => &self.hostname,
            "recvlistener" => &self.listener,
            "recvint" => &self.interface,
            "policy" => &self.policy,
            "group" => &self.sender_group,
            "envelopefrom" => &self.envelope_from,
            "enveloperecipients" => &self.envelope_recipients,
            "fromaddress" => &self.from_address,
            "time" => &self.time,
            "date" => &self.date,
            "timestamp" => &self.timestamp,
            "bodysize" => &self.body_size,
            "filtername" => &self.filter_name,
            _ => return None,
        };
        Some(v)
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
    }

    /// Expands the variables in `template`.
    pub fn expand(&self, template: &str) -> String {
        self.expand_with(template, |s| s.to_string())
    }

    /// Expands for a regex replacement template: variable values have their
    /// backslashes doubled so `\1` in a subject stays text.
    pub fn expand_replacement(&self, template: &str) -> String {
        self.expand_with(template, |s| s.replace('\\', "\\\\"))
    }

    fn expand_with(&self, template: &str, escape: impl Fn(&str) -> String) -> String {
        if !template.contains('$') {
            return template.to_string();
        }
        let mut out = String::with_capacity(template.len() + 32);
        let mut rest = template;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let word_len = after
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(after.len());
            let word = &after[..word_len];
            if word.eq_ignore_ascii_case("header")
                && let Some((name, used)) = header_subscript(&after[word_len..])
            {
                out.push_str(&escape(self.header(name)));
                rest = &after[word_len + used..];
                continue;
            }
            match self.lookup(word) {
                Some(v) if !word.is_empty() => {
                    out.push_str(&escape(v));
                    rest = &after[word_len..];
                }
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        out
    }
}

/// `['X-Name']` or `["X-Name"]`: the name and the bytes consumed.
fn header_subscript(s: &str) -> Option<(&str, usize)> {
    let bytes = s.as_bytes();
    if bytes.first() != Some(&b'[') {
        return None;
    }
    let quote = *bytes.get(1)?;
    if quote != b'\'' && quote != b'"' {
        return None;
    }
    let end = s[2..].find(quote as char)? + 2;
    if s.as_bytes().get(end + 1) != Some(&b']') {
        return None;
    }
    Some((&s[2..end], end + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_names_headers_and_leaves_unknown() {
        let v = Vars {
            mid: "42".into(),
            subject: r"50% off \1".into(),
            remote_host: "mx.example.net".into(),
            headers: vec![("X-Spam".into(), "yes".into())],
            ..Vars::default()
        };
        assert_eq!(
            v.expand("MID $MID from $remotehost"),
            "MID 42 from mx.example.net"
        );
        assert_eq!(
            v.expand("spam=$Header['x-spam'] $Header[\"X-None\"]."),
            "spam=yes ."
        );
        assert_eq!(v.expand("$Unknown $ $5"), "$Unknown $ $5");
        assert_eq!(v.expand_replacement("[$Subject]"), r"[50% off \\1]");
    }
}
