//! Escaping untrusted text at the point of output, once per format.
//!
//! - Terminal text: control characters (C0, DEL, C1), line and paragraph separators, and bidi
//!   and other invisible formatting characters are shown as escapes (`\n`, `\u{1b}`), so that no
//!   value can move the cursor, set the clipboard, open a link, reorder what is shown, or start a
//!   line of its own.
//! - Markdown: untrusted values go into code spans (or fences) whose backtick run they cannot
//!   close; kms-doctor's own prose has its metacharacters escaped.
//! - JSON: serde escapes C0; the invisible characters above are written as `\uXXXX` as well.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Characters that must never reach a terminal or a rendered page as themselves.
fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}'              // Arabic letter mark
            | '\u{200B}'..='\u{200F}' // zero-width spaces and joiners, LRM, RLM
            | '\u{2028}' | '\u{2029}' // line and paragraph separators
            | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{FEFF}'            // zero-width no-break space
            | '\u{FFF9}'..='\u{FFFB}' // interlinear annotations
        )
}

/// Untrusted text for a terminal (or any plain-text output).
pub fn terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hazard) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(shown_escaped(s, |c| match c {
        '\n' => Some("\\n"),
        '\r' => Some("\\r"),
        _ => None,
    }))
}

/// `s` with the characters `special` names replaced as it says, tabs as `\t`, and every other
/// hazard as `\u{…}`: plain text that shows what it holds and cannot act.
fn shown_escaped(s: &str, special: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match (special(c), c) {
            (Some(with), _) => out.push_str(with),
            (None, '\t') => out.push_str("\\t"),
            (None, c) if is_hazard(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            (None, c) => out.push(c),
        }
    }
    out
}

/// JSON text with the hazards serde leaves raw (DEL, C1, bidi, separators) as `\uXXXX`.
/// Outside strings JSON is ASCII, so the replacement can only touch string contents.
pub fn json(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| is_hazard(c) && !matches!(c, '\n' | ' ')) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_hazard(c) && c != '\n' {
            // Hazards are all in the Basic Multilingual Plane.
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Where a Markdown code span stands: in a table cell `|` must be escaped even inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MdContext {
    Block,
    Cell,
}

/// An untrusted value as a Markdown code span that it cannot close or leave.
pub fn code_span(s: &str, ctx: MdContext) -> String {
    let content = terminal(s);
    if content.is_empty() {
        return String::new();
    }
    let longest = longest_backtick_run(&content);
    let fence = "`".repeat(longest + 1);
    let pad = content.starts_with(['`', ' ']) || content.ends_with(['`', ' ']);
    let content = match ctx {
        MdContext::Cell => content.replace('|', "\\|"),
        MdContext::Block => content.into_owned(),
    };
    if pad {
        format!("{fence} {content} {fence}")
    } else {
        format!("{fence}{content}{fence}")
    }
}

/// A fenced block (a policy, a query) that its content cannot close.
pub fn fence(content: &str, info: &str) -> String {
    let content = json(content);
    let fence = "`".repeat((longest_backtick_run(&content) + 1).max(3));
    format!("{fence}{info}\n{content}\n{fence}")
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// kms-doctor's own words in Markdown: shown as written, never as markup.
pub fn md_prose(s: &str, ctx: MdContext) -> Cow<'_, str> {
    let special = |c: char| {
        matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '!' | '|' | '~' | '&'
        )
    };
    let s = terminal(s);
    if !s.contains(special) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c == '|' && ctx == MdContext::Block {
            out.push('|');
        } else if special(c) {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A value in a GitHub Actions workflow command (`::error file=…::message`): `%`, CR and LF
/// percent-encoded, as the runner decodes them, so a value can neither end the command nor
/// start another; the other hazards shown as in terminal text. Applied to the raw value: a
/// newline escaped for the terminal first would never reach this rule.
pub fn github_data(s: &str) -> String {
    shown_escaped(s, |c| match c {
        '%' => Some("%25"),
        '\r' => Some("%0D"),
        '\n' => Some("%0A"),
        _ => None,
    })
}

/// A property of a workflow command (`file=`, `title=`): as data, and `:` and `,` encoded too.
pub fn github_property(s: &str) -> String {
    github_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_text_shows_controls_bidi_and_line_breaks_escaped() {
        assert_eq!(
            terminal("plain arn:aws:iam::1:role/A"),
            "plain arn:aws:iam::1:role/A"
        );
        assert_eq!(
            terminal("a\u{1b}[2Jb\nc\r\u{9b}d\u{202e}e"),
            "a\\u{1b}[2Jb\\nc\\r\\u{9b}d\\u{202e}e"
        );
        assert!(!terminal("\u{1b}]52;c;SGVsbG8=\u{7}").contains(['\u{1b}', '\u{7}']));
    }

    #[test]
    fn code_spans_cannot_be_closed_from_inside() {
        assert_eq!(code_span("kms:*", MdContext::Block), "`kms:*`");
        assert_eq!(code_span("a`b", MdContext::Block), "``a`b``");
        assert_eq!(code_span("`x``", MdContext::Block), "``` `x`` ```");
        assert_eq!(code_span("a|b", MdContext::Cell), "`a\\|b`");
        assert_eq!(code_span("a\nb", MdContext::Block), "`a\\nb`");
    }

    #[test]
    fn fences_outlast_their_content_and_json_hides_bidi() {
        assert_eq!(fence("x ``` y", "json"), "````json\nx ``` y\n````");
        assert_eq!(json("{\"a\":\"\u{202e}\"}"), "{\"a\":\"\\u202e\"}");
        assert_eq!(json("{\n  \"a\": 1\n}"), "{\n  \"a\": 1\n}");
    }

    #[test]
    fn prose_metacharacters_are_escaped() {
        assert_eq!(md_prose("a *b* <c>", MdContext::Block), "a \\*b\\* \\<c\\>");
        assert_eq!(md_prose("a | b", MdContext::Cell), "a \\| b");
    }

    #[test]
    fn github_values_cannot_start_a_command() {
        let v = "x%\r\n::add-mask::X\u{1b}[31m\u{202e}";
        assert_eq!(
            github_data(v),
            "x%25%0D%0A::add-mask::X\\u{1b}[31m\\u{202e}"
        );
        assert!(!github_data(v).contains('\n'));
        assert_eq!(github_property("a:b,c\n"), "a%3Ab%2Cc%0A");
    }
}
