//! Tables of the HTML report: a small builder that escapes every cell, right-aligns the
//! figures, wraps the table in its own horizontal scroller (a phone scrolls the table, not
//! the page) and stops at a row limit with "N more".

use std::fmt::Write as _;

use super::escape;

/// A cell: text (escaped when written), or HTML made here (a status badge).
#[derive(Debug, Clone)]
pub enum Cell {
    Text(String),
    /// A figure: right-aligned, tabular digits.
    Figure(String),
    /// Trusted HTML built by this module's callers from escaped parts.
    Html(String),
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    pub fn figure(text: impl Into<String>) -> Self {
        Self::Figure(text.into())
    }
}

/// A table under construction.
#[derive(Debug, Clone, Default)]
pub struct Table {
    head: Vec<(String, bool)>,
    rows: Vec<Vec<Cell>>,
    /// Rows not kept past the limit.
    more: usize,
    limit: Option<usize>,
    class: String,
}

impl Table {
    /// A table with these column headings; a heading starting with `#` is a figure column
    /// (right-aligned; the `#` is not shown).
    pub fn new(head: &[&str]) -> Self {
        Self {
            head: head
                .iter()
                .map(|h| match h.strip_prefix('#') {
                    Some(h) => (h.to_owned(), true),
                    None => ((*h).to_owned(), false),
                })
                .collect(),
            ..Self::default()
        }
    }

    /// Keeps at most `limit` rows; the rest are counted and said.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// A class for the `<table>` (`thresholds`).
    pub fn class(mut self, class: &str) -> Self {
        self.class = class.to_owned();
        self
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        if self.is_full() {
            self.more += 1;
        } else {
            self.rows.push(cells);
        }
    }

    /// Whether the next row would be left out: a caller can [`skip`](Self::skip) it
    /// without working out its cells.
    pub fn is_full(&self) -> bool {
        self.limit.is_some_and(|limit| self.rows.len() >= limit)
    }

    /// Counts a row left out.
    pub fn skip(&mut self) {
        self.more += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.more == 0
    }

    /// The table's HTML, in its scroller, with "N more" when rows were left out.
    pub fn html(&self) -> String {
        let mut out = String::from(r#"<div class="scroll"><table"#);
        if !self.class.is_empty() {
            let _ = write!(out, r#" class="{}""#, escape(&self.class));
        }
        out.push_str("><thead><tr>");
        for (heading, figure) in &self.head {
            let _ = write!(
                out,
                "<th{}>{}</th>",
                if *figure { r#" class="num""# } else { "" },
                escape(heading)
            );
        }
        out.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            out.push_str("<tr>");
            for cell in row {
                match cell {
                    Cell::Text(text) => {
                        let _ = write!(out, "<td>{}</td>", escape(text));
                    }
                    Cell::Figure(text) => {
                        let _ = write!(out, r#"<td class="num">{}</td>"#, escape(text));
                    }
                    Cell::Html(html) => {
                        let _ = write!(out, "<td>{html}</td>");
                    }
                }
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table></div>");
        if self.more > 0 {
            let _ = write!(
                out,
                r#"<p class="note">{} more not shown (the results JSON has every one).</p>"#,
                self.more
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_escaped_and_rows_capped() {
        let mut table = Table::new(&["name", "#count"]).limit(2);
        for i in 0..5 {
            table.row(vec![
                Cell::text(format!("<script>{i}</script>")),
                Cell::figure(i.to_string()),
            ]);
        }
        let html = table.html();
        assert!(!html.contains("<script>"));
        assert_eq!(html.matches("&lt;script&gt;").count(), 2);
        assert!(html.contains(r#"<th class="num">count</th>"#));
        assert!(html.contains("3 more not shown"));
    }
}
