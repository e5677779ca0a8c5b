//! The stage table of docs/ARCHITECTURE.md: each stage and the stages it
//! may call.

use std::collections::{BTreeMap, BTreeSet};

/// Stage name → the stages it may call.
pub type Table = BTreeMap<String, BTreeSet<String>>;

/// Reads the table's rows: `| stage | `module` | what it owns | may call |`,
/// where the module and the stages it may call are written in backticks.
pub fn parse(markdown: &str) -> Table {
    let mut table = Table::new();
    for line in markdown.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() != 4 || !cells[1].starts_with('`') {
            continue;
        }
        let module = cells[1].trim_matches('`').to_string();
        table.insert(module, quoted(cells[3]));
    }
    table
}

/// The names written in backticks in `cell`.
fn quoted(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_with_a_module_in_backticks_are_stages() {
        let table = parse(
            "| stage | module | owns | may call |\n\
             |---|---|---|---|\n\
             | store | `store` | the history | `error`, `record` |\n\
             | errors | `error` | the error type | |\n\
             | not a row | plain | x | `y` |\n",
        );
        assert_eq!(table.len(), 2);
        assert_eq!(
            table["store"].iter().collect::<Vec<_>>(),
            ["error", "record"]
        );
        assert!(table["error"].is_empty());
    }
}
