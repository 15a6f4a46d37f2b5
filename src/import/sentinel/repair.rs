//! Repairs of known KQL syntax slips, token by token at the place the parser names.

use super::*;

// ---------------------------------------------------------------------------------------------
// Lifting

/// The length in bytes of a token's source text, for the few tokens repairs remove.
pub(super) fn token_len(t: &Token) -> usize {
    match &t.tok {
        Tok::Ident(s) | Tok::Number(s) => s.len(),
        Tok::Punct(p) => p.len(),
        Tok::Str(_) => 0,
    }
}

/// Blank a token out of the text (spaces, so every other position stays where it was).
pub(super) fn blank(text: &mut String, t: &Token) {
    let end = t.span.offset + token_len(t);
    text.replace_range(t.span.offset..end, &" ".repeat(end - t.span.offset));
}

/// The one repair both known slips make: blank token `t` out, with the note at it and the spec
/// comment `Repair (line N): <what>`.
pub(super) fn blank_repair(
    text: &mut String,
    t: &Token,
    block: &Block,
    msg: String,
    what: &str,
) -> (Note, String) {
    let note = block.at(t.span, msg);
    blank(text, t);
    let comment = format!("Repair (line {}): {what}", note.line);
    (note, comment)
}

/// Repair the syntax error the parser reported, at its position, if it is one of the known,
/// unambiguous slips. Returns the note (and the spec comment) on success.
pub(super) fn repair(
    text: &mut String,
    e: &parser::ParseError,
    block: &Block,
) -> Option<(Note, String)> {
    let toks = lex(text).ok()?;
    let i = toks.iter().position(|t| t.span.offset == e.span.offset)?;
    let prev = toks.get(i.checked_sub(1)?)?;
    match (&prev.tok, &toks[i].tok) {
        (Tok::Punct(","), Tok::Punct(")")) => {
            // the list the comma ends: the operator before its `(`
            let mut depth = 0usize;
            let mut op = String::from("value");
            for j in (0..i).rev() {
                match &toks[j].tok {
                    Tok::Punct(")") => depth += 1,
                    Tok::Punct("(") if depth == 0 => {
                        if let Some(Token {
                            tok: Tok::Ident(w), ..
                        }) = j.checked_sub(1).and_then(|k| toks.get(k))
                        {
                            op = format!("`{w} (...)`");
                        }
                        break;
                    }
                    Tok::Punct("(") => depth -= 1,
                    _ => {}
                }
            }
            let msg = format!(
                "syntax error ({}): a trailing comma ends the {op} list (Kusto: \"Missing expression\"); dropped it",
                e.message
            );
            Some(blank_repair(
                text,
                prev,
                block,
                msg,
                &format!("dropped the trailing comma in the {op} list."),
            ))
        }
        (Tok::Ident(a), Tok::Ident(b))
            if a != b
                && ["has_all", "has_any"].contains(&a.as_str())
                && ["has_all", "has_any"].contains(&b.as_str()) =>
        {
            // only with evidence: the tool's README writes this column with the second one
            let col = match i.checked_sub(2).map(|k| &toks[k].tok) {
                Some(Tok::Ident(c)) => c.clone(),
                _ => return None,
            };
            let written = format!("{col} {b} (");
            if !block.readme.contains(&written) {
                return None;
            }
            let msg = format!(
                "syntax error ({}): `{a} {b} (` names two list operators (Kusto: \"Expected: (\"); read as `{b}`: it is the operator written next to the list, and the tool's README (RMM_AHQ_*.md in the same folder) writes this query with `{written}...)`",
                e.message
            );
            Some(blank_repair(
                text,
                prev,
                block,
                msg,
                &format!("`{a} {b} (` read as `{b} (`, as the tool's README writes it."),
            ))
        }
        _ => None,
    }
}
