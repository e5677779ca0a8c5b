//! promptfoo providers → `[providers.NAME]` ([`ProviderSpec`]s).
//!
//! Base URLs and keys are resolved as promptfoo resolves them. A URL the
//! promptfoo config itself sets (`config.apiHost`, `config.apiBaseUrl`, its
//! `env:` block) is written into the suite; the process environment's URL
//! variables are left to ai-evals, which reads the same ones at run time,
//! and API keys are never copied, only the name of the variable that holds
//! one. The variables and their order are [`HttpKind`]'s, the one place
//! that knows them; promptfoo puts its config's settings before them:
//! - OpenAI (`openai:…`): `config.apiHost` (→ `https://HOST/v1`), then
//!   `config.apiBaseUrl` (a URL with no path gets `/v1`), then the
//!   variables. Key: `$<config.apiKeyEnvar>`, else the API's variable.
//! - Anthropic: `config.apiBaseUrl`, then the variables.
//! - Azure: `config.apiBaseUrl`, then the URL variables, then
//!   `config.apiHost`, then the host variables (hosts → `https://HOST`).
//!
//! A config's top-level `env:` block overrides the process environment.

use super::yaml::{Kind, Node};
use super::{Ctx, Place};
use crate::config::{HttpKind, HttpSpec, Price, ProviderSpec, ResponseFormat, UrlVar};

/// What a grading provider is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraderKind {
    Judge,
    Embeddings,
}

/// A converted provider.
#[derive(Debug, Clone)]
pub struct Provider {
    pub name: String,
    /// promptfoo ids and labels that refer to it.
    pub aliases: Vec<String>,
    pub spec: ProviderSpec,
    /// Comment lines for the emitted table (where a URL came from, …).
    pub comments: Vec<String>,
}

/// The model promptfoo grades llm-rubric with when no grader is set (the
/// OpenAI default of promptfoo 0.123; other versions use other models, and
/// without an OpenAI key promptfoo falls back to other vendors' defaults).
pub const DEFAULT_GRADER_MODEL: &str = "gpt-5.6-sol";
/// promptfoo's default embedding model for `similar`.
pub const DEFAULT_EMBEDDING_MODEL: &str = "text-embedding-3-large";

/// A provider's name from its label or id: letters, digits, `-`, `_`, `.`.
pub fn sanitize(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "provider".into()
    } else {
        out
    }
}

/// Converts the `providers` (or `targets`) value.
pub fn convert_all(ctx: &mut Ctx, node: &Node, key: &str) {
    match &node.kind {
        Kind::Str(id) => {
            let p = Place::config(ctx, node.line, key.to_string());
            convert_one(ctx, id, None, None, &p);
        }
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = Place::config(ctx, item.line, format!("{key}[{i}]"));
                convert_item(ctx, item, &p);
            }
        }
        _ => {
            let p = Place::config(ctx, node.line, key.to_string());
            ctx.skip(p, "providers", "neither an id nor a list of providers");
        }
    }
}

/// One item of the providers list: an id, `{id, label, config, …}`, or
/// `{ "openai:gpt-4": { config: … } }`.
fn convert_item(ctx: &mut Ctx, item: &Node, p: &Place) {
    match &item.kind {
        Kind::Str(id) => {
            convert_one(ctx, id, None, None, p);
        }
        Kind::Map(entries) => {
            if let Some(id) = item.get("id").and_then(Node::as_str) {
                let label = item.get("label").and_then(Node::as_str);
                convert_one(ctx, id, label, Some(item), p);
            } else if entries.len() == 1 {
                let (id, body) = &entries[0];
                let id = body
                    .get("id")
                    .and_then(Node::as_str)
                    .unwrap_or(id)
                    .to_string();
                let label = body.get("label").and_then(Node::as_str);
                convert_one(ctx, &id, label, Some(body), p);
            } else {
                ctx.skip(p.clone(), "provider", "an object without an `id`");
            }
        }
        _ => ctx.skip(p.clone(), "provider", "neither an id nor an object"),
    }
}

