//! `check-architecture [ROOT]`: checks the crate in ROOT (default: the
//! current folder) against the stage table of its docs/ARCHITECTURE.md.
//! Every `use` tree and path of every file under src/ is parsed (with
//! `syn`), so renames, groups, `super::super`, macro arguments and code
//! after a test module cannot hide a call. Prints each problem and exits
//! 1, else exits 0.

mod check;
mod references;
mod table;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use check::File;

fn main() -> ExitCode {
    let root = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    match run(&root) {
        Ok(problems) if problems.is_empty() => ExitCode::SUCCESS,
        Ok(problems) => {
            for problem in problems {
                println!("{problem}");
            }
            eprintln!("check-architecture: see docs/ARCHITECTURE.md for what each stage may call");
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("check-architecture: {message}");
            ExitCode::from(2)
        }
    }
}

/// The problems of the crate in `root`.
fn run(root: &Path) -> Result<Vec<String>, String> {
    let doc = root.join("docs/ARCHITECTURE.md");
    let markdown =
        std::fs::read_to_string(&doc).map_err(|e| format!("cannot read {}: {e}", doc.display()))?;
    let table = table::parse(&markdown);
    let files = read_files(root)?;
    Ok(check::problems(&table, &files))
}

/// Every file of the library under `root/src` (main.rs is the binary, a
/// crate of its own), with what it references. A file a `#[cfg(test)]`
/// declaration brings in is test code as a whole.
fn read_files(root: &Path) -> Result<Vec<File>, String> {
    let src = root.join("src");
    let mut sources = BTreeMap::new();
    collect(&src, &src, &mut sources)?;
    let mut found = BTreeMap::new();
    for (module, (path, text)) in &sources {
        let parsed = references::find(module, text, false)
            .map_err(|e| format!("{}: cannot parse: {e}", path.display()))?;
        found.insert(module.clone(), parsed);
    }
    let tests = test_modules(&found);
    let mut files = Vec::new();
    for (module, (path, text)) in sources {
        let in_test = tests.iter().any(|t| module.starts_with(t));
        let references = if in_test {
            references::find(&module, &text, true)
                .map_err(|e| format!("{}: cannot parse: {e}", path.display()))?
                .references
        } else {
            found
                .remove(&module)
                .map(|f| f.references)
                .unwrap_or_default()
        };
        let path = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        files.push(File {
            path,
            module,
            references,
        });
    }
    Ok(files)
}

/// The modules declared as `#[cfg(test)] mod name;`.
fn test_modules(found: &BTreeMap<Vec<String>, references::Found>) -> Vec<Vec<String>> {
    found
        .iter()
        .flat_map(|(module, f)| {
            f.declared.iter().filter(|d| d.in_test).map(move |d| {
                let mut path = module.clone();
                path.push(d.name.clone());
                path
            })
        })
        .collect()
}

/// Module path → (file, text) for every `.rs` file under `dir`.
fn collect(
    src: &Path,
    dir: &Path,
    into: &mut BTreeMap<Vec<String>, (PathBuf, String)>,
) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect(src, &path, into)?;
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let Some(module) = module_of(src, &path) else {
            continue;
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        into.insert(module, (path, text));
    }
    Ok(())
}

/// `src/store/write.rs` → `store::write`, `src/store/mod.rs` → `store`,
/// `src/lib.rs` → the root; `None` for `src/main.rs`.
fn module_of(src: &Path, path: &Path) -> Option<Vec<String>> {
    let relative = path.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [only] if only == "main" => return None,
        [only] if only == "lib" => return Some(Vec::new()),
        _ => {}
    }
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    Some(parts)
}
