//! What a CommonMark renderer (with GitHub's tables) makes of a Markdown report, for tests that
//! check that untrusted text cannot act.

#![allow(dead_code)]

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

pub struct Rendered {
    /// HTML, links and images: none may come from data.
    pub markup: Vec<String>,
    /// The text of code spans.
    pub code: Vec<String>,
    /// The text of fenced blocks.
    pub blocks: Vec<String>,
    /// Tables, as rows of cells (the header first); a cell's text is its text and code.
    pub tables: Vec<Vec<Vec<String>>>,
}

/// kms-doctor's own disclosure blocks, each line as the report writes it: not from data.
const OWN_MARKUP: [&str; 4] = [
    "<details>\n",
    "</details>\n",
    "<summary>Evidence</summary>\n",
    "<summary>Key policy, AWS calls</summary>\n",
];

pub fn render(markdown: &str) -> Rendered {
    let mut r = Rendered {
        markup: Vec::new(),
        code: Vec::new(),
        blocks: Vec::new(),
        tables: Vec::new(),
    };
    let mut in_block = false;
    let cell = |r: &mut Rendered, text: &str| {
        if let Some(c) = r
            .tables
            .last_mut()
            .and_then(|t| t.last_mut())
            .and_then(|row| row.last_mut())
        {
            c.push_str(text);
        }
    };
    let mut in_table = false;
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Html(h) if OWN_MARKUP.contains(&h.as_ref()) => {}
            Event::Html(h) | Event::InlineHtml(h) => r.markup.push(h.to_string()),
            Event::Start(Tag::Link { dest_url, .. }) => r.markup.push(format!("link {dest_url}")),
            Event::Start(Tag::Image { dest_url, .. }) => r.markup.push(format!("image {dest_url}")),
            Event::Code(c) => {
                r.code.push(c.to_string());
                if in_table {
                    cell(&mut r, &c);
                }
            }
            Event::Start(Tag::CodeBlock(_)) => {
                in_block = true;
                r.blocks.push(String::new());
            }
            Event::End(TagEnd::CodeBlock) => in_block = false,
            Event::Text(t) if in_block => r.blocks.last_mut().unwrap().push_str(&t),
            Event::Text(t) if in_table => cell(&mut r, &t),
            Event::Start(Tag::Table(_)) => {
                in_table = true;
                r.tables.push(Vec::new());
            }
            Event::End(TagEnd::Table) => in_table = false,
            Event::Start(Tag::TableHead | Tag::TableRow) => {
                if let Some(t) = r.tables.last_mut() {
                    t.push(Vec::new());
                }
            }
            Event::Start(Tag::TableCell) => {
                if let Some(row) = r.tables.last_mut().and_then(|t| t.last_mut()) {
                    row.push(String::new());
                }
            }
            _ => {}
        }
    }
    r
}