/// Converts one provider; returns its name.
pub fn convert_one(
    ctx: &mut Ctx,
    id: &str,
    label: Option<&str>,
    options: Option<&Node>,
    place: &Place,
) -> Option<String> {
    if let Some(existing) = ctx
        .providers
        .iter()
        .find(|p| p.aliases.iter().any(|a| a == id) && label.is_none())
    {
        return Some(existing.name.clone());
    }
    let src = Source {
        options,
        config: options.and_then(|o| o.get("config")),
        place,
        what: format!("provider `{id}`"),
    };
    if let Some(opts) = options {
        src.check_options(ctx, opts);
    }
    let (api, model) = parse_id(id);
    let built = match api {
        Api::Echo => {
            return Some(register(ctx, id, label, ProviderSpec::Echo {}, Vec::new()));
        }
        Api::OpenAi => openai(ctx, &src, &model?),
        Api::Anthropic => anthropic(ctx, &src, &model?),
        Api::Azure => azure(ctx, &src, &model?),
        Api::Unsupported(why) => {
            ctx.skip(place.clone(), &src.what, &why);
            return None;
        }
    };
    let Built {
        kind,
        mut spec,
        comments,
    } = built;
    if let Some(cfg) = src.config {
        convert_config(ctx, cfg, &mut spec, kind, place, &src.what);
    }
    Some(register(
        ctx,
        id,
        label,
        ProviderSpec::http(kind, spec),
        comments,
    ))
}

/// Where a provider is written, with what it needs while converting.
struct Source<'a> {
    /// The provider's object form (`{ id, label, config, env, … }`).
    options: Option<&'a Node>,
    config: Option<&'a Node>,
    place: &'a Place,
    /// How messages name it: provider `openai:gpt-4o`.
    what: String,
}

impl Source<'_> {
    /// Keys of the provider object besides `id`, `label` and `config`.
    fn check_options(&self, ctx: &mut Ctx, opts: &Node) {
        let what = &self.what;
        for (k, _) in opts.entries().unwrap_or(&[]) {
            match k.as_str() {
                "id" | "label" | "config" => {}
                "prompts" => ctx.skip(self.place.clone(), &format!("{what}: prompts"), "a provider-specific prompt list is dropped: ai-evals runs every prompt on every provider of the matrix"),
                "env" => ctx.note(self.place.clone(), &format!("{what}: env"), "provider-level env overrides were only read for base URLs; keys are never copied"),
                other => ctx.skip(self.place.clone(), &format!("{what}: {other}"), "no ai-evals counterpart (transforms, delays, … are not converted)"),
            }
        }
    }

    /// An environment variable as this provider sees it: its own `env:`
    /// first, then the config's, then the process's.
    fn env(&self, ctx: &Ctx, name: &str) -> Option<String> {
        self.options
            .and_then(|o| o.get("env"))
            .and_then(|e| e.get(name))
            .and_then(Node::as_str)
            .map(str::to_string)
            .or_else(|| ctx.env_var(name))
            .filter(|v| !v.is_empty())
    }

    /// The first of `vars` this provider's environment sets: the API root
    /// it names, and where it came from.
    fn url_from(&self, ctx: &Ctx, vars: &[UrlVar]) -> Option<(String, String)> {
        vars.iter().find_map(|var| {
            self.env(ctx, var.name())
                .map(|value| (var.url(&value), format!("${}", var.name())))
        })
    }

    fn config_str(&self, key: &str) -> Option<String> {
        cfg_str(self.config, key)
    }
}

/// A provider being built, with comment lines for the suite's header.
struct Built {
    kind: HttpKind,
    spec: HttpSpec,
    comments: Vec<String>,
}

impl Built {
    fn new(kind: HttpKind) -> Built {
        Built {
            kind,
            spec: HttpSpec::default(),
            comments: Vec::new(),
        }
    }
}

/// `openai:…`: OpenAI, or an OpenAI-compatible server when the base URL is
/// not OpenAI's.
fn openai(ctx: &mut Ctx, src: &Source, model: &str) -> Built {
    let (url, from) = openai_base_url(ctx, src);
    let compatible = url
        .as_deref()
        .is_some_and(|u| !u.starts_with("https://api.openai.com"));
    let mut b = Built::new(if compatible {
        HttpKind::OpenaiCompatible
    } else {
        HttpKind::Openai
    });
    b.spec.model = Some(model.to_string());
    if let Some(u) = url {
        b.comments
            .push(format!("base-url from {from} at conversion time"));
        b.spec.base_url = Some(u);
    }
    // An OpenAI-compatible server has no key variable of its own; the
    // promptfoo provider still sends OpenAI's.
    let default_key = compatible.then_some(HttpKind::Openai.key_vars()[0]);
    key_env(ctx, src, &mut b.spec, default_key);
    b
}

