//! Data files (`data:`): a CSV file with a header row, or a JSON array of objects, read
//! into a [`DataTable`] once when the plan loads and shared by every VU.
//!
//! Each row is converted once to what templates read (a minijinja object over the row's
//! values), so a VU's row for an iteration is a reference count, never a copy. CSV values
//! are strings; JSON values stay JSON (numbers, booleans, arrays, objects).
//!
//! Pure: the text comes from the caller (`source::FileLookup`, which reads it up to
//! [`MAX_DATA`] bytes). A problem names the data file and its own line (and column, for
//! JSON): `users.csv:17: row has 3 fields, the header has 4`.

use std::fmt;
use std::sync::Arc;

use minijinja::Value as Mj;
use minijinja::value::{Enumerator, Object};

use super::source::ReadError;
use super::template::json_value;

/// The largest data file read: 256 MiB. Rows are kept in memory as template values,
/// which take about as much again as the text (more for many short columns); a larger
/// file is more likely a mistake (a log, a dump) than a feeder.
pub const MAX_DATA: u64 = 256 << 20;

/// The kind of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// A data file's rows, shared by every VU.
#[derive(Debug)]
pub struct DataTable {
    /// The file as the plan names it (`users.csv`).
    pub file: String,
    /// The columns: the CSV header, or the keys of the JSON array's first object.
    pub columns: Vec<String>,
    rows: Vec<Mj>,
}

impl DataTable {
    /// How many rows (never 0: a file without rows is an error).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `index` (0-based, below [`DataTable::len`]) as templates read it: a reference
    /// count on the row, not a copy. `None` past the last row.
    pub fn row(&self, index: usize) -> Option<&Mj> {
        self.rows.get(index)
    }

    /// Reads `text` (the file `file`, as the plan names it) as `format`.
    pub fn parse(file: &str, format: Format, text: &str) -> Result<Arc<Self>, DataError> {
        let error = |at: Option<(usize, Option<usize>)>, kind| DataError {
            file: file.to_owned(),
            at,
            kind,
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Err(error(None, DataErrorKind::Empty));
        }
        let (columns, rows) = match format {
            Format::Csv => {
                csv_rows(text).map_err(|(line, kind)| error(line.map(|l| (l, None)), kind))?
            }
            Format::Json => json_rows(text).map_err(|(at, kind)| error(at, kind))?,
        };
        if rows.is_empty() {
            return Err(error(None, DataErrorKind::NoRows));
        }
        Ok(Arc::new(Self {
            file: file.to_owned(),
            columns,
            rows,
        }))
    }
}

/// One row, as a template reads it: `data.users.token`.
#[derive(Debug)]
struct Row {
    /// The table's columns, as template values (shared by every row).
    columns: Arc<[Mj]>,
    values: Box<[Mj]>,
}

impl Object for Row {
    fn get_value(self: &Arc<Self>, key: &Mj) -> Option<Mj> {
        let position = self.columns.iter().position(|column| column == key)?;
        self.values.get(position).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.columns.to_vec())
    }
}

/// A problem with a data file: the file as the plan names it, where in it (line, and
/// column when known), and what.
#[derive(Debug)]
pub struct DataError {
    pub file: String,
    pub at: Option<(usize, Option<usize>)>,
    pub kind: DataErrorKind,
}

/// What is wrong with a data file.
#[derive(Debug)]
pub enum DataErrorKind {
    /// It cannot be read: missing, too large, not UTF-8.
    Read(ReadError),
    /// Nothing in it (or only whitespace).
    Empty,
    /// A header (or `[]`) and no row.
    NoRows,
    /// A CSV row with another number of fields than the header.
    Fields { found: usize, header: usize },
    /// A header column with no name (1-based column number).
    EmptyColumn(usize),
    /// A header naming a column twice.
    DuplicateColumn(String),
    /// CSV the reader refused, in its words.
    Csv(String),
    /// JSON that does not parse, in serde_json's words.
    JsonSyntax(String),
    /// The JSON is not an array: what it is.
    NotArray(&'static str),
    /// Element `index` (0-based) of the array is not an object: what it is.
    NotObject { index: usize, found: &'static str },
    /// Element `index` lacks a key the first object has.
    MissingKey { index: usize, key: String },
    /// Element `index` has a key the first object does not.
    ExtraKey { index: usize, key: String },
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, Some(column))) => write!(f, "{}:{line}:{column}: ", self.file)?,
            Some((line, None)) => write!(f, "{}:{line}: ", self.file)?,
            None => write!(f, "{}: ", self.file)?,
        }
        match &self.kind {
            DataErrorKind::Read(error) => write!(f, "{error}"),
            DataErrorKind::Empty => f.write_str("the file is empty"),
            DataErrorKind::NoRows => f.write_str("the file has no rows"),
            DataErrorKind::Fields { found, header } => write!(
                f,
                "row has {found} field{}, the header has {header}",
                if *found == 1 { "" } else { "s" }
            ),
            DataErrorKind::EmptyColumn(column) => {
                write!(f, "column {column} of the header has no name")
            }
            DataErrorKind::DuplicateColumn(name) => {
                write!(f, "the header names column `{name}` twice")
            }
            DataErrorKind::Csv(message) => write!(f, "invalid CSV: {message}"),
            DataErrorKind::JsonSyntax(message) => write!(f, "invalid JSON: {message}"),
            DataErrorKind::NotArray(found) => {
                write!(f, "expected an array of objects, found {found}")
            }
            DataErrorKind::NotObject { index, found } => {
                write!(f, "element {index} of the array is {found}, not an object")
            }
            DataErrorKind::MissingKey { index, key } => write!(
                f,
                "element {index} has no key `{key}`, which element 0 has (every object needs the same keys)"
            ),
            DataErrorKind::ExtraKey { index, key } => write!(
                f,
                "element {index} has key `{key}`, which element 0 does not (every object needs the same keys)"
            ),
        }
    }
}

