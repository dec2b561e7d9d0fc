//! Editing a Markdown document: add a row to the table under a heading, insert a block at
//! the end of a heading's section, replace a marked section, or append at the end. Pure
//! text → text; an edit that cannot be placed is an error and the caller writes nothing.
//!
//! Headings are ATX lines (`## Historical Results`) outside fenced code blocks, matched
//! without surrounding whitespace; a section runs to the next heading of the same or a
//! higher level. Line endings are kept: a CRLF document stays CRLF.

/// Where a rendered report goes in the document.
#[derive(Debug, Clone, Copy)]
pub enum Placement<'a> {
    /// At the end of the document.
    End,
    /// Under this heading: a row added to its first table, or the block at the end of its
    /// section when it has no table.
    Under(&'a str),
    /// Between `<!-- loadplan:begin ID -->` and `<!-- loadplan:end ID -->`; the first time,
    /// the markers are added at the end of the `under` heading's section (or of the document).
    Section { id: &'a str, under: Option<&'a str> },
}

/// Why an edit cannot be placed; the document is left as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentError {
    /// No heading line matches.
    NoHeading { heading: String },
    /// The row's number of cells differs from the table's header.
    Columns {
        heading: String,
        want: usize,
        have: usize,
        row: String,
    },
    /// The section's end marker comes before its begin marker.
    MarkersReversed { begin: String, end: String },
    /// Only one of the section's two markers is in the document.
    HalfSection { found: String, missing: String },
}

impl std::fmt::Display for DocumentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoHeading { heading } => {
                write!(f, "the heading `{heading}` is not in the document")
            }
            Self::Columns {
                heading,
                want,
                have,
                row,
            } => write!(
                f,
                "the table under `{heading}` has {want} columns but the row has {have}: {row}"
            ),
            Self::MarkersReversed { begin, end } => write!(f, "`{end}` comes before `{begin}`"),
            Self::HalfSection { found, missing } => write!(f, "`{found}` has no `{missing}`"),
        }
    }
}

impl std::error::Error for DocumentError {}

/// What was done, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Appended,
    RowAdded,
    BlockInserted,
    SectionReplaced,
    SectionAdded,
}

/// Places `block` (or `row`, for a table under a heading) in `text`.
pub fn edit(
    text: &str,
    placement: Placement<'_>,
    block: &str,
    row: Option<&str>,
) -> Result<(String, Edit), DocumentError> {
    let crlf = text.contains("\r\n");
    let text = text.replace("\r\n", "\n");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let block_lines: Vec<String> = block
        .replace("\r\n", "\n")
        .trim_matches('\n')
        .lines()
        .map(str::to_owned)
        .collect();
    let done = match placement {
        Placement::End => {
            trim_trailing_blank(&mut lines);
            if !lines.is_empty() {
                lines.push(String::new());
            }
            lines.extend(block_lines);
            Edit::Appended
        }
        Placement::Under(heading) => {
            let (start, end) = section(&lines, heading)?;
            match (table_in(&lines, start + 1, end), row) {
                (Some((header, last)), Some(row)) => {
                    let want = cells(&lines[header]);
                    let have = cells(row);
                    if want != have {
                        return Err(DocumentError::Columns {
                            heading: heading.trim().to_owned(),
                            want,
                            have,
                            row: row.to_owned(),
                        });
                    }
                    lines.insert(last + 1, row.to_owned());
                    Edit::RowAdded
                }
                _ => {
                    insert_at_section_end(&mut lines, start, end, block_lines);
                    Edit::BlockInserted
                }
            }
        }
        Placement::Section { id, under } => {
            let begin = format!("<!-- loadplan:begin {id} -->");
            let end_marker = format!("<!-- loadplan:end {id} -->");
            let fence = fenced(&lines);
            let find = |marker: &str| {
                lines
                    .iter()
                    .enumerate()
                    .position(|(i, l)| !fence[i] && l.trim() == marker)
            };
            match (find(&begin), find(&end_marker)) {
                (Some(b), Some(e)) if b < e => {
                    let mut replacement = vec![String::new()];
                    replacement.extend(block_lines);
                    replacement.push(String::new());
                    lines.splice(b + 1..e, replacement);
                    Edit::SectionReplaced
                }
                (Some(_), Some(_)) => {
                    return Err(DocumentError::MarkersReversed {
                        begin,
                        end: end_marker,
                    });
                }
                (Some(_), None) => {
                    return Err(DocumentError::HalfSection {
                        found: begin,
                        missing: end_marker,
                    });
                }
                (None, Some(_)) => {
                    return Err(DocumentError::HalfSection {
                        found: end_marker,
                        missing: begin,
                    });
                }
                (None, None) => {
                    let mut marked = vec![begin, String::new()];
                    marked.extend(block_lines);
                    marked.extend([String::new(), end_marker]);
                    match under {
                        Some(heading) => {
                            let (start, end) = section(&lines, heading)?;
                            insert_at_section_end(&mut lines, start, end, marked);
                        }
                        None => {
                            trim_trailing_blank(&mut lines);
                            if !lines.is_empty() {
                                lines.push(String::new());
                            }
                            lines.extend(marked);
                        }
                    }
                    Edit::SectionAdded
                }
            }
        }
    };
    let newline = if crlf { "\r\n" } else { "\n" };
    let mut out = lines.join(newline);
    out.push_str(newline);
    Ok((out, done))
}

