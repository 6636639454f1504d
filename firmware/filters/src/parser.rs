//! Recursive-descent parser for filter scripts.
//!
//! ```text
//! script    := filter*
//! filter    := NAME (':' | '!') stmt+          '!' marks an inactive filter
//! stmt      := if | action ';'
//! if        := 'if' cond block (('elif' | 'else' 'if') cond block)* ('else' block)?
//! block     := '{' stmt* '}'
//! cond      := and ('or' and)*
//! and       := unary ('and' unary)*
//! unary     := 'not' unary | '(' cond ')' | rule
//! ```
//!
//! Keywords are case-insensitive and `_` may stand for `-` (`skip_filters`,
//! from older AsyncOS guides). Nesting is capped at [`MAX_DEPTH`] so a
//! hostile paste cannot overflow the stack.

use super::ParseError;
use super::ast::{Filter, IfChain, Stmt};
use super::lexer::{Tok, Token, tokenize};

/// Deepest nesting of parentheses, `not`s and blocks accepted.
pub const MAX_DEPTH: usize = 64;

const RESERVED: &[&str] = &[
    "if", "elif", "else", "and", "or", "not", "true", "false", "valid",
];

/// Parses a script holding one or more filters.
pub fn parse(src: &str) -> Result<Vec<Filter>, ParseError> {
    let toks = tokenize(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    let mut filters: Vec<Filter> = Vec::new();
    while p.peek().tok != Tok::Eof {
        let at = p.peek().clone();
        let f = p.filter()?;
        if filters.iter().any(|g| g.name == f.name) {
            return Err(p.err_at(&at, format!("duplicate filter name '{}'", f.name)));
        }
        filters.push(f);
    }
    if filters.is_empty() {
        let end = p.peek().clone();
        return Err(p.err_at(&end, "no filter in script".to_string()));
    }
    Ok(filters)
}

pub(super) struct Parser<'s> {
    pub(super) src: &'s str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// Lower-case with `_` read as `-`.
pub(super) fn keyword(word: &str) -> String {
    word.to_ascii_lowercase().replace('_', "-")
}

impl<'s> Parser<'s> {
    pub(super) fn peek(&self) -> &Token {
        // Invariant: the token list always ends with Eof and `pos` never
        // moves past it (see `next`).
        &self.toks[self.pos.min(self.toks.len() - 1)]
    }

    fn peek2(&self) -> &Tok {
        &self.toks[(self.pos + 1).min(self.toks.len() - 1)].tok
    }

    pub(super) fn next(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    pub(super) fn err_at(&self, t: &Token, message: String) -> ParseError {
        ParseError::at(self.src, t.line, t.column, message)
    }

    pub(super) fn expect(&mut self, want: Tok, what: &str) -> Result<Token, ParseError> {
        let t = self.next();
        if t.tok == want {
            Ok(t)
        } else {
            Err(self.err_at(&t, format!("expected {what}, found {}", t.tok.describe())))
        }
    }

    pub(super) fn peek_kw(&self) -> Option<String> {
        match &self.peek().tok {
            Tok::Ident(w) => Some(keyword(w)),
            _ => None,
        }
    }

    pub(super) fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let t = self.peek().clone();
            return Err(self.err_at(&t, format!("nesting deeper than {MAX_DEPTH}")));
        }
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn at_filter_start(&self) -> bool {
        matches!(self.peek().tok, Tok::Ident(_)) && matches!(self.peek2(), Tok::Colon | Tok::Bang)
    }

    fn filter(&mut self) -> Result<Filter, ParseError> {
        let t = self.next();
        let Tok::Ident(name) = &t.tok else {
            return Err(self.err_at(
                &t,
                format!("expected a filter name, found {}", t.tok.describe()),
            ));
        };
        if RESERVED.contains(&keyword(name).as_str()) {
            return Err(self.err_at(&t, format!("filter name '{name}' is a reserved word")));
        }
        let sep = self.next();
        let active = match sep.tok {
            Tok::Colon => true,
            Tok::Bang => false,
            _ => {
                return Err(self.err_at(
                    &sep,
                    format!(
                        "expected ':' after filter name '{name}', found {}",
                        sep.tok.describe()
                    ),
                ));
            }
        };
        let mut body = Vec::new();
        while !self.at_filter_start() && self.peek().tok != Tok::Eof {
            body.push(self.stmt()?);
        }
        if body.is_empty() {
            let t = self.peek().clone();
            return Err(self.err_at(&t, format!("filter '{name}' has no rule or action")));
        }
        Ok(Filter {
            name: name.clone(),
            active,
            body,
        })
    }

    fn stmt(&mut self) -> Result<Stmt, ParseError> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Ident(w) if keyword(w) == "if" => Ok(Stmt::If(self.if_chain()?)),
            Tok::Ident(_) => {
                let action = self.action()?;
                self.expect(Tok::Semi, "';' after the action")?;
                Ok(Stmt::Action(action))
            }
            other => Err(self.err_at(
                &t,
                format!("expected 'if' or an action, found {}", other.describe()),
            )),
        }
    }

    fn if_chain(&mut self) -> Result<IfChain, ParseError> {
        self.next(); // `if`
        let cond = self.condition()?;
        let block = self.block()?;
        let mut chain = IfChain {
            branches: vec![(cond, block)],
            otherwise: None,
        };
        loop {
            match self.peek_kw().as_deref() {
                Some("elif") => {
                    self.next();
                }
                Some("else") if matches!(self.peek2(), Tok::Ident(w) if keyword(w) == "if") => {
                    self.next();
                    self.next();
                }
                Some("else") => {
                    self.next();
                    chain.otherwise = Some(self.block()?);
                    return Ok(chain);
                }
                _ => return Ok(chain),
            }
            let cond = self.condition()?;
            let block = self.block()?;
            chain.branches.push((cond, block));
        }
    }

    fn block(&mut self) -> Result<Vec<Stmt>, ParseError> {
        self.expect(Tok::LBrace, "'{'")?;
        self.enter()?;
        let mut stmts = Vec::new();
        while self.peek().tok != Tok::RBrace {
            if self.peek().tok == Tok::Eof {
                let t = self.peek().clone();
                return Err(self.err_at(&t, "missing '}'".to_string()));
            }
            stmts.push(self.stmt()?);
        }
        self.next();
        self.leave();
        Ok(stmts)
    }

    /// A string argument with its token (for error positions).
    pub(super) fn string(&mut self, what: &str) -> Result<(String, Token), ParseError> {
        let t = self.next();
        match &t.tok {
            Tok::Str(s) => Ok((s.clone(), t.clone())),
            other => Err(self.err_at(
                &t,
                format!(
                    "expected {what} (a quoted string), found {}",
                    other.describe()
                ),
            )),
        }
    }
}
