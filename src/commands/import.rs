//! `ai-evals import promptfoo`: a promptfoo config written out as an
//! ai-evals suite, with every part that could not be converted listed by
//! its place in the file.

use std::path::{Path, PathBuf};

use crate::cli::{ImportArgs, ImportCommand};
use crate::commands::run::Outcome;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::import::promptfoo::{self, Conversion};
use crate::ingest::cases::Builder;
use crate::ingest::prompt::Prompts;
use crate::script::{Limits, Scripts};

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
    if let Some(why) = &conversion.nothing_to_run {
        return Err(Error::input(format!(
            "{}: {why}; nothing was written. Fix or convert what is listed below by hand.\n{}",
            args.input.display(),
            listing(&conversion, "not converted")
        )));
    }
    let written = write(&conversion, &output, &folder, args.force)?;
    // The suite must load as written: a conversion that produced a config
    // `run` refuses is an error here, not in the user's next command.
    check(&output).map_err(|e| {
        Error::input(format!(
            "{} was written, but does not load: {}\n{}",
            output.display(),
            e.message(),
            listing(&conversion, "not converted")
        ))
    })?;
    Ok(Outcome {
        exit_code: conversion.exit_code(),
        report: summary(&conversion, &output, &written),
        failure: None,
    })
}

/// Loads the written suite as `run` does before any case: the config,
/// its prompt templates, its tests against its providers, and every
/// script it names (its file, and that JavaScript compiles).
fn check(output: &Path) -> Result<()> {
    let config = Config::load(output)?;
    let prompts = Prompts::new(&config.prompts, &config.path, config.suite.undefined)?;
    let providers: Vec<(String, bool)> = config
        .providers
        .keys()
        .map(|name| (name.clone(), true))
        .collect();
    let limits = Limits {
        timeout: config.suite.script_timeout,
        memory: config.suite.script_memory,
    };
    Builder::new(
        &config,
        &prompts,
        &providers,
        &Scripts::new(&config.dir, limits),
    )
    .map(|_| ())
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

/// What was written, then what was noted, what may grade differently and
/// what was skipped, for the terminal.
fn summary(conversion: &Conversion, output: &Path, written: &[PathBuf]) -> String {
    let mut text = format!("wrote {}\n", output.display());
    for path in &written[1..] {
        text.push_str(&format!("wrote {}\n", path.display()));
    }
    text.push_str(&listing(
        conversion,
        "not converted (the suite runs without them)",
    ));
    if conversion.is_complete() {
        text.push_str("\neverything converted\n");
    }
    text
}

/// The notes, the warnings and the skipped items (under `skipped`), each
/// list under its count.
fn listing(conversion: &Conversion, skipped: &str) -> String {
    let mut text = String::new();
    let lists = [
        (
            &conversion.notes,
            "converted with a caveat (no effect on pass/fail)",
            "~",
        ),
        (
            &conversion.warnings,
            "converted, but may pass or fail where promptfoo would not",
            "!",
        ),
        (&conversion.skipped, skipped, "✗"),
    ];
    for (items, heading, mark) in lists {
        if items.is_empty() {
            continue;
        }
        text.push_str(&format!("\n{} {heading}:\n", items.len()));
        for item in items.iter() {
            text.push_str(&format!("  {mark} {item}\n"));
        }
    }
    text
}
