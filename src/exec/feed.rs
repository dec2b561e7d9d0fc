//! Data feeders at run time: which row of each `data:` source an iteration reads.
//!
//! The tables were read once when the plan loaded ([`crate::plan::data`]); a row handed
//! to a VU is a reference count on it. Per order:
//!
//! - `per_vu`: row = the VU's id (its global seat, so the same in a split run), wrapping;
//! - `sequential`: one run-wide cursor (an atomic), wrapping; in a split run the cursor
//!   walks the rows this segment owns first (`Segment::slot`), so segments start apart;
//! - `random`: drawn with the VU's seeded generator;
//! - `unique`: one run-wide cursor over the rows this segment owns (`Segment::owns` on
//!   the 1-based row number), so segments never share a row; past the last one the
//!   iteration fails with `data exhausted` and the VU stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use indexmap::{IndexMap, IndexSet};
use minijinja::Value as Mj;

use crate::plan::data::DataTable;
use crate::plan::model::{DataOrder, Plan};
use crate::segment::Segment;

/// One source of the run.
struct Feeder {
    table: Arc<DataTable>,
    order: DataOrder,
    /// Rows taken so far in this process (`sequential`, `unique`).
    taken: AtomicU64,
}

/// Every source of the run, and which ones each scenario reads.
pub struct Feeders {
    /// The sources' names, in plan order: what a VU's `data` object answers to.
    pub names: Arc<[Mj]>,
    feeders: Vec<Feeder>,
    /// By scenario, the indexes in `feeders` of the sources its templates read.
    used: IndexMap<String, Vec<usize>>,
    segment: Segment,
}

/// A `unique` source had no row left for an iteration: its name.
#[derive(Debug)]
pub struct Exhausted(pub String);

impl Feeders {
    pub fn new(
        plan: &Plan,
        tables: IndexMap<String, Arc<DataTable>>,
        used: &IndexMap<String, IndexSet<String>>,
        segment: Segment,
    ) -> Self {
        let names: Arc<[Mj]> = tables.keys().map(|name| Mj::from(name.as_str())).collect();
        let used = used
            .iter()
            .map(|(scenario, sources)| {
                let indexes = sources
                    .iter()
                    .filter_map(|source| tables.get_index_of(source))
                    .collect();
                (scenario.clone(), indexes)
            })
            .collect();
        let feeders = tables
            .into_iter()
            .map(|(name, table)| Feeder {
                order: plan
                    .data
                    .get(&name)
                    .map_or(DataOrder::Sequential, |s| s.order),
                table,
                taken: AtomicU64::new(0),
            })
            .collect();
        Self {
            names,
            feeders,
            used,
            segment,
        }
    }

    /// Whether `scenario` reads any source.
    pub fn reads(&self, scenario: &str) -> bool {
        self.used.get(scenario).is_some_and(|used| !used.is_empty())
    }

    /// Picks the rows `scenario`'s iteration reads, storing each in `rows` at its source's
    /// index; `vu` is the VU's id.
    pub fn pick(
        &self,
        scenario: &str,
        vu: u64,
        rng: &mut fastrand::Rng,
        rows: &mut [Mj],
    ) -> Result<(), Exhausted> {
        let Some(used) = self.used.get(scenario) else {
            return Ok(());
        };
        for &index in used {
            let (Some(feeder), Some(slot)) = (self.feeders.get(index), rows.get_mut(index)) else {
                continue;
            };
            let len = feeder.table.len() as u64;
            if len == 0 {
                continue;
            }
            let row = match feeder.order {
                DataOrder::PerVu => vu.max(1).wrapping_sub(1) % len,
                DataOrder::Random => rng.u64(..len),
                DataOrder::Sequential => {
                    let nth = feeder.taken.fetch_add(1, Ordering::Relaxed) + 1;
                    (self.segment.slot(nth) - 1) % len
                }
                DataOrder::Unique => {
                    let nth = feeder.taken.fetch_add(1, Ordering::Relaxed) + 1;
                    let number = self.segment.slot(nth);
                    if number > len {
                        let name = self.names.get(index).map(ToString::to_string);
                        return Err(Exhausted(name.unwrap_or_default()));
                    }
                    number - 1
                }
            };
            // `row` < `len`, the table's length: a usize.
            if let Some(value) = feeder.table.row(row as usize) {
                *slot = value.clone();
            }
        }
        Ok(())
    }
}
