//! TLS versions and cipher preferences for the SMTP legs (`sslconfig`).
//!
//! AsyncOS's `sslconfig` keeps, per leg (inbound SMTP on the listeners,
//! outbound SMTP in delivery), the TLS methods offered and an
//! OpenSSL-style cipher string; the seeds recommend one for both legs.
//! rustls offers TLS 1.2 and 1.3 and a short list of AEAD suites, so the
//! string is read against that list (see `sslconfig` in docs/cli.md for
//! what it can and cannot express). Version 6 of the stored config added
//! these settings as a field at its end (see `store`).
//!
//! [`evaluate`] reads a cipher string the way OpenSSL's
//! `SSL_CTX_set_cipher_list` does (OpenSSL 3.0, `ssl/ssl_ciph.c`): every
//! suite starts inactive in OpenSSL's default preference order; a bare term
//! appends the matching inactive suites, `-` deactivates them (a later term
//! may add them back), `!` removes them for good, `+` moves the active ones
//! to the end, `@STRENGTH` sorts by key length (stably), and `A+B` means
//! "both A and B". Each of those steps decides a suite's place by its own
//! attributes alone, so evaluating over the six TLS 1.2 suites rustls has
//! (aws-lc-rs provider) gives exactly OpenSSL's answer restricted to them;
//! `breakwater-e2e`'s `sslconfig` test compares the two with the `openssl`
//! binary. The TLS 1.3 suites are not part of the string, as in OpenSSL
//! (which sets them with `Ciphersuites`): when TLS 1.3 is on, all three are
//! offered.
//!
//! Where OpenSSL is lenient, this is strict, because an administrator
//! reading the result cannot see what OpenSSL silently skipped: a word
//! that is neither a suite name nor an OpenSSL alias (past or present) is
//! an error, and so is a suite name rustls does not implement (DHE, CBC,
//! CCM, ARIA, CAMELLIA, PSK...) unless it is being removed.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `sslconfig`: one policy per SMTP leg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SslConfig {
    /// TLS the listeners accept (STARTTLS on Data 1 and Data 2).
    pub inbound: SslPolicy,
    /// TLS delivery offers to next hops and to the Threat Defense intake.
    pub outbound: SslPolicy,
}

/// The TLS methods and cipher string of one leg.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SslPolicy {
    /// TLS 1.2 offered.
    pub tls_1_2: bool,
    /// TLS 1.3 offered.
    pub tls_1_3: bool,
    /// An OpenSSL-style cipher string, as the administrator typed it.
    pub ciphers: String,
}

/// The factory string: OpenSSL's `DEFAULT` keyword, which selects all six
/// TLS 1.2 suites rustls offers, in OpenSSL's order (ECDHE, AES-256-GCM
/// then ChaCha20 then AES-128-GCM, ECDSA before RSA at each step).
pub const DEFAULT_CIPHERS: &str = "DEFAULT";

impl Default for SslPolicy {
    fn default() -> Self {
        Self {
            tls_1_2: true,
            tls_1_3: true,
            ciphers: DEFAULT_CIPHERS.to_string(),
        }
    }
}

/// A TLS 1.2 cipher suite Breakwater can negotiate: the ones rustls's
/// aws-lc-rs provider implements, in OpenSSL's default preference order
/// (the order of [`Tls12Suite::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tls12Suite {
    EcdheEcdsaAes256GcmSha384,
    EcdheRsaAes256GcmSha384,
    EcdheEcdsaChacha20Poly1305,
    EcdheRsaChacha20Poly1305,
    EcdheEcdsaAes128GcmSha256,
    EcdheRsaAes128GcmSha256,
}

/// How a suite authenticates the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    Rsa,
    Ecdsa,
}

/// A suite's bulk cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    Chacha20,
}

impl Tls12Suite {
    /// Every suite, in OpenSSL's default order (`openssl ciphers -s ALL`).
    pub const ALL: [Tls12Suite; 6] = [
        Tls12Suite::EcdheEcdsaAes256GcmSha384,
        Tls12Suite::EcdheRsaAes256GcmSha384,
        Tls12Suite::EcdheEcdsaChacha20Poly1305,
        Tls12Suite::EcdheRsaChacha20Poly1305,
        Tls12Suite::EcdheEcdsaAes128GcmSha256,
        Tls12Suite::EcdheRsaAes128GcmSha256,
    ];