/// Whether `placement` can be made in `text`, as [`edit`] would find it: the heading, or
/// the section's markers (both or neither, in order) and, while there are none, the
/// heading they will be added under. A row's cells are checked when it is written.
pub fn check(text: &str, placement: Placement<'_>) -> Result<(), DocumentError> {
    edit(text, placement, "", None).map(|_| ())
}

/// The heading lines of `text` outside fenced code blocks, trimmed, in order.
pub fn headings(text: &str) -> Vec<String> {
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let fence = fenced(&lines);
    lines
        .iter()
        .enumerate()
        .filter(|(i, line)| !fence[*i] && level(line.trim()).is_some())
        .map(|(_, line)| line.trim().to_owned())
        .collect()
}

fn trim_trailing_blank(lines: &mut Vec<String>) {
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
}

/// The heading level of an ATX heading line (`## x` → 2).
pub(super) fn level(line: &str) -> Option<usize> {
    let hashes = line.bytes().take_while(|b| *b == b'#').count();
    let rest = &line[hashes..];
    ((1..=6).contains(&hashes) && (rest.is_empty() || rest.starts_with([' ', '\t'])))
        .then_some(hashes)
}

/// Which lines are inside fenced code blocks (and so hold no heading, table or marker).
/// CommonMark's rules: a fence is 3 or more backticks or tildes indented at most 3 spaces;
/// it is closed by a fence of the same character, at least as long, with nothing after it.
pub(super) fn fenced(lines: &[String]) -> Vec<bool> {
    /// The fence character and length a line opens or closes with, and what follows.
    fn fence(line: &str) -> Option<(u8, usize, &str)> {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        let char = *rest.as_bytes().first()?;
        if indent > 3 || !matches!(char, b'`' | b'~') {
            return None;
        }
        let length = rest.bytes().take_while(|b| *b == char).count();
        (length >= 3).then(|| (char, length, &rest[length..]))
    }
    let mut open: Option<(u8, usize)> = None;
    lines
        .iter()
        .map(|line| match (open, fence(line)) {
            (None, Some((char, length, info))) => {
                // A backtick fence's info string cannot hold a backtick.
                if char != b'`' || !info.contains('`') {
                    open = Some((char, length));
                }
                true
            }
            (Some((char, length)), Some((c, l, after)))
                if c == char && l >= length && after.trim().is_empty() =>
            {
                open = None;
                true
            }
            (inside, _) => inside.is_some(),
        })
        .collect()
}

/// The heading's line and the end (exclusive) of its section.
fn section(lines: &[String], heading: &str) -> Result<(usize, usize), DocumentError> {
    let heading = heading.trim();
    let fence = fenced(lines);
    let start = lines
        .iter()
        .enumerate()
        .position(|(i, l)| !fence[i] && l.trim() == heading)
        .ok_or_else(|| DocumentError::NoHeading {
            heading: heading.to_owned(),
        })?;
    let own = level(heading).unwrap_or(6);
    let end = (start + 1..lines.len())
        .find(|&i| !fence[i] && level(lines[i].trim_end()).is_some_and(|l| l <= own))
        .unwrap_or(lines.len());
    Ok((start, end))
}

