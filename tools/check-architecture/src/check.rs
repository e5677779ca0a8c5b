//! The rules: every reference from one stage to another is one the table
//! allows, every stage is in the table and every row of the table is a
//! stage, no permission goes unused, and no two modules import each other
//! in a cycle (test code aside).

use std::collections::{BTreeMap, BTreeSet};

use crate::references::Reference;
use crate::table::Table;

/// One source file as the check sees it.
pub struct File {
    /// Its path, for messages.
    pub path: String,
    /// Its module from the crate root (`[]` for lib.rs).
    pub module: Vec<String>,
    pub references: Vec<Reference>,
}

/// Everything wrong, one line each, sorted.
pub fn problems(table: &Table, files: &[File]) -> Vec<String> {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let stages: BTreeSet<&str> = files
        .iter()
        .filter_map(|f| f.module.first().map(String::as_str))
        .collect();
    let mut problems = BTreeSet::new();
    let mut used: BTreeSet<(String, String)> = BTreeSet::new();
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in files {
        let Some(stage) = file.module.first() else {
            continue;
        };
        if !table.contains_key(stage) {
            problems.insert(format!(
                "{}: module `{stage}` is not in the stage table",
                file.path
            ));
        }
        for reference in &file.references {
            let Some(callee) = reference.target.first() else {
                continue;
            };
            if !stages.contains(callee.as_str()) {
                continue;
            }
            if callee != stage {
                used.insert((stage.clone(), callee.clone()));
                if table
                    .get(stage)
                    .is_some_and(|allowed| !allowed.contains(callee))
                {
                    problems.insert(format!(
                        "{}:{}: `{stage}` calls `{callee}` (crate::{}), which the stage table does not allow",
                        file.path,
                        reference.line,
                        reference.target.join("::")
                    ));
                }
            }
            if !reference.in_test
                && let Some(target) = longest_module(&modules, &reference.target)
                && !file.module.starts_with(&target)
            {
                graph.entry(file.module.clone()).or_default().insert(target);
            }
        }
    }
    problems.extend(stale(table, &stages, &used));
    problems.extend(
        cycles(&graph)
            .into_iter()
            .map(|c| format!("import cycle: {c}")),
    );
    problems.into_iter().collect()
}

/// Rows for stages that do not exist, and permissions no code uses.
fn stale(table: &Table, stages: &BTreeSet<&str>, used: &BTreeSet<(String, String)>) -> Vec<String> {
    let mut problems = Vec::new();
    for (stage, allowed) in table {
        if !stages.contains(stage.as_str()) {
            problems.push(format!(
                "docs/ARCHITECTURE.md: the stage table names `{stage}`, which is not a module of src/"
            ));
            continue;
        }
        for callee in allowed {
            if !used.contains(&(stage.clone(), callee.clone())) {
                problems.push(format!(
                    "docs/ARCHITECTURE.md: `{stage}` may call `{callee}` but never does: a stale permission; remove it"
                ));
            }
        }
    }
    problems
}

/// The longest prefix of `path` that is a module of its own file.
fn longest_module(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| modules.contains(prefix))
}

/// Every cycle a depth-first search meets, as `a::b -> c -> a::b`.
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> BTreeSet<String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Seen {
        Open,
        Done,
    }
    fn visit(
        node: &[String],
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        seen: &mut BTreeMap<Vec<String>, Seen>,
        stack: &mut Vec<Vec<String>>,
        found: &mut BTreeSet<String>,
    ) {
        seen.insert(node.to_vec(), Seen::Open);
        stack.push(node.to_vec());
        for next in graph.get(node).into_iter().flatten() {
            match seen.get(next) {
                Some(Seen::Open) => {
                    let from = stack.iter().position(|n| n == next).unwrap_or(0);
                    let mut names: Vec<String> =
                        stack[from..].iter().map(|n| n.join("::")).collect();
                    names.push(next.join("::"));
                    found.insert(names.join(" -> "));
                }
                Some(Seen::Done) => {}
                None => visit(next, graph, seen, stack, found),
            }
        }
        stack.pop();
        seen.insert(node.to_vec(), Seen::Done);
    }
    let (mut seen, mut stack, mut found) = (BTreeMap::new(), Vec::new(), BTreeSet::new());
    for node in graph.keys() {
        if !seen.contains_key(node) {
            visit(node, graph, &mut seen, &mut stack, &mut found);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::references::find;

    fn file(module: &str, source: &str) -> File {
        let module: Vec<String> = module.split("::").map(str::to_string).collect();
        let path = format!("src/{}.rs", module.join("/"));
        let references = find(&module, source, false).unwrap().references;
        File {
            path,
            module,
            references,
        }
    }

    fn table(rows: &[(&str, &[&str])]) -> Table {
        rows.iter()
            .map(|(stage, allowed)| {
                (
                    stage.to_string(),
                    allowed.iter().map(|s| s.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn the_issues_planted_imports_are_both_rejected() {
        let rules = table(&[("store", &["error"]), ("error", &[]), ("publish", &[])]);
        for planted in [
            "use crate::{error::{Error as E}, publish as P};",
            "use super::super::publish;",
        ] {
            let files = [
                file("store::write", &format!("{planted}\nfn f(_: E) {{}}")),
                file("store", "use crate::error::Error;"),
                file("error", ""),
                file("publish", ""),
            ];
            let found = problems(&rules, &files);
            assert!(
                found
                    .iter()
                    .any(|p| p.starts_with("src/store/write.rs:1: `store` calls `publish`")),
                "{planted}: {found:?}"
            );
        }
    }

    #[test]
    fn unused_permissions_and_unknown_rows_are_stale() {
        let rules = table(&[("assertion", &["error"]), ("error", &[]), ("gone", &[])]);
        let files = [file("assertion", ""), file("error", "")];
        assert_eq!(
            problems(&rules, &files),
            [
                "docs/ARCHITECTURE.md: `assertion` may call `error` but never does: a stale permission; remove it",
                "docs/ARCHITECTURE.md: the stage table names `gone`, which is not a module of src/",
            ]
        );
    }

    #[test]
    fn a_stage_missing_from_the_table_is_named() {
        let files = [file("newstage", "")];
        assert_eq!(
            problems(&Table::new(), &files),
            ["src/newstage.rs: module `newstage` is not in the stage table"]
        );
    }

    #[test]
    fn cycles_between_modules_are_found_and_tests_do_not_make_them() {
        let rules = table(&[("a", &["b"]), ("b", &["a"])]);
        let files = [
            file("a", "use crate::b::x;"),
            file(
                "b",
                "#[cfg(test)]\nmod tests { use crate::a::y; }\nfn f() { crate::a::z(); }",
            ),
        ];
        assert_eq!(problems(&rules, &files), ["import cycle: a -> b -> a"]);
        let files = [
            file("a", "use crate::b::x;"),
            file("b", "#[cfg(test)]\nmod tests { use crate::a::y; }"),
        ];
        assert!(problems(&rules, &files).is_empty());
    }
}
