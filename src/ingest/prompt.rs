//! Prompt templates (minijinja): compiled once, rendered per case with the
//! case's variables.
//!
//! A variable a template uses but a case does not supply is an error, not an
//! empty string: a silently blank prompt still gets an answer, and the suite
//! would measure the wrong thing.

use std::collections::{BTreeMap, HashSet};

use minijinja::{Environment, UndefinedBehavior, Value};

use crate::error::{Error, Result};

/// The suite's prompt templates.
pub struct Prompts {
    env: Environment<'static>,
    /// For each prompt, the variables it reads from the case.
    required: BTreeMap<String, Vec<String>>,
}

impl Prompts {
    /// Compiles the named templates; a syntax error names the prompt.
    pub fn new(sources: &BTreeMap<String, String>, config: &std::path::Path) -> Result<Prompts> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Keep the text exactly as written: a trailing newline is part of a prompt.
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .expect("the default syntax with a kept newline is valid"),
        );
        let globals: HashSet<String> = env.globals().map(|(name, _)| name.to_string()).collect();
        let mut required = BTreeMap::new();
        for (name, source) in sources {
            env.add_template_owned(name.clone(), source.clone())
                .map_err(|e| {
                    Error::input(format!(
                        "{}: prompts.{name}: invalid template: {}",
                        config.display(),
                        describe(&e)
                    ))
                })?;
            let template = env.get_template(name).expect("template was just added");
            let mut vars: Vec<String> = template
                .undeclared_variables(false)
                .into_iter()
                .filter(|v| !globals.contains(v))
                .collect();
            vars.sort();
            required.insert(name.clone(), vars);
        }
        Ok(Prompts { env, required })
    }

    /// The variables prompt `name` needs that `has` does not supply.
    pub fn missing<'a>(&'a self, name: &str, has: impl Fn(&str) -> bool) -> Vec<&'a str> {
        self.required
            .get(name)
            .map(|vars| {
                vars.iter()
                    .map(String::as_str)
                    .filter(|v| !has(v))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Renders prompt `name` with the case's variables.
    pub fn render(&self, name: &str, vars: &Value) -> std::result::Result<String, String> {
        let template = self.env.get_template(name).map_err(|e| describe(&e))?;
        template.render(vars).map_err(|e| describe(&e))
    }

    /// Checks a template string's syntax without rendering it.
    pub fn check(&self, source: &str) -> std::result::Result<(), String> {
        self.env
            .template_from_str(source)
            .map(|_| ())
            .map_err(|e| describe(&e))
    }

    /// Renders a one-off template string (an assertion value such as
    /// `"{{ expected }}"`) with the case's variables.
    pub fn render_str(&self, source: &str, vars: &Value) -> std::result::Result<String, String> {
        self.env.render_str(source, vars).map_err(|e| describe(&e))
    }
}

/// A minijinja error in one line, with its detail (which names the variable
/// or the syntax problem).
fn describe(e: &minijinja::Error) -> String {
    let mut text = e.to_string();
    if let Some(detail) = e.detail()
        && !text.contains(detail)
    {
        text = format!("{text}: {detail}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn prompts(pairs: &[(&str, &str)]) -> Result<Prompts> {
        let sources = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Prompts::new(&sources, Path::new("evals.toml"))
    }

    #[test]
    fn renders_with_vars_and_keeps_trailing_newline() {
        let p = prompts(&[("ask", "Q: {{ question | upper }}\n")]).unwrap();
        let vars = minijinja::context! { question => "why?" };
        assert_eq!(p.render("ask", &vars).unwrap(), "Q: WHY?\n");
    }

    #[test]
    fn reports_required_variables_minus_globals_and_locals() {
        let p = prompts(&[(
            "ask",
            "{% for i in range(2) %}{{ i }}{% endfor %}{% set x = 1 %}{{ a }}{{ b.c }}{{ x }}",
        )])
        .unwrap();
        assert_eq!(p.missing("ask", |v| v == "a"), vec!["b"]);
        assert!(p.missing("ask", |_| true).is_empty());
    }

    #[test]
    fn strict_undefined_is_an_error() {
        let p = prompts(&[("ask", "{{ nope }}")]).unwrap();
        let err = p
            .render("ask", &minijinja::context! { a => 1 })
            .unwrap_err();
        assert!(err.contains("undefined"), "{err}");
    }

    #[test]
    fn syntax_error_names_the_prompt() {
        let err = prompts(&[("ask", "{{ unclosed ")]).err().unwrap();
        assert!(
            err.message()
                .starts_with("evals.toml: prompts.ask: invalid template: "),
            "{err}"
        );
    }
}
