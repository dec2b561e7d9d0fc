//! Source positions.

/// A range of characters in a plan's source: 1-based line and column of its start, and its
/// length in characters (at least 1 when printed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    /// Character index of the start, from the beginning of the source.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// Length in characters.
    pub len: usize,
}

impl Span {
    pub fn new(offset: usize, line: usize, col: usize, len: usize) -> Self {
        Self {
            offset,
            line,
            col,
            len,
        }
    }

    /// A part of this span, `skip` characters in and `len` long, when both stay on its line.
    pub fn part(self, skip: usize, len: usize) -> Self {
        Self {
            offset: self.offset + skip,
            line: self.line,
            col: self.col + skip,
            len,
        }
    }
}
