//! Rewrites on the corpus: the result must still parse, carry the change,
//! and leave everything else alone.

use mail_parser::{MessageParser, MimeHeaders};

use super::*;
use crate::apply_rewrites;

fn rewrite(script: &str, raw: &[u8]) -> Vec<u8> {
    let v = run(script, &inbound(raw));
    apply_rewrites(&v.actions, raw)
}

fn text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

#[test]
fn header_rewrites() {
    let out = rewrite(
        "h: if true { strip-header('x-spam'); insert-header('X-Scanned', 'by $Hostname for $MID'); \
         edit-header-text('Subject', '^(.*)!!!$', '[SPAM] \\\\1'); }",
        SPAM,
    );
    let t = text(&out);
    assert!(!t.contains("X-Spam"));
    assert!(
        t.contains("Subject: [SPAM] You have WON a free cruise\r\n"),
        "{t}"
    );
    assert!(
        t.contains("us-ascii\r\nX-Scanned: by esa1.your_domain.com for 94011\r\n\r\nClick here")
    );

    // Non-ASCII results are encoded; injection through a value is defused.
    let out = rewrite(
        "h: if true { edit-header-text('Subject', 'déplacée', 'annulée'); \
         insert-header('X-Note', 'x\\r\\nBcc: evil@example.com'); }",
        ENCODED_SUBJECT,
    );
    let msg = MessageParser::default().parse(&out).unwrap();
    assert_eq!(msg.subject(), Some("Réunion budgétaire – annulée"));
    assert!(!text(&out).contains("\nBcc:"));
}

#[test]
fn edit_body_text_keeps_encodings() {
    for (raw, pattern, replacement, want) in [
        (PLAIN, "at noon", "at 13:00", "usual place at 13:00"),
        (
            MULTIPART,
            "signed contract",
            "contrat signé",
            "attached are the contrat signé",
        ),
        (ENCODED_SUBJECT, "jeudi", "vendredi", "déplacée à vendredi"),
        (BASE64_TEXT, "資料", "書類", "会議の書類を送ります"),
        (NESTED, "weekly", "monthly", "Your monthly report is ready"),
    ] {
        let script = format!("b: if true {{ edit-body-text('{pattern}', '{replacement}'); }}");
        let out = rewrite(&script, raw);
        let msg = MessageParser::default().parse(&out).expect("still parses");
        let body = msg.body_text(0).expect("text body").into_owned();
        assert!(body.contains(want), "{pattern}: {body}");
        assert_eq!(
            msg.attachment_count(),
            MessageParser::default()
                .parse(raw)
                .unwrap()
                .attachment_count()
        );
    }
    // The HTML alternative is edited too; the attached message is not.
    let out = text(&rewrite(
        "b: if true { edit-body-text('(?i)weekly', 'monthly'); edit-body-text('CONFIDENTIAL', 'x'); }",
        NESTED,
    ));
    assert!(out.contains("Your <b>monthly</b> report"));
    assert!(out.contains("The word CONFIDENTIAL appears only here."));
    // Base64 stays base64.
    let out = text(&rewrite(
        "b: if true { edit-body-text('資料', '書類'); }",
        BASE64_TEXT,
    ));
    assert!(out.contains("Content-Transfer-Encoding: base64\r\n\r\n"));
}

#[test]
fn add_footer_goes_to_the_first_text_plain_part() {
    let footer = "b: if true { add-footer('-- Scanned by Breakwater ($MID) für Sie'); }";
    for raw in [PLAIN, MULTIPART, NESTED, ENCODED_SUBJECT, BASE64_TEXT] {
        let out = rewrite(footer, raw);
        let msg = MessageParser::default().parse(&out).expect("still parses");
        let body = msg.body_text(0).unwrap().into_owned();
        assert!(
            body.trim_end()
                .ends_with("-- Scanned by Breakwater (94011) für Sie"),
            "{body}"
        );
    }
    let out = text(&rewrite(footer, PLAIN));
    assert!(
        out.contains("charset=\"utf-8\""),
        "non-ASCII footer relabels the charset"
    );
    assert!(out.contains("Content-Transfer-Encoding: quoted-printable"));
}

#[test]
fn drop_attachments_by_name() {
    let out = rewrite(
        "d: if true { drop-attachments-by-name('\\\\.exe$'); }",
        MULTIPART,
    );
    let msg = MessageParser::default().parse(&out).unwrap();
    let names: Vec<&str> = msg
        .attachments()
        .filter_map(|a| a.attachment_name())
        .collect();
    assert_eq!(names, vec!["contract-signed.pdf"]);
    assert!(text(&out).ends_with("------=_Part_0_1234.5678--\r\n"));
    assert!(msg.body_text(0).unwrap().contains("Dear team"));

    let out = rewrite(
        "d: if true { drop-attachments-by-name('(pdf|exe)$', 'Attachment removed by policy'); }",
        MULTIPART,
    );
    let msg = MessageParser::default().parse(&out).unwrap();
    assert_eq!(
        msg.attachments()
            .filter(|a| a.attachment_name().is_some())
            .count(),
        0
    );
    assert_eq!(
        text(&out).matches("Attachment removed by policy").count(),
        2
    );
    // No match: byte-identical.
    assert_eq!(
        rewrite(
            "d: if true { drop-attachments-by-name('\\\\.zip$'); }",
            MULTIPART
        ),
        MULTIPART
    );
}

#[test]
fn rewrites_never_panic_on_corpus_prefixes() {
    let script = "r: if true { strip-header('Subject'); insert-header('X', 'y'); \
        edit-header-text('From', 'a', 'b'); edit-body-text('e', 'E'); add-footer('f'); \
        drop-attachments-by-name('.'); }";
    let v = run(script, &inbound(PLAIN));
    for raw in ALL {
        for cut in (0..raw.len()).step_by(37) {
            let _ = apply_rewrites(&v.actions, &raw[..cut]);
        }
    }
}