/// The first table in `from..to`: its header line and its last line.
pub(super) fn table_in(lines: &[String], from: usize, to: usize) -> Option<(usize, usize)> {
    let fence = fenced(lines);
    let is_row = |i: usize| !fence[i] && lines[i].trim().starts_with('|');
    let header = (from..to.saturating_sub(1))
        .find(|&i| is_row(i) && is_separator(&lines[i + 1]) && !fence[i + 1])?;
    let mut last = header + 1;
    while last + 1 < to && is_row(last + 1) {
        last += 1;
    }
    Some((header, last))
}

fn is_separator(line: &str) -> bool {
    let line = line.trim();
    line.starts_with('|')
        && line.contains('-')
        && line
            .chars()
            .all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
}

/// The number of cells of a table line (`| a | b |` → 2); `\|` is not a separator.
pub fn cells(line: &str) -> usize {
    let line = line.trim();
    let mut count: usize = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => {
                escaped = true;
                continue;
            }
            '|' if !escaped => count += 1,
            _ => {}
        }
        escaped = false;
    }
    let leading = usize::from(line.starts_with('|'));
    let trailing = usize::from(line.len() > 1 && line.ends_with('|') && !line.ends_with("\\|"));
    (count + 1).saturating_sub(leading + trailing)
}

