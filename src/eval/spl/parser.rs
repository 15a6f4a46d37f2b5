//! Recursive-descent parser for the SPL subset in `ast`. One file over 600 lines because
//! the search and eval grammars below share one `Parser` and its token stream; what a word
//! means once parsed lives in `values.rs`.
//!
//! Two expression languages with opposite precedence, as Splunk documents them ("Boolean
//! expressions", Search Manual, help.splunk.com/en/splunk-enterprise/search/search-manual/9.3/expressions-and-predicates:
//! "The search command evaluates OR before AND … The eval and where commands evaluate AND
//! before OR"; NOT binds tightest in both; operators must be capitalized; AND is implied
//! between search terms):
//!
//! ```text
//! search:  s_and := s_or ([AND] s_or)*     s_or := s_not (OR s_not)*     s_not := NOT s_not | term | ( s_and )
//! eval:    e_or  := e_and (OR e_and)*      e_and := e_not (AND e_not)*   e_not := NOT e_not | cmp
//! ```
//!
//! Nesting (parentheses, NOT, function calls) is capped at `MAX_DEPTH`; errors carry the
//! line and column of the offending token.

use super::ast::*;
use super::lexer::{lex, Tok};
use super::pcre::{self, Literals};
use super::values::*;
pub use super::values::{number, wild};
use crate::diag::Span;
pub use crate::eval::syntax::MAX_DEPTH;
use crate::eval::syntax::{Loc, ParseError, TokenStream, Wording};

pub fn parse(src: &str) -> Result<Vec<Command>, ParseError> {
    parse_with_literals(src).map(|(commands, _, _)| commands)
}

/// The commands, where each stands in the text, and the compiled regexes of their literal
/// `match`/`replace`/`like` patterns.
pub fn parse_with_literals(src: &str) -> Result<(Vec<Command>, Vec<Loc>, Literals), ParseError> {
    let wording = Wording {
        end: "end of search",
        nesting: "nesting",
    };
    let ts = TokenStream::new(lex(src)?, src, wording);
    let mut p = Parser {
        ts,
        literals: Literals::default(),
    };
    let (commands, spans) = p.pipeline()?;
    Ok((commands, spans, p.literals))
}

struct Parser {
    ts: TokenStream<Tok>,
    literals: Literals,
}

impl Parser {
    fn at_command_end(&self) -> bool {
        matches!(self.ts.peek(), None | Some(Tok::Punct("|")))
    }
    fn field(&mut self, what: &str) -> Result<String, ParseError> {
        match self.ts.peek() {
            Some(Tok::Word(s)) if is_field_name(s) => {
                let s = s.clone();
                self.ts.pos += 1;
                Ok(s)
            }
            Some(Tok::Quoted(s)) => {
                let s = s.clone();
                self.ts.pos += 1;
                Ok(s)
            }
            _ => self.ts.err(what),
        }
    }

    fn pipeline(&mut self) -> Result<(Vec<Command>, Vec<Loc>), ParseError> {
        if self.ts.peek().is_none() {
            return self.ts.err("a search");
        }
        let mut cmds = Vec::new();
        let mut spans = Vec::new();
        let start = self.ts.span();
        if self.ts.eat_punct("|") {
            // a generating command: only `from datamodel`, whose events are those its
            // constraint selects (`datamodel.rs`)
            cmds.push(self.datamodel_source(start)?);
        } else {
            // The implied search command at the start (Search Reference: search, "The search
            // command is implied at the beginning of any search").
            self.ts.eat_word("search");
            cmds.push(self.search_command()?);
        }
        spans.push(self.ts.loc_from(start));
        while self.ts.eat_punct("|") {
            let start = self.ts.span();
            cmds.push(self.command()?);
            spans.push(self.ts.loc_from(start));
        }
        if self.ts.peek().is_some() {
            return self.ts.err("`|` or the end of the search");
        }
        Ok((cmds, spans))
    }