    /// OpenSSL's name, as `mail_logs` and `openssl ciphers` print it.
    pub fn openssl_name(self) -> &'static str {
        match self {
            Tls12Suite::EcdheEcdsaAes256GcmSha384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
            Tls12Suite::EcdheRsaAes256GcmSha384 => "ECDHE-RSA-AES256-GCM-SHA384",
            Tls12Suite::EcdheEcdsaChacha20Poly1305 => "ECDHE-ECDSA-CHACHA20-POLY1305",
            Tls12Suite::EcdheRsaChacha20Poly1305 => "ECDHE-RSA-CHACHA20-POLY1305",
            Tls12Suite::EcdheEcdsaAes128GcmSha256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
            Tls12Suite::EcdheRsaAes128GcmSha256 => "ECDHE-RSA-AES128-GCM-SHA256",
        }
    }

    /// One line as `openssl ciphers -v` prints the suite
    /// (`ECDHE-RSA-AES256-GCM-SHA384 TLSv1.2 Kx=ECDH Au=RSA Enc=AESGCM(256) Mac=AEAD`).
    pub fn openssl_description(self) -> String {
        let au = match self.auth() {
            Auth::Rsa => "RSA",
            Auth::Ecdsa => "ECDSA",
        };
        let enc = match self.cipher() {
            Cipher::Aes128Gcm => "AESGCM(128)",
            Cipher::Aes256Gcm => "AESGCM(256)",
            Cipher::Chacha20 => "CHACHA20/POLY1305(256)",
        };
        format!(
            "{:<30} TLSv1.2 Kx=ECDH     Au={au:<5} Enc={enc:<22} Mac=AEAD",
            self.openssl_name()
        )
    }

    fn auth(self) -> Auth {
        match self {
            Tls12Suite::EcdheEcdsaAes256GcmSha384
            | Tls12Suite::EcdheEcdsaChacha20Poly1305
            | Tls12Suite::EcdheEcdsaAes128GcmSha256 => Auth::Ecdsa,
            _ => Auth::Rsa,
        }
    }

    fn cipher(self) -> Cipher {
        match self {
            Tls12Suite::EcdheEcdsaAes256GcmSha384 | Tls12Suite::EcdheRsaAes256GcmSha384 => {
                Cipher::Aes256Gcm
            }
            Tls12Suite::EcdheEcdsaChacha20Poly1305 | Tls12Suite::EcdheRsaChacha20Poly1305 => {
                Cipher::Chacha20
            }
            _ => Cipher::Aes128Gcm,
        }
    }

    /// OpenSSL's "strength bits": the symmetric key length.
    fn strength_bits(self) -> u16 {
        match self.cipher() {
            Cipher::Aes128Gcm => 128,
            Cipher::Aes256Gcm | Cipher::Chacha20 => 256,
        }
    }
}

impl fmt::Display for Tls12Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.openssl_name())
    }
}

/// The TLS 1.3 suites offered whenever TLS 1.3 is on, as
/// `openssl ciphers -v` prints them (OpenSSL's default `Ciphersuites`).
pub const TLS13_SUITES: [&str; 3] = [
    "TLS_AES_256_GCM_SHA384         TLSv1.3 Kx=any      Au=any   Enc=AESGCM(256)            Mac=AEAD",
    "TLS_CHACHA20_POLY1305_SHA256   TLSv1.3 Kx=any      Au=any   Enc=CHACHA20/POLY1305(256) Mac=AEAD",
    "TLS_AES_128_GCM_SHA256         TLSv1.3 Kx=any      Au=any   Enc=AESGCM(128)            Mac=AEAD",
];

/// Why a cipher string cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CipherStringError {
    #[error("'{0}' is neither an OpenSSL cipher suite name nor an OpenSSL cipher alias")]
    UnknownWord(String),
    #[error(
        "'{0}' is a cipher suite rustls (Breakwater's TLS library) does not implement; \
         its TLS 1.2 suites are {list}",
        list = suite_list(&Tls12Suite::ALL)
    )]
    UnsupportedSuite(String),
    #[error(
        "'{0}' is a TLS 1.3 suite: the cipher string chooses TLS 1.2 suites only \
         (as in OpenSSL); with TLS 1.3 on, Breakwater offers all three TLS 1.3 suites"
    )]
    Tls13Suite(String),
    #[error("'{0}': OpenSSL's Suite B modes are not supported")]
    SuiteB(String),
    #[error("'@{0}': the commands are @STRENGTH and @SECLEVEL=0 to @SECLEVEL=5")]
    UnknownCommand(String),
}

