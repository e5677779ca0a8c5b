//! Prompt templates (minijinja): compiled once, rendered per case with the
//! case's variables. A prompt is one text, sent as the user's message, or a
//! chat prompt: a conversation whose every message is a template. A text
//! that renders to a JSON list of `{role, content}` messages is sent as
//! those messages (promptfoo's rule), so one template can build a
//! conversation of any length.
//!
//! By default a variable a template uses but a case does not supply is an
//! error, not an empty string: a silently blank prompt still gets an
//! answer, and the suite would measure the wrong thing. `[suite] undefined
//! = "lenient"` makes it empty and false instead, as in promptfoo.

use std::collections::{BTreeMap, HashSet};

use minijinja::{Environment, UndefinedBehavior, Value};

use crate::config::{ChatMessage, Prompt, Role, Undefined};
use crate::error::{Error, Result};

/// The suite's prompt templates.
pub struct Prompts {
    env: Environment<'static>,
    /// For each prompt, the variables its templates read from the case
    /// (none when missing variables are allowed).
    required: BTreeMap<String, Vec<String>>,
    /// The roles of each chat prompt's messages, whose templates are named
    /// by [`message_template`].
    chats: BTreeMap<String, Vec<Role>>,
}

/// A rendered prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The text stored with the result: the prompt itself, or a chat
    /// prompt's messages as JSON.
    pub text: String,
    /// A chat prompt's messages.
    pub messages: Option<Vec<ChatMessage>>,
}

/// The template name of message `i` of chat prompt `name`.
fn message_template(name: &str, i: usize) -> String {
    format!("{name}\u{1f}{i}")
}

impl Prompts {
    /// Compiles the named templates; a syntax error names the prompt.
    pub fn new(
        prompts: &BTreeMap<String, Prompt>,
        config: &std::path::Path,
        undefined: Undefined,
    ) -> Result<Prompts> {
        let mut env = Environment::new();
        env.set_undefined_behavior(match undefined {
            Undefined::Strict => UndefinedBehavior::Strict,
            // Nunjucks' way: `{{ a.b }}` of a missing `a` is empty too.
            Undefined::Lenient => UndefinedBehavior::Chainable,
        });
        // Keep the text exactly as written: a trailing newline is part of a prompt.
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .expect("the default syntax with a kept newline is valid"),
        );
        let globals: HashSet<String> = env.globals().map(|(name, _)| name.to_string()).collect();
        let mut required = BTreeMap::new();
        let mut chats = BTreeMap::new();
        for (name, prompt) in prompts {
            let templates: Vec<(String, String)> = match prompt {
                Prompt::Text(text) => vec![(name.clone(), text.clone())],
                Prompt::Chat(messages) => {
                    chats.insert(name.clone(), messages.iter().map(|m| m.role).collect());
                    messages
                        .iter()
                        .enumerate()
                        .map(|(i, m)| (message_template(name, i), m.content.clone()))
                        .collect()
                }
            };
            let mut vars = Vec::new();
            for (template, source) in templates {
                env.add_template_owned(template.clone(), source)
                    .map_err(|e| {
                        Error::input(format!(
                            "{}: prompts.{name}: invalid template: {}",
                            config.display(),
                            describe(&e)
                        ))
                    })?;
                let compiled = env
                    .get_template(&template)
                    .expect("template was just added");
                vars.extend(
                    compiled
                        .undeclared_variables(false)
                        .into_iter()
                        .filter(|v| !globals.contains(v)),
                );
            }
            vars.sort();
            vars.dedup();
            if undefined == Undefined::Lenient {
                vars.clear();
            }
            required.insert(name.clone(), vars);
        }
        Ok(Prompts {
            env,
            required,
            chats,
        })
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

    /// Renders prompt `name` with the case's variables: its text, or for a
    /// chat prompt its messages as JSON.
    pub fn render(&self, name: &str, vars: &Value) -> std::result::Result<String, String> {
        self.render_prompt(name, vars).map(|r| r.text)
    }