    /// `| from datamodel <Model>.<Dataset>` (or `datamodel:<name>`, the name quoted or not):
    /// the search for the dataset's constraint.
    fn datamodel_source(&mut self, pipe: Span) -> Result<Command, ParseError> {
        let unsupported = "a search that starts with `|` (a generating command) is supported only as `| from datamodel <Model>.<Dataset>`";
        if !self.ts.eat_word("from") {
            return self.ts.fail_at(unsupported.into(), pipe);
        }
        let at = self.ts.span();
        let kind = match self.ts.peek() {
            Some(Tok::Word(w)) => w.clone(),
            _ => return self.ts.fail_at(unsupported.into(), pipe),
        };
        self.ts.pos += 1;
        let inline = match kind.split_once(':') {
            Some(("datamodel", rest)) => Some(rest.to_string()),
            None if kind == "datamodel" => None,
            _ => return self.ts.fail_at(format!("{unsupported} (not `{kind}`)"), at),
        };
        let name = match inline.filter(|n| !n.is_empty()) {
            Some(n) => n,
            None => {
                let at = self.ts.span();
                match self.ts.peek() {
                    Some(Tok::Word(w) | Tok::Str(w)) => {
                        let w = w.clone();
                        self.ts.pos += 1;
                        w
                    }
                    _ => {
                        return self
                            .ts
                            .fail_at("a data model dataset (`Endpoint.Processes`)".into(), at)
                    }
                }
            }
        };
        let constraint = super::datamodel::constraint(&name).map_err(|message| ParseError {
            too_deep: false,
            message,
            span: at,
        })?;
        if !self.at_command_end() {
            return self
                .ts
                .err("`|` or the end of the search after `from datamodel`");
        }
        Ok(Command::Search(constraint))
    }

    fn search_command(&mut self) -> Result<Command, ParseError> {
        let e = self.s_and()?;
        if !self.at_command_end() {
            return self.ts.err("a search term, `|` or the end of the search");
        }
        check_time_placement(&e, true).map_err(|(message, ())| ParseError {
            too_deep: false,
            message,
            span: self.ts.span(),
        })?;
        Ok(Command::Search(e))
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let at = self.ts.span();
        let name = match self.ts.peek() {
            Some(Tok::Word(w)) => w.clone(),
            _ => return self.ts.err("a command name"),
        };
        self.ts.pos += 1;
        let cmd = match name.as_str() {
            "search" => return self.search_command(),
            "where" => Command::Where(self.e_or()?),
            "eval" => {
                let mut sets = Vec::new();
                loop {
                    let f = self.field("a field name to assign")?;
                    self.ts.expect_punct("=")?;
                    sets.push((f, self.e_or()?));
                    if !self.ts.eat_punct(",") {
                        break;
                    }
                }
                Command::Eval(sets)
            }
            "stats" => self.stats()?,
            "sort" => self.sort()?,
            "table" => Command::Table(self.field_list(true)?),
            "fields" => {
                let remove = self.ts.eat_word("-");
                if !remove {
                    self.ts.eat_word("+");
                }
                Command::Fields {
                    remove,
                    fields: self.field_list(true)?,
                }
            }
            "head" => {
                let n = match self.ts.peek() {
                    Some(Tok::Word(w)) if w.bytes().all(|b| b.is_ascii_digit()) => {
                        let n = w.parse().unwrap_or(usize::MAX);
                        self.ts.pos += 1;
                        n
                    }
                    _ => 10, // "If no options or limits are specified, the head command returns the first 10 results."
                };
                Command::Head(n)
            }
            other => {
                return self.ts.fail_at(
                    format!("unsupported command `{other}` (supported: search, where, eval, stats, sort, table, fields, head)"),
                    at,
                )
            }
        };
        if !self.at_command_end() {
            return self
                .ts
                .err(&format!("`|` or the end of the search after `{name}`"));
        }
        Ok(cmd)
    }

    /// Field names separated by spaces or commas; `*` wildcards allowed when `wild`.
    fn field_list(&mut self, wildcards: bool) -> Result<Vec<String>, ParseError> {
        let mut out = Vec::new();
        while !self.at_command_end() {
            match self.ts.peek() {
                Some(Tok::Word(w))
                    if is_field_name(w) || (wildcards && is_field_name(&w.replace('*', "x"))) =>
                {
                    out.push(w.clone());
                    self.ts.pos += 1;
                }
                Some(Tok::Quoted(w)) | Some(Tok::Str(w)) => {
                    out.push(w.clone());
                    self.ts.pos += 1;
                }
                _ => return self.ts.err("a field name"),
            }
            self.ts.eat_punct(",");
        }
        if out.is_empty() {
            return self.ts.err("a field name");
        }
        Ok(out)
    }