/// `a, b, c`, for messages.
pub fn suite_list(suites: &[Tls12Suite]) -> String {
    suites
        .iter()
        .map(|s| s.openssl_name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The set a word of the string stands for.
#[derive(Debug, Clone, Copy)]
enum Term {
    /// A suite rustls has.
    Suite(Tls12Suite),
    /// An alias (or a suite rustls lacks): the suites it matches.
    Matches(fn(Tls12Suite) -> bool),
    /// A suite name rustls does not implement: matches nothing.
    Foreign,
}

fn any(_: Tls12Suite) -> bool {
    true
}
fn none(_: Tls12Suite) -> bool {
    false
}
fn rsa_auth(s: Tls12Suite) -> bool {
    s.auth() == Auth::Rsa
}
fn ecdsa_auth(s: Tls12Suite) -> bool {
    s.auth() == Auth::Ecdsa
}
fn aes_gcm(s: Tls12Suite) -> bool {
    matches!(s.cipher(), Cipher::Aes128Gcm | Cipher::Aes256Gcm)
}
fn aes128(s: Tls12Suite) -> bool {
    s.cipher() == Cipher::Aes128Gcm
}
fn aes256(s: Tls12Suite) -> bool {
    s.cipher() == Cipher::Aes256Gcm
}
fn chacha20(s: Tls12Suite) -> bool {
    s.cipher() == Cipher::Chacha20
}

/// OpenSSL's aliases and what they select among rustls's suites (checked
/// against `openssl ciphers -v ALIAS` of OpenSSL 3.0). `SHA256`/`SHA384`
/// name the MAC, and AEAD suites have none, so they select nothing, as in
/// OpenSSL; `RSA` is RSA key exchange (`kRSA`), not RSA authentication.
/// The obsolete names (`SSLv2`, `EXPORT`...) are still accepted, selecting
/// nothing, because strings like the Cisco-recommended one remove them.
fn alias(word: &str) -> Option<fn(Tls12Suite) -> bool> {
    let f: fn(Tls12Suite) -> bool = match word {
        "ALL" | "DEFAULT" | "HIGH" | "TLSv1.2" | "ECDH" | "ECDHE" | "EECDH" | "kECDHE"
        | "kEECDH" | "kECDH" => any,
        "aRSA" => rsa_auth,
        "aECDSA" | "ECDSA" => ecdsa_auth,
        "AESGCM" | "AES" | "FIPS" => aes_gcm,
        "AES128" => aes128,
        "AES256" => aes256,
        "CHACHA20" => chacha20,
        "COMPLEMENTOFDEFAULT"
        | "COMPLEMENTOFALL"
        | "MEDIUM"
        | "LOW"
        | "EXP"
        | "EXPORT"
        | "EXPORT40"
        | "EXPORT56"
        | "EXPORT1024"
        | "eNULL"
        | "NULL"
        | "aNULL"
        | "ADH"
        | "AECDH"
        | "aECDH"
        | "kRSA"
        | "RSA"
        | "DSS"
        | "aDSS"
        | "DH"
        | "DHE"
        | "EDH"
        | "kDHE"
        | "kEDH"
        | "kDH"
        | "kDHr"
        | "kDHd"
        | "aDH"
        | "kECDHr"
        | "kECDHe"
        | "PSK"
        | "kPSK"
        | "aPSK"
        | "kECDHEPSK"
        | "kDHEPSK"
        | "kRSAPSK"
        | "ECDHEPSK"
        | "DHEPSK"
        | "RSAPSK"
        | "SRP"
        | "kSRP"
        | "aSRP"
        | "DES"
        | "3DES"
        | "RC4"
        | "RC2"
        | "IDEA"
        | "SEED"
        | "CAMELLIA"
        | "CAMELLIA128"
        | "CAMELLIA256"
        | "ARIA"
        | "ARIA128"
        | "ARIA256"
        | "ARIAGCM"
        | "AESCCM"
        | "AESCCM8"
        | "CBC"
        | "MD5"
        | "SHA1"
        | "SHA"
        | "SHA256"
        | "SHA384"
        | "GOST89MAC"
        | "GOST89MAC12"
        | "GOST94"
        | "GOST12"
        | "kGOST"
        | "kGOST18"
        | "aGOST"
        | "aGOST01"
        | "aGOST12"
        | "KRB5"
        | "kKRB5"
        | "aKRB5"
        | "kFZA"
        | "aFZA"
        | "eFZA"
        | "FZA"
        | "SSLv2"
        | "SSLv3"
        | "TLSv1"
        | "TLSv1.0" => none,
        _ => return None,
    };
    Some(f)
}

fn term(word: &str) -> Result<Term, CipherStringError> {
    if let Some(s) = Tls12Suite::ALL.iter().find(|s| s.openssl_name() == word) {
        return Ok(Term::Suite(*s));
    }
    if let Some(f) = alias(word) {
        return Ok(Term::Matches(f));
    }
    if word.starts_with("TLS_") {
        return Err(CipherStringError::Tls13Suite(word.to_string()));
    }
    if word.starts_with("SUITEB") {
        return Err(CipherStringError::SuiteB(word.to_string()));
    }
    // OpenSSL's aliases never contain a '-'; its suite names always do
    // (NULL-MD5, AES128-SHA, DHE-RSA-AES128-GCM-SHA256).
    let suite_like = word.contains('-')
        && word.split('-').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        });
    if suite_like {
        return Ok(Term::Foreign);
    }
    Err(CipherStringError::UnknownWord(word.to_string()))
}

