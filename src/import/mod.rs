//! Import: other tools' eval configs turned into ai-evals suites, so a team
//! can switch in one command. Each importer is pure: the source text (and
//! the files it names) in, the suite's TOML, the files to write beside it
//! and what could not be converted out.

pub mod promptfoo;
