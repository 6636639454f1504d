//! Feeds arbitrary bytes to the filters as a message: header parsing,
//! RFC 2047 decoding, the MIME prescan and mail-parser behind it, the
//! rules that look at headers, addresses, parts and bodies, and the
//! rewrites that edit the MIME tree. Properties checked: nothing panics
//! or overflows the stack, and a message the limits cut short is never
//! `valid`. The first byte chooses the default limits or tiny ones (so
//! that small inputs reach every cut).
#![no_main]

use std::sync::{Once, OnceLock};

use breakwater::filters::{
    ActionKind, Filter, MessageContext, MimeLimits, NoLookups, Verdict, apply_rewrites, evaluate,
    parse,
};
use breakwater::ids::Mid;
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;

/// One filter per rule family, each tagging the message when it matches.
const SCRIPT: &str = r#"
h: if header("X-Spam") == "^yes" or header("Received") { tag-message("h"); }
s: if subject == "(?i)win" { tag-message("s"); }
b: if body-contains("viagra") or only-body-contains("(?i)free\\s+money", 2) { tag-message("b"); }
a: if attachment-filename == "\\.exe$" or attachment-type == "application/*" { tag-message("a"); }
z: if attachment-size > 1000 { tag-message("z"); }
c: if addr-count("To", "Cc") > 3 { tag-message("c"); }
v: if not valid { tag-message("v"); }
d: if dnslist("bl.example.net") { tag-message("d"); }
i: if smtp-auth-id-matches("*FromAddress") { tag-message("i"); }
r: if true {
  strip-header("X-Spam");
  edit-body-text("money", "cash");
  drop-attachments-by-name("\\.exe$");
  add-footer("-- scanned");
}
"#;

fn filters() -> &'static [Filter] {
    static F: OnceLock<Vec<Filter>> = OnceLock::new();
    F.get_or_init(|| parse(SCRIPT).expect("the fuzz script parses"))
}

fn tagged(v: &Verdict, tag: &str) -> bool {
    v.actions
        .iter()
        .any(|a| matches!(&a.kind, ActionKind::TagMessage { tag: t } if t == tag))
}

/// libFuzzer's panic hook aborts on every panic, caught or not. The
/// firmware catches `mail-parser`'s panics (its debug assertions, on in
/// fuzz builds) and reads such a message as malformed, so only those pass
/// through; every other panic still aborts and is reported.
fn let_mail_parser_panics_unwind() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let fuzzer_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info
                .location()
                .is_some_and(|l| l.file().contains("/mail-parser-"))
            {
                return;
            }
            fuzzer_hook(info);
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    let_mail_parser_panics_unwind();
    let Some((&mode, raw)) = data.split_first() else {
        return;
    };
    let now = Utc.with_ymd_and_hms(2024, 5, 14, 13, 54, 19).single().expect("date");
    let mut ctx = MessageContext::new(Mid(1), raw, now);
    ctx.envelope_sender = "bob@example.org".into();
    ctx.recipients = vec!["alice@example.com".into()];
    ctx.smtp_auth_id = Some("bob".into());
    if mode & 1 == 1 {
        ctx.limits = MimeLimits {
            max_depth: 2,
            max_parts: 4,
            max_decoded: 256,
            max_delimiters: 8,
            max_declarations: 3,
            max_boundary_field: 24,
            max_header_bytes: 64,
        };
    }
    let verdict = evaluate(filters(), &ctx, &NoLookups, &mut StdRng::seed_from_u64(7));
    if ctx.mime_limit().is_some() {
        assert!(tagged(&verdict, "v"), "a message cut short is not valid");
    }
    let out = apply_rewrites(&verdict.actions, raw);
    drop(out);
});
