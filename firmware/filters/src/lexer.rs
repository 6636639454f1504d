//! Tokens of the filter language, each with its 1-based line and column
//! (columns count characters, not bytes, so the `^` pointer lands under
//! the token in a terminal).

use super::ParseError;

/// Longest script accepted, in bytes. A paste of every filter in the AsyncOS
/// guide is under 100 KiB.
pub const MAX_SCRIPT_LEN: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    /// Digits with an optional alphabetic suffix (`10M`).
    Number(u64, String),
    /// Digits with a fraction (`7.5`), as written: only the arguments of
    /// rules Breakwater refuses take one (`reputation < -7.5`).
    Decimal(String),
    /// `-` before a number (`-7.5`).
    Minus,
    LParen,
    RParen,
    LBrace,
    RBrace,
    /// `[` and `]` around AsyncOS lists (`url-category(['Gambling'])`).
    LBracket,
    RBracket,
    Comma,
    Semi,
    Colon,
    Bang,
    Op(&'static str),
    Eof,
}

impl Tok {
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Str(_) => "a quoted string".to_string(),
            Tok::Number(n, s) => format!("'{n}{s}'"),
            Tok::Decimal(d) => format!("'{d}'"),
            Tok::Minus => "'-'".to_string(),
            Tok::LParen => "'('".to_string(),
            Tok::RParen => "')'".to_string(),
            Tok::LBrace => "'{'".to_string(),
            Tok::RBrace => "'}'".to_string(),
            Tok::LBracket => "'['".to_string(),
            Tok::RBracket => "']'".to_string(),
            Tok::Comma => "','".to_string(),
            Tok::Semi => "';'".to_string(),
            Tok::Colon => "':'".to_string(),
            Tok::Bang => "'!'".to_string(),
            Tok::Op(o) => format!("'{o}'"),
            Tok::Eof => "end of script".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub line: usize,
    pub column: usize,
}

/// Splits `src` into tokens. A line holding only `.` ends the script (the
/// CLI's paste terminator); anything after it is ignored.
pub fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    if src.len() > MAX_SCRIPT_LEN {
        return Err(ParseError::at(
            src,
            1,
            1,
            format!("script longer than {MAX_SCRIPT_LEN} bytes"),
        ));
    }
    let mut out = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    let mut at_line_start = true;
    while i < chars.len() {
        if at_line_start {
            let mut j = i;
            while j < chars.len() && chars[j] != '\n' {
                j += 1;
            }
            let text: String = chars[i..j].iter().collect();
            if text.trim() == "." {
                break;
            }
            at_line_start = false;
        }
        let c = chars[i];
        let (tline, tcol) = (line, col);
        let push = |out: &mut Vec<Token>, tok: Tok| {
            out.push(Token {
                tok,
                line: tline,
                column: tcol,
            })
        };
        match c {
            '\n' => {
                i += 1;
                line += 1;
                col = 1;
                at_line_start = true;
                continue;
            }
            c if c.is_whitespace() => {}
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '(' => push(&mut out, Tok::LParen),
            ')' => push(&mut out, Tok::RParen),
            '{' => push(&mut out, Tok::LBrace),
            '}' => push(&mut out, Tok::RBrace),
            '[' => push(&mut out, Tok::LBracket),
            ']' => push(&mut out, Tok::RBracket),
            '-' => push(&mut out, Tok::Minus),
            ',' => push(&mut out, Tok::Comma),
            ';' => push(&mut out, Tok::Semi),
            ':' => push(&mut out, Tok::Colon),
            '=' | '!' | '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                let tok = match (c, eq) {
                    ('=', true) => Tok::Op("=="),
                    ('!', true) => Tok::Op("!="),
                    ('<', true) => Tok::Op("<="),
                    ('>', true) => Tok::Op(">="),
                    ('<', false) => Tok::Op("<"),
                    ('>', false) => Tok::Op(">"),
                    ('!', false) => Tok::Bang,
                    _ => {
                        return Err(ParseError::at(
                            src,
                            line,
                            col,
                            "'=' is not an operator; use '=='".to_string(),
                        ));
                    }
                };
                push(&mut out, tok);
                if eq {
                    i += 1;
                    col += 1;
                }
            }
            '\'' | '"' => {
                let quote = c;
                let mut s = String::new();
                let mut j = i + 1;
                let (mut l, mut cl) = (line, col + 1);
                loop {
                    let Some(&ch) = chars.get(j) else {
                        return Err(ParseError::at(
                            src,
                            tline,
                            tcol,
                            "unterminated string".to_string(),
                        ));
                    };
                    j += 1;
                    cl += 1;
                    if ch == quote {
                        break;
                    }
                    if ch == '\n' {
                        l += 1;
                        cl = 1;
                    }
                    if ch == '\\' {
                        match chars.get(j) {
                            // `\\`, `\'` and `\"` are the parser's escapes;
                            // any other backslash is kept for the regex
                            // (`'\.exe$'` means what the administrator meant).
                            Some(&e @ ('\\' | '\'' | '"')) => {
                                s.push(e);
                                j += 1;
                                cl += 1;
                            }
                            _ => s.push('\\'),
                        }
                        continue;
                    }
                    s.push(ch);
                }
                push(&mut out, Tok::Str(s));
                i = j;
                line = l;
                col = cl;
                continue;
            }
            c if c.is_ascii_digit() => {
                let mut j = i;
                let mut value: u64 = 0;
                while j < chars.len() && chars[j].is_ascii_digit() {
                    let d = u64::from(chars[j] as u8 - b'0');
                    value = value
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(d))
                        .ok_or_else(|| {
                            ParseError::at(src, tline, tcol, "number too large".to_string())
                        })?;
                    j += 1;
                }
                if chars.get(j) == Some(&'.') && chars.get(j + 1).is_some_and(char::is_ascii_digit)
                {
                    j += 1;
                    while j < chars.len() && chars[j].is_ascii_digit() {
                        j += 1;
                    }
                    push(&mut out, Tok::Decimal(chars[i..j].iter().collect()));
                    col += j - i;
                    i = j;
                    continue;
                }
                let mut suffix = String::new();
                while j < chars.len() && chars[j].is_ascii_alphabetic() {
                    suffix.push(chars[j]);
                    j += 1;
                }
                push(&mut out, Tok::Number(value, suffix));
                col += j - i;
                i = j;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut j = i;
                while j < chars.len()
                    && (chars[j].is_ascii_alphanumeric() || chars[j] == '_' || chars[j] == '-')
                {
                    j += 1;
                }
                let word: String = chars[i..j].iter().collect();
                push(&mut out, Tok::Ident(word));
                col += j - i;
                i = j;
                continue;
            }
            other => {
                return Err(ParseError::at(
                    src,
                    line,
                    col,
                    format!("unexpected character '{other}'"),
                ));
            }
        }
        i += 1;
        col += 1;
    }
    out.push(Token {
        tok: Tok::Eof,
        line,
        column: col,
    });
    Ok(out)
}