/// The OpenAI base URL in promptfoo's order (the config's `apiHost` and
/// `apiBaseUrl`, then the environment's), and where it came from.
fn openai_base_url(ctx: &Ctx, src: &Source) -> (Option<String>, String) {
    if let Some(h) = src.config_str("apiHost") {
        (
            Some(format!("{}/v1", host_url(&h))),
            "config.apiHost".into(),
        )
    } else if let Some(b) = src.config_str("apiBaseUrl") {
        (Some(normalize_openai_base(&b)), "config.apiBaseUrl".into())
    } else {
        match src.url_from(ctx, HttpKind::Openai.url_vars()) {
            Some((url, from)) => (Some(url), from),
            None => (None, String::new()),
        }
    }
}

/// `anthropic:…`: the Messages API.
fn anthropic(ctx: &mut Ctx, src: &Source, model: &str) -> Built {
    let mut b = Built::new(HttpKind::Anthropic);
    b.spec.model = Some(model.to_string());
    let url = src
        .config_str("apiBaseUrl")
        .map(|u| (u, "config.apiBaseUrl".to_string()))
        .or_else(|| src.url_from(ctx, HttpKind::Anthropic.url_vars()));
    if let Some((u, from)) = url {
        b.comments
            .push(format!("base-url from {from} at conversion time"));
        b.spec.base_url = Some(u);
    }
    key_env(ctx, src, &mut b.spec, None);
    b
}

/// `azure:chat:DEPLOYMENT`: Azure OpenAI.
fn azure(ctx: &mut Ctx, src: &Source, deployment: &str) -> Built {
    let mut b = Built::new(HttpKind::AzureOpenai);
    b.spec.deployment = Some(deployment.to_string());
    match azure_endpoint(ctx, src) {
        Some((url, from)) => {
            b.comments
                .push(format!("endpoint from {from} at conversion time"));
            if from == "config.apiHost" {
                let vars = url_var_names(HttpKind::AzureOpenai);
                ctx.note(
                    src.place.clone(),
                    &src.what,
                    &format!("config.apiHost is written as the endpoint; promptfoo lets {vars} override it, ai-evals does not"),
                );
            }
            b.spec.endpoint = Some(url);
        }
        None => {
            let vars = HttpKind::AzureOpenai
                .url_vars()
                .iter()
                .map(|v| v.name())
                .collect::<Vec<_>>()
                .join(", ");
            ctx.note(
                src.place.clone(),
                &src.what,
                &format!("no endpoint in the config: ai-evals reads it at run time from {vars}, as promptfoo does"),
            );
        }
    }
    if let Some(v) = src.config_str("apiVersion") {
        b.spec.api_version = Some(v);
    } else {
        ctx.note(src.place.clone(), &src.what, "no apiVersion: promptfoo's default Azure API version differs from ai-evals' (2024-10-21); set api-version if it matters");
    }
    // Left unset, ai-evals reads the key variables in promptfoo's order;
    // set when the config's own env block chose the first of them.
    let first_key = HttpKind::AzureOpenai.key_vars()[0];
    let default_key = ctx.env_var(first_key).map(|_| first_key);
    key_env(ctx, src, &mut b.spec, default_key);
    b
}