    /// Renders prompt `name` with the case's variables.
    pub fn render_prompt(&self, name: &str, vars: &Value) -> std::result::Result<Rendered, String> {
        let Some(roles) = self.chats.get(name) else {
            let template = self.env.get_template(name).map_err(|e| describe(&e))?;
            let text = template.render(vars).map_err(|e| describe(&e))?;
            let messages = rendered_messages(&text)?;
            return Ok(Rendered { text, messages });
        };
        let messages = roles
            .iter()
            .enumerate()
            .map(|(i, role)| {
                let template = self
                    .env
                    .get_template(&message_template(name, i))
                    .map_err(|e| describe(&e))?;
                Ok(ChatMessage {
                    role: *role,
                    content: template.render(vars).map_err(|e| describe(&e))?,
                })
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
        Ok(Rendered {
            text: serde_json::to_string(&messages).expect("messages serialize to JSON"),
            messages: Some(messages),
        })
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

/// The messages a rendered text is, when it is a JSON list of `{role,
/// content}` objects; `None` for any other text. A list of messages this
/// tool cannot send (another role, content that is not text) is an error.
fn rendered_messages(text: &str) -> std::result::Result<Option<Vec<ChatMessage>>, String> {
    if !text.trim_start().starts_with('[') {
        return Ok(None);
    }
    let Ok(items) = serde_json::from_str::<Vec<serde_json::Value>>(text) else {
        return Ok(None);
    };
    if items.is_empty() || !items.iter().all(|i| i.get("role").is_some()) {
        return Ok(None);
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value::<ChatMessage>(item).map_err(|e| {
                format!(
                    "the prompt renders to a list of messages, and message {} is not one ai-evals can send ({e}): roles are system, user and assistant, content is text",
                    i + 1
                )
            })
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(Some)
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
            .map(|(k, v)| (k.to_string(), Prompt::Text(v.to_string())))
            .collect();
        Prompts::new(&sources, Path::new("evals.toml"), Undefined::Strict)
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
    fn lenient_undefined_is_empty_and_false_as_in_nunjucks() {
        let sources = [(
            "ask".to_string(),
            Prompt::Text(
                "{% if context %}Context: {{ context }}\n{% endif %}Q: {{ q }}{{ obj.key }}".into(),
            ),
        )]
        .into();
        let p = Prompts::new(&sources, Path::new("evals.toml"), Undefined::Lenient).unwrap();
        assert!(p.missing("ask", |_| false).is_empty());
        let text = p
            .render("ask", &minijinja::context! { q => "why?" })
            .unwrap();
        assert_eq!(text, "Q: why?");
    }

    #[test]
    fn a_text_that_renders_to_messages_is_sent_as_them() {
        let template = r#"[{% for m in history %}{"role": "{{ m.role }}", "content": {{ m.content | tojson }}},{% endfor %}{"role": "user", "content": {{ q | tojson }}}]"#;
        let p = prompts(&[("chat", template), ("list", "[1, 2] is a list")]).unwrap();
        let vars = minijinja::context! {
            history => vec![minijinja::context! { role => "assistant", content => "Hi \"there\"" }],
            q => "And now?",
        };
        let rendered = p.render_prompt("chat", &vars).unwrap();
        let messages = rendered.messages.unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(
            (messages[0].role, messages[0].content.as_str()),
            (Role::Assistant, "Hi \"there\"")
        );
        assert_eq!(messages[1].content, "And now?");
        assert!(p.render_prompt("list", &vars).unwrap().messages.is_none());
        let tool = prompts(&[("t", r#"[{"role": "tool", "content": "x"}]"#)]).unwrap();
        let err = tool.render_prompt("t", &vars).unwrap_err();
        assert!(
            err.contains("message 1 is not one ai-evals can send"),
            "{err}"
        );
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

    #[test]
    fn a_chat_prompt_renders_each_message_and_needs_all_their_variables() {
        let chat = Prompt::Chat(vec![
            ChatMessage {
                role: Role::System,
                content: "You answer in {{ language }}.".into(),
            },
            ChatMessage {
                role: Role::User,
                content: "{{ question }}".into(),
            },
        ]);
        let p = Prompts::new(
            &[("chat".to_string(), chat)].into(),
            Path::new("evals.toml"),
            Undefined::Strict,
        )
        .unwrap();
        assert_eq!(p.missing("chat", |v| v == "question"), vec!["language"]);
        let rendered = p
            .render_prompt(
                "chat",
                &minijinja::context! { language => "French", question => "Hi?" },
            )
            .unwrap();
        let messages = rendered.messages.unwrap();
        assert_eq!(messages[0].content, "You answer in French.");
        assert_eq!(
            (messages[1].role, messages[1].content.as_str()),
            (Role::User, "Hi?")
        );
        assert!(
            rendered.text.starts_with("[{\"role\":\"system\""),
            "{}",
            rendered.text
        );
    }
}