impl std::error::Error for DataError {}

type Rows = (Vec<String>, Vec<Mj>);

/// Where in a data file: a line, and a column when known (1-based).
type At = Option<(usize, Option<usize>)>;

/// A CSV file's header and rows; an error with its 1-based line.
fn csv_rows(text: &str) -> Result<Rows, (Option<usize>, DataErrorKind)> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = reader.headers().map_err(|error| csv_error(&error))?.clone();
    let mut columns: Vec<String> = Vec::with_capacity(header.len());
    for (index, name) in header.iter().enumerate() {
        let name = name.trim();
        if name.is_empty() {
            return Err((Some(1), DataErrorKind::EmptyColumn(index + 1)));
        }
        if columns.iter().any(|c| c == name) {
            return Err((Some(1), DataErrorKind::DuplicateColumn(name.to_owned())));
        }
        columns.push(name.to_owned());
    }
    let keys: Arc<[Mj]> = columns.iter().map(|c| Mj::from(c.as_str())).collect();
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => rows.push(Mj::from_object(Row {
                columns: Arc::clone(&keys),
                values: record.iter().map(Mj::from).collect(),
            })),
            Err(error) => return Err(csv_error(&error)),
        }
    }
    Ok((columns, rows))
}

fn csv_error(error: &csv::Error) -> (Option<usize>, DataErrorKind) {
    match error.kind() {
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => (
            pos.as_ref()
                .map(|p| usize::try_from(p.line()).unwrap_or(usize::MAX)),
            DataErrorKind::Fields {
                found: usize::try_from(*len).unwrap_or(usize::MAX),
                header: usize::try_from(*expected_len).unwrap_or(usize::MAX),
            },
        ),
        _ => (
            error
                .position()
                .map(|p| usize::try_from(p.line()).unwrap_or(usize::MAX)),
            DataErrorKind::Csv(error.to_string()),
        ),
    }
}