/// The names of an API's URL variables (not its host variables).
fn url_var_names(kind: HttpKind) -> String {
    kind.url_vars()
        .iter()
        .filter(|v| matches!(v, UrlVar::Url(_)))
        .map(|v| v.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The Azure endpoint in promptfoo's order (`config.apiBaseUrl`, the base
/// URL variables, `config.apiHost`, the host variables), and where it came
/// from. Only the config's own `env:` block is read here.
fn azure_endpoint(ctx: &Ctx, src: &Source) -> Option<(String, String)> {
    let vars = HttpKind::AzureOpenai.url_vars();
    let (urls, hosts): (Vec<UrlVar>, Vec<UrlVar>) =
        vars.iter().partition(|v| matches!(v, UrlVar::Url(_)));
    let trimmed = |(url, from): (String, String)| (url.trim_end_matches('/').to_string(), from);
    src.config_str("apiBaseUrl")
        .map(|b| (b, "config.apiBaseUrl".to_string()))
        .or_else(|| src.url_from(ctx, &urls))
        .map(trimmed)
        .or_else(|| {
            src.config_str("apiHost")
                .map(|h| (host_url(&h), "config.apiHost".to_string()))
        })
        .or_else(|| src.url_from(ctx, &hosts))
}

/// Adds the provider under a unique name (its label or id, sanitized);
/// returns the name.
fn register(
    ctx: &mut Ctx,
    id: &str,
    label: Option<&str>,
    spec: ProviderSpec,
    comments: Vec<String>,
) -> String {
    let base_name = sanitize(label.unwrap_or(id));
    let mut name = base_name.clone();
    let mut n = 1;
    while ctx.providers.iter().any(|p| p.name == name) {
        n += 1;
        name = format!("{base_name}-{n}");
    }
    let mut aliases = vec![id.to_string()];
    if let Some(l) = label {
        aliases.push(l.to_string());
    }
    ctx.providers.push(Provider {
        name: name.clone(),
        aliases,
        spec,
        comments,
    });
    name
}

/// `https://HOST` for a host name, whether or not it came with its scheme,
/// as the run time reads a `..._HOST` variable.
fn host_url(h: &str) -> String {
    UrlVar::Host { name: "", path: "" }.url(h)
}

/// promptfoo adds `/v1` to an OpenAI base URL that has no path.
fn normalize_openai_base(url: &str) -> String {
    if let Some(rest) = url.split_once("://").map(|(_, r)| r) {
        let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
        if path.is_empty() || path == "/" {
            return format!("{}/v1", url.trim_end_matches('/'));
        }
    }
    url.to_string()
}

fn cfg_str(config: Option<&Node>, key: &str) -> Option<String> {
    config
        .and_then(|c| c.get(key))
        .and_then(Node::as_str)
        .map(str::to_string)
}

/// `api-key-env`: the variable that holds the key (never the key itself).
fn key_env(ctx: &mut Ctx, src: &Source, spec: &mut HttpSpec, default: Option<&str>) {
    if src.config.and_then(|c| c.get("apiKey")).is_some() {
        ctx.skip(
            src.place.clone(),
            &format!("{}: config.apiKey", src.what),
            "a literal API key is never copied; export it and set api-key-env",
        );
    }
    let required = src
        .config
        .and_then(|c| c.get("apiKeyRequired"))
        .and_then(|n| match n.kind {
            Kind::Bool(b) => Some(b),
            _ => None,
        });
    if required == Some(false) {
        return;
    }
    spec.api_key_env = src
        .config_str("apiKeyEnvar")
        .or_else(|| default.map(str::to_string));
}

/// Sampling and format settings from `config`.
fn convert_config(
    ctx: &mut Ctx,
    cfg: &Node,
    spec: &mut HttpSpec,
    kind: HttpKind,
    place: &Place,
    what: &str,
) {
    for (k, v) in cfg.entries().unwrap_or(&[]) {
        if let Err(why) = config_key(spec, k, v, kind) {
            ctx.skip(place.clone(), &format!("{what}: config.{k}"), why);
        }
    }
}

/// One `config` key into the provider's settings, or why it has no
/// ai-evals counterpart.
fn config_key(spec: &mut HttpSpec, k: &str, v: &Node, kind: HttpKind) -> Result<(), &'static str> {
    let anthropic = kind == HttpKind::Anthropic;
    match k {
        "apiHost" | "apiBaseUrl" | "apiKey" | "apiKeyEnvar" | "apiKeyRequired" | "apiVersion" => {}
        "temperature" => spec.temperature = Some(v.as_f64().ok_or("not a number")?),
        "top_p" => spec.top_p = Some(v.as_f64().ok_or("not a number")?),
        "max_tokens" | "max_completion_tokens" => match v.as_f64() {
            Some(f) if f >= 1.0 => spec.max_tokens = Some(f.min(f64::from(u32::MAX)) as u32),
            _ => return Err("not a positive whole number"),
        },
        "seed" => match v.kind {
            Kind::Int(i) if !anthropic => spec.seed = Some(i),
            _ => return Err("not a whole number, or the API has no seed"),
        },
        "stop" => {
            spec.stop = match &v.kind {
                Kind::Str(s) => vec![s.clone()],
                Kind::Seq(items) => texts(items).ok_or("not a text or a list of texts")?,
                _ => return Err("not a text or a list of texts"),
            }
        }
        "stop_sequences" if anthropic => {
            spec.stop = v.items().and_then(texts).ok_or("not a list of texts")?;
        }
        "response_format" => spec.response_format = Some(response_format(v, anthropic)?),
        // promptfoo: USD per token, input and output alike.
        "cost" => {
            let c = v.as_f64().ok_or("not a number")?;
            spec.price = Some(Price {
                input: c * 1e6,
                output: c * 1e6,
            });
        }
        "system" if anthropic => spec.system = Some(v.as_str().ok_or("not a text")?.to_string()),
        _ => return Err("no ai-evals counterpart"),
    }
    Ok(())
}

/// Every item's text, or `None` when one is not a text.
fn texts(items: &[Node]) -> Option<Vec<String>> {
    items
        .iter()
        .map(|i| i.as_str().map(str::to_string))
        .collect()
}

/// `response_format`: JSON mode (not on Anthropic) or plain text.
fn response_format(v: &Node, anthropic: bool) -> Result<ResponseFormat, &'static str> {
    match v.get("type").and_then(Node::as_str) {
        Some("json_object") if !anthropic => Ok(ResponseFormat::Json),
        Some("text") => Ok(ResponseFormat::Text),
        _ => Err(
            "only {type: json_object} and {type: text} have ai-evals counterparts (json_schema does not)",
        ),
    }
}