    fn stats(&mut self) -> Result<Command, ParseError> {
        let mut aggs = Vec::new();
        loop {
            if self.at_command_end() || self.ts.is_word("by") || self.ts.is_word("BY") {
                break;
            }
            let at = self.ts.span();
            let f = match self.ts.peek() {
                Some(Tok::Word(w)) => w.clone(),
                _ => {
                    return self
                        .ts
                        .err("a stats function (count, min, max, values, dc)")
                }
            };
            self.ts.pos += 1;
            let arg = if self.ts.eat_punct("(") {
                let a = self.field("a field name")?;
                self.ts.expect_punct(")")?;
                Some(a)
            } else {
                None
            };
            let agg = match (f.as_str(), arg.clone()) {
                ("count" | "c", None) => Agg::Count,
                ("count" | "c", Some(a)) => Agg::CountOf(a),
                ("min", Some(a)) => Agg::Min(a),
                ("max", Some(a)) => Agg::Max(a),
                ("values", Some(a)) => Agg::Values(a),
                ("dc" | "distinct_count", Some(a)) => Agg::Dc(a),
                (_, None) if ["min", "max", "values", "dc", "distinct_count"].contains(&f.as_str()) => {
                    return self.ts.fail_at(format!("`{f}` needs a field: {f}(field)"), at)
                }
                _ => {
                    return self.ts.fail_at(
                        format!("unsupported stats function `{f}` (supported: count, count(x), min, max, values, dc)"),
                        at,
                    )
                }
            };
            // Splunk names an unrenamed aggregate as written: `count`, `min(x)`, `dc(x)`.
            let default = match &arg {
                Some(a) => format!("{f}({a})"),
                None => f.clone(),
            };
            let name = if self.ts.eat_word("as") || self.ts.eat_word("AS") {
                self.field("a name after `as`")?
            } else {
                default
            };
            aggs.push((name, agg));
            self.ts.eat_punct(",");
        }
        if aggs.is_empty() {
            return self
                .ts
                .err("a stats function (count, min, max, values, dc)");
        }
        let mut by = Vec::new();
        if self.ts.eat_word("by") || self.ts.eat_word("BY") {
            by = self.field_list(false)?;
        }
        Ok(Command::Stats { aggs, by })
    }

    fn sort(&mut self) -> Result<Command, ParseError> {
        let mut limit = 10_000; // Search Reference: sort, "the default limit of 10000 is used"
        if let Some(Tok::Word(w)) = self.ts.peek() {
            if w.bytes().all(|b| b.is_ascii_digit()) {
                limit = w.parse().unwrap_or(usize::MAX);
                self.ts.pos += 1;
            }
        }
        if self.ts.is_word("limit") && self.ts.peek_at(1) == Some(&Tok::Punct("=")) {
            self.ts.pos += 2;
            match self.ts.peek() {
                Some(Tok::Word(w)) if w.bytes().all(|b| b.is_ascii_digit()) => {
                    limit = w.parse().unwrap_or(usize::MAX);
                    self.ts.pos += 1;
                }
                _ => return self.ts.err("a number after `limit=`"),
            }
        }
        let mut keys = Vec::new();
        while !self.at_command_end() {
            let mut desc = false;
            if self.ts.eat_word("-") {
                desc = true;
            } else {
                self.ts.eat_word("+");
            }
            let field = match self.ts.peek() {
                Some(Tok::Word(w)) => {
                    let (d, name) = if let Some(n) = w.strip_prefix('-') {
                        (true, n)
                    } else if let Some(n) = w.strip_prefix('+') {
                        (false, n)
                    } else {
                        (desc, w.as_str())
                    };
                    if !is_field_name(name) {
                        return self.ts.err("a field to sort by");
                    }
                    desc = d || desc;
                    let n = name.to_string();
                    self.ts.pos += 1;
                    n
                }
                Some(Tok::Quoted(w)) => {
                    let n = w.clone();
                    self.ts.pos += 1;
                    n
                }
                _ => return self.ts.err("a field to sort by"),
            };
            if self.ts.peek_at(0) == Some(&Tok::Punct("(")) {
                return self
                    .ts
                    .err("a plain field (sort functions such as num() are not supported)");
            }
            keys.push(SortKey { field, desc });
            self.ts.eat_punct(",");
        }
        // A trailing `d` / `desc` reverses the whole order (Search Reference: sort, "desc:
        // Reverses the order of the results").
        if keys.len() > 1
            && matches!(keys.last(), Some(k) if (k.field == "d" || k.field == "desc") && !k.desc)
        {
            keys.pop();
            for k in &mut keys {
                k.desc = !k.desc;
            }
        }
        if keys.is_empty() {
            return self.ts.err("a field to sort by");
        }
        Ok(Command::Sort { limit, keys })
    }

    // ---- search-command expressions (OR binds tighter than AND) ----

    fn s_and(&mut self) -> Result<SExpr, ParseError> {
        let mut items = vec![self.s_or()?];
        loop {
            if self.at_command_end() || self.ts.peek() == Some(&Tok::Punct(")")) {
                break;
            }
            self.ts.eat_word("AND");
            items.push(self.s_or()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            SExpr::And(items)
        })
    }