impl Term {
    fn matches(self, s: Tls12Suite) -> bool {
        match self {
            Term::Suite(t) => t == s,
            Term::Matches(f) => f(s),
            Term::Foreign => false,
        }
    }
}

/// What a rule does with the suites it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Delete,
    Kill,
    MoveToEnd,
}

/// OpenSSL's security levels as minimum symmetric strength
/// (`ssl_get_security_level_bits`).
const SECLEVEL_BITS: [u16; 6] = [0, 80, 112, 128, 192, 256];

/// Evaluates an OpenSSL cipher string over the TLS 1.2 suites rustls
/// offers: the suites Breakwater will offer or accept, most preferred
/// first. Empty when the string selects none of them (the caller decides
/// whether that is an error: it is when TLS 1.2 is on).
pub fn evaluate(ciphers: &str) -> Result<Vec<Tls12Suite>, CipherStringError> {
    // (suite, active); a killed suite leaves the list.
    let mut list: Vec<(Tls12Suite, bool)> = Tls12Suite::ALL.iter().map(|s| (*s, false)).collect();
    let mut min_bits = 0;
    for element in ciphers
        .split([':', ' ', ',', ';'])
        .filter(|e| !e.is_empty())
    {
        let (op, rest) = if let Some(r) = element.strip_prefix('!') {
            (Op::Kill, r)
        } else if let Some(r) = element.strip_prefix('-') {
            (Op::Delete, r)
        } else if let Some(r) = element.strip_prefix('+') {
            (Op::MoveToEnd, r)
        } else {
            (Op::Add, element)
        };
        if let Some(command) = rest.strip_prefix('@') {
            if command == "STRENGTH" {
                // A stable sort of the whole list, as OpenSSL's repeated
                // "move this strength to the end" passes amount to.
                list.sort_by_key(|(s, _)| std::cmp::Reverse(s.strength_bits()));
            } else if let Some(level) = command
                .strip_prefix("SECLEVEL=")
                .and_then(|n| n.parse::<usize>().ok())
                .and_then(|n| SECLEVEL_BITS.get(n))
            {
                min_bits = *level;
            } else {
                return Err(CipherStringError::UnknownCommand(command.to_string()));
            }
            continue;
        }
        // `A+B`: the suites both A and B match.
        let mut terms = Vec::new();
        let mut foreign_name = None;
        for word in rest.split('+') {
            if word.is_empty() {
                return Err(CipherStringError::UnknownWord(element.to_string()));
            }
            let t = term(word)?;
            if matches!(t, Term::Foreign) {
                foreign_name = Some(word);
            }
            terms.push(t);
        }
        if let (Op::Add, Some(name)) = (op, foreign_name) {
            return Err(CipherStringError::UnsupportedSuite(name.to_string()));
        }
        let hit = |s: Tls12Suite| terms.iter().all(|t| t.matches(s));
        match op {
            Op::Add => {
                let (added, rest): (Vec<_>, Vec<_>) =
                    list.iter().partition(|(s, active)| !active && hit(*s));
                list = rest;
                list.extend(added.into_iter().map(|(s, _)| (s, true)));
            }
            Op::MoveToEnd => {
                let (moved, rest): (Vec<_>, Vec<_>) =
                    list.iter().partition(|(s, active)| *active && hit(*s));
                list = rest;
                list.extend(moved);
            }
            Op::Delete => {
                for (s, active) in list.iter_mut() {
                    if hit(*s) {
                        *active = false;
                    }
                }
            }
            Op::Kill => list.retain(|(s, _)| !hit(*s)),
        }
    }
    Ok(list
        .into_iter()
        .filter(|(s, active)| *active && s.strength_bits() >= min_bits)
        .map(|(s, _)| s)
        .collect())
}