/// A JSON file's keys (the first object's) and rows; an error with its line and column.
fn json_rows(text: &str) -> Result<Rows, (At, DataErrorKind)> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|error| {
        let message = error.to_string();
        // serde_json ends its message with ` at line L column C`: the position is ours.
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(head, _)| head)
            .to_owned();
        (
            Some((error.line(), Some(error.column()))),
            DataErrorKind::JsonSyntax(message),
        )
    })?;
    let serde_json::Value::Array(items) = value else {
        let at = element_start(text, None);
        return Err((at, DataErrorKind::NotArray(json_kind(&value))));
    };
    let mut columns: Vec<String> = Vec::new();
    let mut keys: Arc<[Mj]> = Arc::new([]);
    let mut rows = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let serde_json::Value::Object(fields) = item else {
            let at = element_start(text, Some(index));
            return Err((
                at,
                DataErrorKind::NotObject {
                    index,
                    found: json_kind(&item),
                },
            ));
        };
        if index == 0 {
            columns = fields.keys().cloned().collect();
            keys = columns.iter().map(|c| Mj::from(c.as_str())).collect();
        } else {
            let problem = if let Some(key) = columns.iter().find(|c| !fields.contains_key(*c)) {
                Some(DataErrorKind::MissingKey {
                    index,
                    key: key.clone(),
                })
            } else {
                fields.keys().find(|key| !columns.contains(key)).map(|key| {
                    DataErrorKind::ExtraKey {
                        index,
                        key: key.clone(),
                    }
                })
            };
            if let Some(problem) = problem {
                return Err((element_start(text, Some(index)), problem));
            }
        }
        let values: Box<[Mj]> = columns
            .iter()
            .map(|column| fields.get(column).map_or(Mj::from(()), json_value))
            .collect();
        rows.push(Mj::from_object(Row {
            columns: Arc::clone(&keys),
            values,
        }));
    }
    Ok((columns, rows))
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The line and column (1-based) where the top-level value starts (`None`), or element
/// `index` of the top-level array. Only called for an error, on text that parsed.
fn element_start(text: &str, index: Option<usize>) -> At {
    let bytes = text.as_bytes();
    let mut offset = None;
    let (mut depth, mut in_string, mut escaped, mut seen) = (0usize, false, false, 0usize);
    let mut expecting = false;
    for (at, &byte) in bytes.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if byte.is_ascii_whitespace() {
            continue;
        }
        if index.is_none() {
            offset = Some(at);
            break;
        }
        if expecting && depth == 1 {
            expecting = false;
            if Some(seen) == index {
                offset = Some(at);
                break;
            }
            seen += 1;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    let offset = offset?;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, Some(column)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str) -> Result<Arc<DataTable>, String> {
        DataTable::parse("users.csv", Format::Csv, text).map_err(|e| e.to_string())
    }

    fn json(text: &str) -> Result<Arc<DataTable>, String> {
        DataTable::parse("rows.json", Format::Json, text).map_err(|e| e.to_string())
    }

    fn field(table: &DataTable, row: usize, column: &str) -> String {
        table
            .row(row)
            .unwrap()
            .get_attr(column)
            .unwrap()
            .to_string()
    }

    #[test]
    fn csv_rows_are_read_with_their_header() {
        let table = csv("\u{feff}id, token\n1,a\n\n2,\"b,c\"\n").unwrap();
        assert_eq!(table.columns, ["id", "token"]);
        assert_eq!(table.len(), 2);
        assert_eq!(field(&table, 0, "token"), "a");
        assert_eq!(field(&table, 1, "token"), "b,c");
        assert_eq!(field(&table, 1, "id"), "2");
        assert!(
            table
                .row(0)
                .unwrap()
                .get_attr("nope")
                .unwrap()
                .is_undefined()
        );
        assert!(table.row(2).is_none());
    }

    #[test]
    fn csv_problems_name_the_line() {
        assert_eq!(
            csv("id,token,a,b\n1,2,3,4\n1,2,3\n").unwrap_err(),
            "users.csv:3: row has 3 fields, the header has 4"
        );
        assert_eq!(csv("").unwrap_err(), "users.csv: the file is empty");
        assert_eq!(
            csv("id,token\n").unwrap_err(),
            "users.csv: the file has no rows"
        );
        assert_eq!(
            csv("id,,token\n1,2,3\n").unwrap_err(),
            "users.csv:1: column 2 of the header has no name"
        );
        assert_eq!(
            csv("id,token,id\n1,2,3\n").unwrap_err(),
            "users.csv:1: the header names column `id` twice"
        );
    }

    #[test]
    fn json_values_stay_json() {
        let table = json(r#"[{"size": 10, "tags": ["a"]}, {"size": 20, "tags": []}]"#).unwrap();
        assert_eq!(table.columns, ["size", "tags"]);
        let size = table.row(1).unwrap().get_attr("size").unwrap();
        assert_eq!(i64::try_from(size).unwrap(), 20);
        assert_eq!(field(&table, 0, "tags"), "['a']");
    }

    #[test]
    fn json_problems_name_line_and_column() {
        assert_eq!(
            json("{\"a\": 1}").unwrap_err(),
            "rows.json:1:1: expected an array of objects, found an object"
        );
        assert_eq!(
            json("[\n  {\"a\": 1},\n  \"x, ]\"\n]").unwrap_err(),
            "rows.json:3:3: element 1 of the array is a string, not an object"
        );
        assert_eq!(
            json("[{\"a\": 1, \"b\": 2},\n {\"a\": 1}]").unwrap_err(),
            "rows.json:2:2: element 1 has no key `b`, which element 0 has (every object needs the same keys)"
        );
        assert_eq!(
            json("[{\"a\": 1},\n {\"a\": 1, \"c\": [1, {\"d\": 2}]}, {\"a\": 3, \"e\": 1}]")
                .unwrap_err(),
            "rows.json:2:2: element 1 has key `c`, which element 0 does not (every object needs the same keys)"
        );
        assert_eq!(
            json("[{\"a\": 1},\n {\"a\" 2}]").unwrap_err(),
            "rows.json:2:7: invalid JSON: expected `:`"
        );
        assert_eq!(json("[]").unwrap_err(), "rows.json: the file has no rows");
        assert_eq!(json("  \n").unwrap_err(), "rows.json: the file is empty");
    }
}