#[derive(Debug)]
enum Api {
    Echo,
    OpenAi,
    Anthropic,
    Azure,
    Unsupported(String),
}

/// The API and model (or Azure deployment) of a promptfoo provider id.
fn parse_id(id: &str) -> (Api, Option<String>) {
    if id == "echo" {
        return (Api::Echo, None);
    }
    let parts: Vec<&str> = id.splitn(3, ':').collect();
    let unsupported = |why: &str| (Api::Unsupported(why.to_string()), None);
    match parts.as_slice() {
        ["openai", "chat", model] => (Api::OpenAi, Some(model.to_string())),
        ["openai", "completion", _] => {
            unsupported("the legacy Completions API; ai-evals calls Chat Completions")
        }
        ["openai", "responses", _] => {
            unsupported("the Responses API; ai-evals calls Chat Completions")
        }
        ["openai", kind, _]
            if [
                "embedding",
                "embeddings",
                "image",
                "moderation",
                "assistant",
                "realtime",
                "transcription",
                "tts",
                "video",
                "agents",
                "codex-sdk",
            ]
            .contains(kind) =>
        {
            unsupported("not a chat model provider")
        }
        ["openai", model] => (Api::OpenAi, Some(model.to_string())),
        ["openai", model, rest] => (Api::OpenAi, Some(format!("{model}:{rest}"))),
        ["anthropic", "messages", model] => (Api::Anthropic, Some(model.to_string())),
        ["anthropic", "completion", _] => unsupported("the legacy Anthropic Text Completions API"),
        ["anthropic", model] if model.starts_with("claude") => {
            (Api::Anthropic, Some(model.to_string()))
        }
        ["azure" | "azureopenai", "chat", deployment] => (Api::Azure, Some(deployment.to_string())),
        ["azure" | "azureopenai", kind, _] => {
            unsupported(&format!("the Azure `{kind}` API; only azure:chat converts"))
        }
        _ => unsupported(
            "not an OpenAI, Anthropic, Azure OpenAI, OpenAI-compatible or echo provider",
        ),
    }
}

