//! `data:` checks: each source names exactly one file (`csv:` or `json:`), which is read
//! (through the selection's [`super::FileLookup`]) and parsed here, once; templates'
//! `data.NAME.COLUMN` are checked against the sources and their columns.

use std::sync::Arc;

use indexmap::IndexMap;

use super::scope::Scope;
use super::{Analyzer, Selection, path, tick_list};
use crate::diag::did_you_mean;
use crate::plan::data::{DataError, DataErrorKind, DataTable, Format};
use crate::plan::model::DataOrder;

impl Analyzer<'_, '_> {
    /// Reads every data source; a source whose file is missing or bad is an error at its
    /// `csv:`/`json:` value and is left out (its columns are then not checked).
    pub(super) fn data(&mut self, selection: &Selection, stage: Option<&str>) {
        for (name, source) in &self.plan.data {
            let (format, file) = match (&source.csv, &source.json) {
                (Some(file), None) => (Format::Csv, file),
                (None, Some(file)) => (Format::Json, file),
                (Some(_), Some(_)) => {
                    self.error_key(
                        &path!["data", name.as_str(), "json"],
                        format!("data source `{name}` has both `csv` and `json`; give one"),
                        None,
                    );
                    self.data.insert(name.clone(), None);
                    continue;
                }
                (None, None) => {
                    self.error_key(
                        &path!["data", name.as_str()],
                        format!("data source `{name}` needs a file: `csv: FILE` or `json: FILE`"),
                        None,
                    );
                    self.data.insert(name.clone(), None);
                    continue;
                }
            };
            let key = if format == Format::Csv { "csv" } else { "json" };
            let at = path!["data", name.as_str(), key];
            let read = match &selection.files {
                Some(files) => files.read(file).map_err(|error| DataError {
                    file: file.clone(),
                    at: None,
                    kind: DataErrorKind::Read(error),
                }),
                None => Err(DataError {
                    file: file.clone(),
                    at: None,
                    kind: DataErrorKind::Read(crate::plan::source::ReadError::Io {
                        what: "data file",
                        error: std::io::Error::other("no file reader was given to the plan"),
                    }),
                }),
            };
            match read.and_then(|text| DataTable::parse(file, format, &text)) {
                Ok(table) => {
                    self.per_vu_rows(name, source.order, &table, stage);
                    self.data.insert(name.clone(), Some(table));
                }
                Err(error) => {
                    let help = match &error.kind {
                        DataErrorKind::Read(crate::plan::source::ReadError::Io { error, .. })
                            if error.kind() == std::io::ErrorKind::NotFound =>
                        {
                            Some("data files are read relative to the plan file's folder (or `--workdir`)".to_owned())
                        }
                        _ => None,
                    };
                    self.error(&at, error.to_string(), help);
                    self.data.insert(name.clone(), None);
                }
            }
        }
    }

    /// `per_vu` with fewer rows than the stage's VUs: VUs would share rows.
    fn per_vu_rows(
        &mut self,
        name: &str,
        order: DataOrder,
        table: &DataTable,
        stage: Option<&str>,
    ) {
        if order != DataOrder::PerVu {
            return;
        }
        let Some(stage) = stage.and_then(|stage| self.plan.stages.get(stage)) else {
            return;
        };
        let peak = crate::plan::split::peak_vus(stage);
        if (table.len() as u64) < u64::from(peak) {
            self.warning(
                &path!["data", name, "order"],
                format!(
                    "`{}` has {} row{} but the stage runs up to {peak} VUs: with `per_vu`, VU n reads row n, so VUs {} and up share rows",
                    table.file,
                    table.len(),
                    if table.len() == 1 { "" } else { "s" },
                    table.len() + 1
                ),
                Some("add rows, or use `order: sequential` or `random`".to_owned()),
            );
        }
    }

    /// What is wrong with `name` (`data.users.token`, as a template names it), if
    /// anything; notes the source as used.
    pub(super) fn data_problem(
        &mut self,
        name: &str,
        scope: &Scope,
    ) -> Option<(String, Option<String>)> {
        if !scope.data {
            return Some((
                "`data.*` is not available here: rows are picked per VU iteration, for the steps of scenarios".to_owned(),
                None,
            ));
        }
        let mut parts = name.split('.');
        parts.next();
        let Some(source) = parts.next() else {
            // `{{ data }}` or `data[...]`: any source may be read.
            let all: Vec<String> = self.data.keys().cloned().collect();
            self.data_used.extend(all);
            return None;
        };
        let Some(table) = self.data.get(source) else {
            let names: Vec<&str> = self.data.keys().map(String::as_str).collect();
            return Some((
                format!("unknown data source `data.{source}`"),
                did_you_mean(source, names.iter().copied()).or_else(|| {
                    Some(if names.is_empty() {
                        "the plan has no `data:` sources".to_owned()
                    } else {
                        format!("data sources are {}", tick_list(&names))
                    })
                }),
            ));
        };
        self.data_used.insert(source.to_owned());
        let (Some(table), Some(column)) = (table, parts.next()) else {
            return None;
        };
        if table.columns.iter().any(|c| c == column) {
            return None;
        }
        let columns: Vec<&str> = table.columns.iter().map(String::as_str).collect();
        Some((
            format!(
                "unknown column `{column}` of data source `{source}` (`{}`)",
                table.file
            ),
            did_you_mean(column, columns.iter().copied())
                .map(|help| format!("{help} (columns: {})", tick_list(&columns)))
                .or_else(|| Some(format!("its columns are {}", tick_list(&columns)))),
        ))
    }

    /// The tables read, without the ones that failed (there are none when the plan has
    /// no error).
    pub(super) fn tables_read(&self) -> IndexMap<String, Arc<DataTable>> {
        self.data
            .iter()
            .filter_map(|(name, table)| Some((name.clone(), Arc::clone(table.as_ref()?))))
            .collect()
    }
}