    fn s_or(&mut self) -> Result<SExpr, ParseError> {
        let mut items = vec![self.s_not()?];
        while self.ts.eat_word("OR") {
            items.push(self.s_not()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            SExpr::Or(items)
        })
    }

    fn s_not(&mut self) -> Result<SExpr, ParseError> {
        if self.ts.is_word("NOT") {
            self.ts.pos += 1;
            self.ts.enter()?;
            let inner = self.s_not()?;
            self.ts.leave();
            return Ok(SExpr::Not(Box::new(inner)));
        }
        if self.ts.eat_punct("(") {
            self.ts.enter()?;
            if self.ts.peek() == Some(&Tok::Punct(")")) {
                return self.ts.err("a search term inside `( )`");
            }
            let inner = self.s_and()?;
            self.ts.expect_punct(")")?;
            self.ts.leave();
            return Ok(inner);
        }
        self.s_term()
    }

    fn s_value(&mut self) -> Result<String, ParseError> {
        match self.ts.peek() {
            Some(Tok::Word(w)) if !matches!(w.as_str(), "AND" | "OR" | "NOT") => {
                let w = unescape_word(w);
                self.ts.pos += 1;
                Ok(w)
            }
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.ts.pos += 1;
                Ok(s)
            }
            _ => self.ts.err("a value"),
        }
    }

    fn s_term(&mut self) -> Result<SExpr, ParseError> {
        let at = self.ts.span();
        match self.ts.peek().cloned() {
            Some(Tok::Word(w)) if matches!(w.as_str(), "AND" | "OR") => {
                self.ts.err("a search term before the operator")
            }
            Some(Tok::Word(w)) => {
                self.ts.pos += 1;
                let op = match self.ts.peek() {
                    Some(Tok::Punct("=")) => Some(CmpOp::Eq),
                    Some(Tok::Punct("!=")) => Some(CmpOp::Ne),
                    Some(Tok::Punct("<")) => Some(CmpOp::Lt),
                    Some(Tok::Punct(">")) => Some(CmpOp::Gt),
                    Some(Tok::Punct("<=")) => Some(CmpOp::Le),
                    Some(Tok::Punct(">=")) => Some(CmpOp::Ge),
                    Some(Tok::Punct("==")) => {
                        return self
                            .ts
                            .err("`=` (the search command compares with `=`, not `==`)")
                    }
                    _ => None,
                };
                if let Some(op) = op {
                    if !is_search_field(&w) {
                        return self.ts.fail_at(format!("`{w}` is not a field name"), at);
                    }
                    self.ts.pos += 1;
                    let vspan = self.ts.span();
                    let v = self.s_value()?;
                    if w == "earliest" || w == "latest" {
                        if op != CmpOp::Eq {
                            return self.ts.fail_at(format!("`{w}` takes `=` only here"), at);
                        }
                        let t = time_spec(&v).map_err(|message| ParseError {
                            too_deep: false,
                            message,
                            span: vspan,
                        })?;
                        return Ok(SExpr::Time {
                            latest: w == "latest",
                            at: t,
                        });
                    }
                    return Ok(SExpr::Cmp {
                        field: w,
                        op,
                        value: wild(&v).map_err(|m| ParseError {
                            too_deep: false,
                            message: m,
                            span: vspan,
                        })?,
                    });
                }
                if self.ts.is_word("IN") && self.ts.peek_at(1) == Some(&Tok::Punct("(")) {
                    if !is_search_field(&w) {
                        return self.ts.fail_at(format!("`{w}` is not a field name"), at);
                    }
                    self.ts.pos += 2;
                    let mut values = Vec::new();
                    while !self.ts.eat_punct(")") {
                        if self.ts.peek().is_none() {
                            return self.ts.err("`)` to close the IN list");
                        }
                        let vspan = self.ts.span();
                        let v = self.s_value()?;
                        values.push(wild(&v).map_err(|m| ParseError {
                            too_deep: false,
                            message: m,
                            span: vspan,
                        })?);
                        self.ts.eat_punct(",");
                    }
                    if values.is_empty() {
                        return self.ts.fail_at("empty IN list".into(), at);
                    }
                    return Ok(SExpr::In { field: w, values });
                }
                self.term(&unescape_word(&w), at)
            }
            Some(Tok::Str(s)) => {
                self.ts.pos += 1;
                self.term(&s, at)
            }
            _ => self.ts.err("a search term"),
        }
    }

    fn term(&self, text: &str, at: Span) -> Result<SExpr, ParseError> {
        let e = |message| ParseError {
            too_deep: false,
            message,
            span: at,
        };
        Ok(SExpr::Term {
            raw: term_regex(text).map_err(e)?,
            wild: wild(text).map_err(e)?,
        })
    }

    // ---- eval expressions (AND binds tighter than OR) ----
    // AND/OR chains are n-ary, so a long chain does not make a deep tree.

    fn e_or(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.e_and()?];
        while self.ts.eat_word("OR") {
            items.push(self.e_and()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::Or(items)
        })
    }

    fn e_and(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.e_not()?];
        while self.ts.eat_word("AND") {
            items.push(self.e_not()?);
        }
        Ok(if items.len() == 1 {
            items.pop().expect("one item")
        } else {
            Expr::And(items)
        })
    }

    fn e_not(&mut self) -> Result<Expr, ParseError> {
        if self.ts.eat_word("NOT") {
            self.ts.enter()?;
            let inner = self.e_not()?;
            self.ts.leave();
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.e_cmp()
    }

    fn e_cmp(&mut self) -> Result<Expr, ParseError> {
        let l = self.e_primary()?;
        let op = match self.ts.peek() {
            Some(Tok::Punct("=" | "==")) => CmpOp::Eq,
            Some(Tok::Punct("!=")) => CmpOp::Ne,
            Some(Tok::Punct("<")) => CmpOp::Lt,
            Some(Tok::Punct(">")) => CmpOp::Gt,
            Some(Tok::Punct("<=")) => CmpOp::Le,
            Some(Tok::Punct(">=")) => CmpOp::Ge,
            _ => return Ok(l),
        };
        self.ts.pos += 1;
        let r = self.e_primary()?;
        Ok(Expr::Cmp(op, Box::new(l), Box::new(r)))
    }

    fn e_primary(&mut self) -> Result<Expr, ParseError> {
        let at = self.ts.span();
        match self.ts.peek().cloned() {
            Some(Tok::Punct("(")) => {
                self.ts.pos += 1;
                self.ts.enter()?;
                let e = self.e_or()?;
                self.ts.expect_punct(")")?;
                self.ts.leave();
                Ok(e)
            }
            Some(Tok::Str(s)) => {
                self.ts.pos += 1;
                Ok(Expr::Str(s))
            }
            Some(Tok::Quoted(s)) => {
                self.ts.pos += 1;
                Ok(Expr::Field(s))
            }
            Some(Tok::Word(w)) if self.ts.peek_at(1) == Some(&Tok::Punct("(")) => {
                let Some(&(func, _, min, max)) = Func::ALL.iter().find(|f| f.1 == w) else {
                    return self.ts.fail_at(
                        format!(
                            "unsupported eval function `{w}` (supported: {})",
                            Func::ALL.iter().map(|f| f.1).collect::<Vec<_>>().join(", ")
                        ),
                        at,
                    );
                };
                self.ts.pos += 2;
                self.ts.enter()?;
                let mut args = Vec::new();
                if !self.ts.eat_punct(")") {
                    loop {
                        args.push(self.e_or()?);
                        if self.ts.eat_punct(")") {
                            break;
                        }
                        self.ts.expect_punct(",")?;
                    }
                }
                self.ts.leave();
                if args.len() < min || args.len() > max {
                    let want = if min == max {
                        format!("{min}")
                    } else {
                        format!("at least {min}")
                    };
                    return self.ts.fail_at(
                        format!("{w}() takes {want} argument(s), got {}", args.len()),
                        at,
                    );
                }
                // A literal regex is compiled here, so its error points at the call. A bad
                // `like()` pattern cannot occur (it is escaped), but one too large to compile
                // is left to the call, which reports it when (and if) it runs.
                if let (Func::Match | Func::Replace | Func::Like, Some(Expr::Str(p))) =
                    (func, args.get(1))
                {
                    let like = func == Func::Like;
                    match pcre::compile_call(p, like) {
                        Ok(re) => self.literals.add(p, like, re),
                        Err(message) if !like => return self.ts.fail_at(message, at),
                        Err(_) => {}
                    }
                }
                Ok(Expr::Call(func, args))
            }
            Some(Tok::Word(w)) => {
                if let Some(n) = number(&w) {
                    self.ts.pos += 1;
                    return Ok(Expr::Num(n, w));
                }
                if matches!(w.as_str(), "AND" | "OR" | "NOT") || !is_field_name(&w) {
                    return self.ts.err(
                        "a value, a field or a function call (quote odd field names as 'name')",
                    );
                }
                self.ts.pos += 1;
                Ok(Expr::Field(w))
            }
            _ => self.ts.err("a value, a field or a function call"),
        }
    }
}