/// A grading provider (`options.provider` or an assertion's `provider`): a
/// provider name in the converted suite.
pub fn grader(ctx: &mut Ctx, node: &Node, kind: GraderKind, place: &Place) -> Option<String> {
    match &node.kind {
        Kind::Str(id) => grader_from_id(ctx, id, None, None, kind, place),
        Kind::Map(_) => {
            // { text: …, embedding: … } picks by use; { id, config } is one provider.
            let by_kind = match kind {
                GraderKind::Judge => node.get("text"),
                GraderKind::Embeddings => node.get("embedding"),
            };
            if let Some(inner) = by_kind {
                return grader(ctx, inner, kind, place);
            }
            match node.get("id").and_then(Node::as_str) {
                Some(id) => grader_from_id(
                    ctx,
                    id,
                    node.get("label").and_then(Node::as_str),
                    Some(node),
                    kind,
                    place,
                ),
                None => {
                    ctx.skip(
                        place.clone(),
                        "grading provider",
                        "an object without an `id`",
                    );
                    None
                }
            }
        }
        _ => {
            ctx.skip(
                place.clone(),
                "grading provider",
                "neither an id nor an object",
            );
            None
        }
    }
}

fn grader_from_id(
    ctx: &mut Ctx,
    id: &str,
    label: Option<&str>,
    options: Option<&Node>,
    kind: GraderKind,
    place: &Place,
) -> Option<String> {
    if let Some(p) = ctx
        .providers
        .iter()
        .find(|p| p.aliases.iter().any(|a| a == id))
    {
        return Some(p.name.clone());
    }
    if kind == GraderKind::Embeddings {
        // openai:embedding(s):MODEL, azure:embedding(s):DEPLOYMENT
        let parts: Vec<&str> = id.splitn(3, ':').collect();
        let chat_id = match parts.as_slice() {
            ["openai", "embedding" | "embeddings", model] => format!("openai:chat:{model}"),
            ["azure" | "azureopenai", "embedding" | "embeddings", d] => format!("azure:chat:{d}"),
            _ => {
                ctx.skip(
                    place.clone(),
                    &format!("grading provider `{id}`"),
                    "only openai:embedding(s) and azure:embedding(s) providers embed in ai-evals",
                );
                return None;
            }
        };
        let name = convert_one(ctx, &chat_id, Some(label.unwrap_or(id)), options, place)?;
        if let Some(p) = ctx.providers.iter_mut().find(|p| p.name == name) {
            p.aliases.push(id.to_string());
        }
        return Some(name);
    }
    convert_one(ctx, id, label, options, place)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(matches!(parse_id("openai:gpt-4.1"), (Api::OpenAi, Some(m)) if m == "gpt-4.1"));
        assert!(matches!(parse_id("openai:chat:gpt-4o"), (Api::OpenAi, Some(m)) if m == "gpt-4o"));
        assert!(
            matches!(parse_id("openai:ft:gpt-4o:org::id"), (Api::OpenAi, Some(m)) if m == "ft:gpt-4o:org::id")
        );
        assert!(matches!(
            parse_id("anthropic:messages:claude-3-5-haiku-latest"),
            (Api::Anthropic, Some(_))
        ));
        assert!(
            matches!(parse_id("azureopenai:chat:my-dep"), (Api::Azure, Some(d)) if d == "my-dep")
        );
        assert!(matches!(
            parse_id("openai:completion:davinci"),
            (Api::Unsupported(_), _)
        ));
        assert!(matches!(
            parse_id("replicate:meta/llama"),
            (Api::Unsupported(_), _)
        ));
        assert!(matches!(parse_id("echo"), (Api::Echo, None)));
    }

    #[test]
    fn names_and_urls() {
        assert_eq!(sanitize("Claude 3.7 Sonnet"), "Claude-3.7-Sonnet");
        assert_eq!(sanitize("openai:gpt-4.1"), "openai-gpt-4.1");
        assert_eq!(
            normalize_openai_base("http://localhost:11434"),
            "http://localhost:11434/v1"
        );
        assert_eq!(
            normalize_openai_base("http://localhost:11434/v1"),
            "http://localhost:11434/v1"
        );
        assert_eq!(
            host_url("x.openai.azure.com/"),
            "https://x.openai.azure.com"
        );
        assert_eq!(host_url("https://x.example/"), "https://x.example");
    }
}