/// Why a leg's policy cannot be committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SslPolicyError {
    #[error("no TLS method is on; turn on TLS 1.2, TLS 1.3 or both")]
    NoMethod,
    #[error("cipher string: {0}")]
    Ciphers(#[from] CipherStringError),
    #[error(
        "the cipher string selects no TLS 1.2 suite Breakwater offers ({list}); \
         widen it or turn TLS 1.2 off",
        list = suite_list(&Tls12Suite::ALL)
    )]
    NoTls12Suite,
}

impl SslPolicy {
    /// The TLS 1.2 suites of this leg, in order (empty when TLS 1.2 is
    /// off). The error says why the policy cannot be used.
    pub fn tls12_suites(&self) -> Result<Vec<Tls12Suite>, SslPolicyError> {
        if !self.tls_1_2 && !self.tls_1_3 {
            return Err(SslPolicyError::NoMethod);
        }
        let suites = evaluate(&self.ciphers)?;
        if !self.tls_1_2 {
            return Ok(Vec::new());
        }
        if suites.is_empty() {
            return Err(SslPolicyError::NoTls12Suite);
        }
        Ok(suites)
    }

    /// `TLSv1.2, TLSv1.3`: the methods on, as `sslconfig` prints them.
    pub fn methods(&self) -> String {
        let mut m = Vec::new();
        if self.tls_1_2 {
            m.push("TLSv1.2");
        }
        if self.tls_1_3 {
            m.push("TLSv1.3");
        }
        m.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Tls12Suite::*;

    /// The string the seeds (Cisco's best practice) recommend.
    const SEED: &str = "HIGH:MEDIUM:@STRENGTH:!aNULL:!eNULL:!LOW:!DES:!MD5:!EXP:!PSK:!DSS:!RC2:!RC4:!SEED:!ECDSA:!ADH:!IDEA:!3DES:!SSLv2:!SSLv3:!TLSv1:-aNULL:-EXPORT:-IDEA";

    #[test]
    fn the_seed_string_keeps_the_rsa_suites_strongest_first() {
        assert_eq!(
            evaluate(SEED).unwrap(),
            vec![
                EcdheRsaAes256GcmSha384,
                EcdheRsaChacha20Poly1305,
                EcdheRsaAes128GcmSha256
            ]
        );
    }

    #[test]
    fn default_and_all_are_every_suite_in_openssls_order() {
        assert_eq!(evaluate("DEFAULT").unwrap(), Tls12Suite::ALL.to_vec());
        assert_eq!(evaluate("ALL").unwrap(), Tls12Suite::ALL.to_vec());
        assert_eq!(
            evaluate("HIGH:@STRENGTH").unwrap(),
            Tls12Suite::ALL.to_vec()
        );
    }

    // Each expectation below is `openssl ciphers -s 'STRING'` (OpenSSL
    // 3.0) with the suites rustls lacks left out.
    #[test]
    fn aliases_select_what_openssl_selects() {
        let cases: &[(&str, &[Tls12Suite])] = &[
            (
                "aRSA",
                &[
                    EcdheRsaAes256GcmSha384,
                    EcdheRsaChacha20Poly1305,
                    EcdheRsaAes128GcmSha256,
                ],
            ),
            ("RSA", &[]),
            ("SHA256:SHA384", &[]),
            (
                "CHACHA20",
                &[EcdheEcdsaChacha20Poly1305, EcdheRsaChacha20Poly1305],
            ),
            (
                "AES128",
                &[EcdheEcdsaAes128GcmSha256, EcdheRsaAes128GcmSha256],
            ),
            (
                "ECDHE+AESGCM",
                &[
                    EcdheEcdsaAes256GcmSha384,
                    EcdheRsaAes256GcmSha384,
                    EcdheEcdsaAes128GcmSha256,
                    EcdheRsaAes128GcmSha256,
                ],
            ),
            (
                "AESGCM+ECDSA",
                &[EcdheEcdsaAes256GcmSha384, EcdheEcdsaAes128GcmSha256],
            ),
            ("MEDIUM:LOW:COMPLEMENTOFDEFAULT", &[]),
        ];
        for (string, want) in cases {
            assert_eq!(evaluate(string).unwrap(), want.to_vec(), "{string}");
        }
    }

    #[test]
    fn prefixes_add_delete_kill_and_move() {
        // `+` moves active suites to the end, keeping their order.
        assert_eq!(
            evaluate("aRSA:+AES256").unwrap(),
            vec![
                EcdheRsaChacha20Poly1305,
                EcdheRsaAes128GcmSha256,
                EcdheRsaAes256GcmSha384
            ]
        );
        // `-` can be undone by a later term; `!` cannot.
        assert_eq!(
            evaluate("ALL:-ECDSA:ECDHE-ECDSA-AES128-GCM-SHA256")
                .unwrap()
                .last(),
            Some(&EcdheEcdsaAes128GcmSha256)
        );
        assert!(
            !evaluate("ALL:!ECDSA:ECDSA")
                .unwrap()
                .iter()
                .any(|s| s.auth() == Auth::Ecdsa)
        );
        // Names in the order written.
        assert_eq!(
            evaluate("ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384").unwrap(),
            vec![EcdheRsaAes128GcmSha256, EcdheRsaAes256GcmSha384]
        );
        // @STRENGTH is stable: 256-bit first, then 128.
        assert_eq!(
            evaluate("AES128:CHACHA20:@STRENGTH").unwrap(),
            vec![
                EcdheEcdsaChacha20Poly1305,
                EcdheRsaChacha20Poly1305,
                EcdheEcdsaAes128GcmSha256,
                EcdheRsaAes128GcmSha256
            ]
        );
        assert_eq!(evaluate("ALL:@SECLEVEL=4").unwrap().len(), 4);
        // Separators OpenSSL accepts besides ':'.
        assert_eq!(
            evaluate("aRSA, !CHACHA20 ;-AES128").unwrap(),
            vec![EcdheRsaAes256GcmSha384]
        );
    }

    #[test]
    fn what_rustls_cannot_do_is_refused_with_its_name() {
        assert_eq!(
            evaluate("HIGH:DHE-RSA-AES128-GCM-SHA256"),
            Err(CipherStringError::UnsupportedSuite(
                "DHE-RSA-AES128-GCM-SHA256".into()
            ))
        );
        // Removing what is not there is fine.
        assert!(evaluate("HIGH:!AES128-SHA:-DES-CBC3-SHA").is_ok());
        assert_eq!(
            evaluate("HIGH:SHA2"),
            Err(CipherStringError::UnknownWord("SHA2".into()))
        );
        assert!(matches!(
            evaluate("TLS_AES_128_GCM_SHA256"),
            Err(CipherStringError::Tls13Suite(_))
        ));
        assert!(matches!(
            evaluate("SUITEB128"),
            Err(CipherStringError::SuiteB(_))
        ));
        assert!(matches!(
            evaluate("HIGH:@FAST"),
            Err(CipherStringError::UnknownCommand(_))
        ));
        assert!(matches!(
            evaluate("HIGH:+"),
            Err(CipherStringError::UnknownWord(_))
        ));
        let message = CipherStringError::UnsupportedSuite("AES128-SHA".into()).to_string();
        assert!(
            message.contains("rustls") && message.contains("ECDHE-RSA-AES128-GCM-SHA256"),
            "{message}"
        );
    }

    #[test]
    fn a_policy_needs_a_method_and_a_tls12_suite_when_tls12_is_on() {
        let mut p = SslPolicy {
            ciphers: "ECDSA".into(),
            tls_1_2: true,
            tls_1_3: true,
        };
        assert_eq!(p.tls12_suites().unwrap().len(), 3);
        p.ciphers = "!ALL".into();
        assert_eq!(p.tls12_suites(), Err(SslPolicyError::NoTls12Suite));
        p.tls_1_2 = false;
        assert_eq!(p.tls12_suites(), Ok(Vec::new()));
        p.tls_1_3 = false;
        assert_eq!(p.tls12_suites(), Err(SslPolicyError::NoMethod));
        assert_eq!(SslPolicy::default().methods(), "TLSv1.2, TLSv1.3");
    }

    proptest::proptest! {
        #[test]
        fn evaluation_never_panics_and_never_repeats_a_suite(s in "[-+!@:A-Za-z0-9=. ,]{0,60}") {
            if let Ok(v) = evaluate(&s) {
                let mut seen = std::collections::HashSet::new();
                proptest::prop_assert!(v.iter().all(|x| seen.insert(*x)));
            }
        }
    }
}