/// Inserts `block` at the end of the section `start..end`, before its trailing blank lines,
/// with one blank line around it.
fn insert_at_section_end(lines: &mut Vec<String>, start: usize, end: usize, block: Vec<String>) {
    let mut at = end;
    while at > start + 1 && lines[at - 1].trim().is_empty() {
        at -= 1;
    }
    let mut inserted = vec![String::new()];
    inserted.extend(block);
    if at < lines.len() {
        inserted.push(String::new());
    }
    // Blank lines that separated the section from the next heading are replaced by ours.
    lines.splice(at..end, inserted);
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Doc\n\n## Historical Results\n\nRecord results:\n\n| Date | Env | Pass |\n|------|-----|------|\n| 1 | prod | - |\n\n## Related\n\n- x\n";

    /// What `check` finds before a run, as `edit` would after it.
    #[test]
    fn check_finds_what_an_edit_would_miss() {
        let half = format!("{DOC}<!-- loadplan:begin a -->\n");
        let reversed = format!("{DOC}<!-- loadplan:end a -->\n<!-- loadplan:begin a -->\n");
        let no_heading = |heading: &str| {
            Err(DocumentError::NoHeading {
                heading: heading.to_owned(),
            })
        };
        let cases: Vec<(&str, Placement<'_>, Result<(), DocumentError>)> = vec![
            (DOC, Placement::Under("## Historical Results"), Ok(())),
            (
                DOC,
                Placement::Under("## Historic Results"),
                no_heading("## Historic Results"),
            ),
            (DOC, Placement::End, Ok(())),
            (
                DOC,
                Placement::Section {
                    id: "a",
                    under: None,
                },
                Ok(()),
            ),
            (
                DOC,
                Placement::Section {
                    id: "a",
                    under: Some("## Related"),
                },
                Ok(()),
            ),
            (
                DOC,
                Placement::Section {
                    id: "a",
                    under: Some("## Unrelated"),
                },
                no_heading("## Unrelated"),
            ),
            (
                &half,
                Placement::Section {
                    id: "a",
                    under: None,
                },
                Err(DocumentError::HalfSection {
                    found: "<!-- loadplan:begin a -->".into(),
                    missing: "<!-- loadplan:end a -->".into(),
                }),
            ),
            (
                &reversed,
                Placement::Section {
                    id: "a",
                    under: None,
                },
                Err(DocumentError::MarkersReversed {
                    begin: "<!-- loadplan:begin a -->".into(),
                    end: "<!-- loadplan:end a -->".into(),
                }),
            ),
        ];
        for (text, placement, expected) in cases {
            assert_eq!(check(text, placement), expected, "{placement:?}");
        }
    }

    #[test]
    fn headings_skip_fenced_code() {
        let text = "# A\n\n```\n## not one\n```\n\n  ## B  \n#nope\n";
        assert_eq!(headings(text), ["# A", "## B"]);
    }

    #[test]
    fn adds_a_row_to_the_table_under_the_heading() {
        let (out, done) = edit(
            DOC,
            Placement::Under("## Historical Results"),
            "block",
            Some("| 2 | local | ✅ |"),
        )
        .unwrap();
        assert_eq!(done, Edit::RowAdded);
        assert_eq!(
            out,
            DOC.replace(
                "| 1 | prod | - |\n",
                "| 1 | prod | - |\n| 2 | local | ✅ |\n"
            )
        );
    }

    #[test]
    fn column_mismatch_and_missing_heading_are_errors() {
        let error = edit(
            DOC,
            Placement::Under("## Historical Results"),
            "",
            Some("| 2 | local |"),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("3 columns but the row has 2"),
            "{error}"
        );
        let error = edit(DOC, Placement::Under("## Nope"), "", Some("| a |")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the heading `## Nope` is not in the document"
        );
    }

    #[test]
    fn inserts_a_block_at_the_end_of_a_section_without_table() {
        let (out, done) = edit(DOC, Placement::Under("# Doc"), "### New\n\ntext\n", None).unwrap();
        assert_eq!(done, Edit::BlockInserted);
        assert!(out.ends_with("- x\n\n### New\n\ntext\n"), "{out}");
        let (out, _) = edit(DOC, Placement::Under("## Related"), "B", None).unwrap();
        assert!(out.ends_with("## Related\n\n- x\n\nB\n"), "{out}");
    }

    #[test]
    fn replaces_a_marked_section_and_adds_markers_once() {
        let (once, done) = edit(
            DOC,
            Placement::Section {
                id: "latest",
                under: Some("## Historical Results"),
            },
            "first\n",
            None,
        )
        .unwrap();
        assert_eq!(done, Edit::SectionAdded);
        assert!(
            once.contains(
                "| 1 | prod | - |\n\n<!-- loadplan:begin latest -->\n\nfirst\n\n<!-- loadplan:end latest -->\n\n## Related"
            ),
            "{once}"
        );
        let (twice, done) = edit(
            &once,
            Placement::Section {
                id: "latest",
                under: None,
            },
            "second\n",
            None,
        )
        .unwrap();
        assert_eq!(done, Edit::SectionReplaced);
        assert_eq!(twice, once.replace("first", "second"));
        let error = edit(
            "<!-- loadplan:begin x -->\n",
            Placement::Section {
                id: "x",
                under: None,
            },
            "",
            None,
        )
        .unwrap_err();
        assert!(error.to_string().contains("has no"), "{error}");
    }

    #[test]
    fn keeps_crlf_and_tolerates_trailing_whitespace() {
        let crlf = DOC
            .replace("## Historical Results\n", "## Historical Results   \n")
            .replace("| 1 | prod | - |\n", "| 1 | prod | - |  \n")
            .replace('\n', "\r\n");
        let (out, _) = edit(
            &crlf,
            Placement::Under("## Historical Results"),
            "",
            Some("| 2 | b | c |"),
        )
        .unwrap();
        assert!(
            out.contains("| 1 | prod | - |  \r\n| 2 | b | c |\r\n\r\n## Related"),
            "{out:?}"
        );
        assert!(!out.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn fences_close_only_on_their_own_kind_and_length() {
        let lines = |text: &str| text.lines().map(str::to_owned).collect::<Vec<_>>();
        // ```` holds ``` and ~~~ as text; only ```` (or longer) closes it.
        let doc = lines("# D\n````\n```\n## Runs\n~~~\n````\n## Runs\n");
        assert_eq!(fenced(&doc), [false, true, true, true, true, true, false]);
        // Indented 4 spaces is code, not a fence; a closing fence takes no info string.
        let doc = lines("```rust\n```not-a-close\n## In\n    ```\n```\n## Out\n");
        assert_eq!(fenced(&doc), [true, true, true, true, true, false]);
        let edited = edit(
            "<!-- loadplan:begin x -->\n```\n<!-- loadplan:begin x -->\n<!-- loadplan:end x -->\n```\n<!-- loadplan:end x -->\n",
            Placement::Section {
                id: "x",
                under: None,
            },
            "new",
            None,
        );
        let (text, _) = edited.expect("markers outside the fence are found");
        assert!(
            text.starts_with("<!-- loadplan:begin x -->\n\nnew\n\n<!-- loadplan:end x -->"),
            "{text}"
        );
    }

    #[test]
    fn headings_in_code_fences_do_not_count() {
        let doc = "```\n## Historical Results\n```\n";
        assert!(edit(doc, Placement::Under("## Historical Results"), "", None).is_err());
        assert_eq!(cells("| a | b \\| c | d |"), 3);
        assert_eq!(cells("a | b"), 2);
    }

    #[test]
    fn appends_at_the_end() {
        let (out, _) = edit("# T\n\n\n", Placement::End, "x\n", None).unwrap();
        assert_eq!(out, "# T\n\nx\n");
    }
}
