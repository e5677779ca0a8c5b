//! `ai-evals import promptfoo`: a promptfoo config written out as an
//! ai-evals suite, with every part that could not be converted listed by
//! its place in the file.

use std::path::{Path, PathBuf};

use crate::cli::{ImportArgs, ImportCommand};
use crate::commands::run::Outcome;
use crate::error::{Error, Result};
use crate::import::promptfoo::{self, Conversion};

/// Runs an import subcommand.
pub fn import(command: ImportCommand) -> Result<Outcome> {
    match command {
        ImportCommand::Promptfoo(args) => promptfoo_config(&args),
    }
}

/// Converts the promptfoo config and writes the suite and its files.
fn promptfoo_config(args: &ImportArgs) -> Result<Outcome> {
    let text = std::fs::read_to_string(&args.input).map_err(|e| {
        Error::input(format!(
            "cannot read {}: {e}. Name the promptfoo config to import (default promptfooconfig.yaml).",
            args.input.display()
        ))
    })?;
    let folder = args
        .input
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let output = output_path(args, &folder)?;
    // Only what the promptfoo config itself says is written into the suite:
    // the process environment's base URLs are read again at run time.
    let conversion = promptfoo::convert(&text, &args.input, &|_| None)
        .map_err(|e| Error::input(format!("{}: {e}", args.input.display())))?;
    let written = write(&conversion, &output, &folder, args.force)?;
    Ok(Outcome {
        exit_code: conversion.exit_code(),
        report: summary(&conversion, &output, &written),
        failure: None,
    })
}

/// Where the suite goes: beside the config, since it names the config's
/// files by relative path.
fn output_path(args: &ImportArgs, folder: &Path) -> Result<PathBuf> {
    let Some(output) = &args.output else {
        return Ok(folder.join("evals.toml"));
    };
    let out_folder = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let same = match (out_folder.canonicalize(), folder.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => out_folder == folder,
    };
    if !same {
        return Err(Error::input(format!(
            "-o {}: write the suite beside the promptfoo config, in {}: it names the config's prompt and test files by relative path",
            output.display(),
            folder.display()
        )));
    }
    Ok(output.clone())
}

/// Writes the suite and the converted files; refuses to overwrite without
/// `force`. The paths written, suite first.
fn write(
    conversion: &Conversion,
    output: &Path,
    folder: &Path,
    force: bool,
) -> Result<Vec<PathBuf>> {
    let mut files = vec![(output.to_path_buf(), conversion.toml.clone())];
    files.extend(
        conversion
            .files
            .iter()
            .map(|(path, contents)| (folder.join(path), contents.clone())),
    );
    if !force && let Some((existing, _)) = files.iter().find(|(path, _)| path.exists()) {
        return Err(Error::input(format!(
            "{} exists; pass --force to overwrite it",
            existing.display()
        )));
    }
    for (path, contents) in &files {
        std::fs::write(path, contents)
            .map_err(|e| Error::runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(files.into_iter().map(|(path, _)| path).collect())
}

/// What was written, skipped and noted, for the terminal.
fn summary(conversion: &Conversion, output: &Path, written: &[PathBuf]) -> String {
    let mut text = format!("wrote {}\n", output.display());
    for path in &written[1..] {
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    if !conversion.notes.is_empty() {
        text.push_str(&format!(
            "\n{} converted with a caveat:\n",
            conversion.notes.len()
        ));
        for note in &conversion.notes {
            text.push_str(&format!("  ~ {note}\n"));
        }
    }
    if conversion.skipped.is_empty() {
        text.push_str("\neverything converted\n");
    } else {
        text.push_str(&format!(
            "\n{} not converted (the suite runs without them):\n",
            conversion.skipped.len()
        ));
        for item in &conversion.skipped {
            text.push_str(&format!("  ✗ {item}\n"));
        }
    }
    text
}
