//! JavaScript in an embedded QuickJS engine (rquickjs), one engine per
//! thread, kept for the thread's life: a script is compiled once per
//! thread and each call after that costs about as much as the script
//! itself.
//!
//! Before every entry into the engine the deadline and the memory limit
//! are set: an interrupt handler stops a script at its deadline (QuickJS's
//! interrupt cannot be caught by the script), and the heap may grow by at
//! most the memory limit. An engine that ran out of memory is dropped and
//! the next call starts a fresh one.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::rc::Rc;
use std::sync::LazyLock;
use std::time::Instant;

use regex::Regex;
use rquickjs::context::EvalOptions;
use rquickjs::{
    CatchResultExt, CaughtError, Context, Ctx, Function, Module, Object, Persistent, Runtime, Value,
};

use super::{Input, Limits, Returned, ScriptError, Scripts, Target};
use crate::assertion::{Code, Script};

const PRELUDE: &str = include_str!("prelude.js");

/// The deepest the engine's stack may grow: well inside the 2 MiB of the
/// threads scripts run on, so runaway recursion is a RangeError, not a crash.
const MAX_STACK: usize = 1 << 20;

/// The compiled functions a thread keeps at most.
const MAX_FUNCTIONS: usize = 1024;

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// A file of ES module syntax (`export …`, `import … from`).
static MODULE_SYNTAX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^\s*(export\s|import\s*[\w{*'"])"#).expect("a valid pattern")
});

/// One thread's engine. Fields drop in order: the saved functions before
/// the context and the runtime they live in.
struct Engine {
    functions: HashMap<u64, Persistent<Function<'static>>>,
    helpers: Persistent<Object<'static>>,
    context: Context,
    runtime: Runtime,
    deadline: Rc<Cell<Option<Instant>>>,
}

/// What a compiled function is for, which decides how it is called.
#[derive(Debug, Clone, Copy, Hash)]
enum Kind {
    Assertion,
    Transform(Target),
}

/// Checks that the script compiles (a file: that it loads and exports
/// the function).
pub(super) fn check(
    scripts: &Scripts,
    script: &Script,
    target: Option<Target>,
) -> Result<(), ScriptError> {
    let kind = target.map_or(Kind::Assertion, Kind::Transform);
    with_engine(|engine| engine.function(scripts, script, kind).map(|_| ())).map_err(|e| match e {
        ScriptError::Failed(m) => ScriptError::Unusable(m),
        other => other,
    })
}

/// Runs an assertion's code.
pub(super) fn assertion(
    scripts: &Scripts,
    script: &Script,
    input: Input,
    context: &str,
) -> Result<Returned, ScriptError> {
    with_engine(|engine| {
        let function = engine.function(scripts, script, Kind::Assertion)?;
        let inline = matches!(script.code, Code::Inline(_));
        engine.run(scripts.limits, |ctx, helpers| {
            let returned = invoke(ctx, helpers, &function, input, context, inline)?;
            let checked: Value = helpers.get::<_, Function>("assertion")?.call((returned,))?;
            Ok(read_returned(&checked))
        })?
    })
}

/// Runs a transform; its result as JSON text.
pub(super) fn transform(
    scripts: &Scripts,
    script: &Script,
    target: Target,
    input: Input,
    context: &str,
) -> Result<String, ScriptError> {
    with_engine(|engine| {
        let function = engine.function(scripts, script, Kind::Transform(target))?;
        let inline = matches!(script.code, Code::Inline(_));
        engine.run(scripts.limits, |ctx, helpers| {
            let returned = invoke(ctx, helpers, &function, input, context, inline)?;
            helpers
                .get::<_, Function>("transform")?
                .call::<_, String>((returned,))
        })
    })
}

/// The checked result of an assertion: a boolean, a number, or a
/// GradingResult's JSON.
fn read_returned(value: &Value) -> Result<Returned, ScriptError> {
    if let Some(b) = value.as_bool() {
        return Ok(Returned::Bool(b));
    }
    if let Some(n) = value.as_number() {
        return Ok(Returned::Number(n));
    }
    let json = value
        .as_string()
        .and_then(|s| s.to_string().ok())
        .ok_or_else(|| ScriptError::Failed("the result could not be read".into()))?;
    #[derive(serde::Deserialize)]
    struct Grading {
        pass: bool,
        score: f64,
        reason: String,
    }
    let g: Grading = serde_json::from_str(&json)
        .map_err(|e| ScriptError::Failed(format!("the result could not be read: {e}")))?;
    Ok(Returned::Grading {
        pass: g.pass,
        score: g.score,
        reason: g.reason,
    })
}

/// Calls a compiled function with the input and the context, and waits
/// for the promise an `async` function returns.
fn invoke<'js>(
    ctx: &Ctx<'js>,
    helpers: &Object<'js>,
    function: &Persistent<Function<'static>>,
    input: Input,
    context: &str,
    inline: bool,
) -> rquickjs::Result<Value<'js>> {
    let function = function.clone().restore(ctx)?;
    let (text, is_json) = match input {
        Input::Text(text) => (text, false),
        Input::Json(json) => (json, true),
    };
    let returned: Value = helpers
        .get::<_, Function>("invoke")?
        .call((function, text, is_json, context, inline))?;
    match returned.as_promise() {
        Some(promise) => promise.finish::<Value>(),
        None => Ok(returned),
    }
}

/// Runs `work` with this thread's engine, made on first use; an engine
/// that ran out of memory is dropped afterwards.
fn with_engine<T>(
    work: impl FnOnce(&mut Engine) -> Result<T, ScriptError>,
) -> Result<T, ScriptError> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(Engine::new().map_err(ScriptError::Failed)?);
        }
        let engine = slot.as_mut().expect("the engine was just made");
        let result = work(engine);
        if matches!(&result, Err(ScriptError::Failed(m)) if m.contains(OUT_OF_MEMORY)) {
            *slot = None;
        }
        result
    })
}

const OUT_OF_MEMORY: &str = "(script-memory)";
const THREW_NULL: &str = "threw null";

impl Engine {
    fn new() -> Result<Engine, String> {
        let fail = |e: rquickjs::Error| format!("cannot start the JavaScript engine: {e}");
        let runtime = Runtime::new().map_err(fail)?;
        runtime.set_max_stack_size(MAX_STACK);
        let deadline: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
        let watched = Rc::clone(&deadline);
        runtime.set_interrupt_handler(Some(Box::new(move || {
            watched.get().is_some_and(|d| Instant::now() >= d)
        })));
        let context = Context::full(&runtime).map_err(fail)?;
        let helpers = context
            .with(|ctx| -> rquickjs::Result<_> {
                let env = Object::new(ctx.clone())?;
                for (name, value) in std::env::vars() {
                    env.set(name, value)?;
                }
                let make: Function = ctx.eval(PRELUDE)?;
                let helpers: Object = make.call((env,))?;
                Ok(Persistent::save(&ctx, helpers))
            })
            .map_err(fail)?;
        Ok(Engine {
            functions: HashMap::new(),
            helpers,
            context,
            runtime,
            deadline,
        })
    }

    /// Enters the engine with the call's limits set; a thrown error, a
    /// passed deadline or exhausted memory becomes the reason it failed.
    fn run<T>(
        &mut self,
        limits: Limits,
        work: impl for<'js> FnOnce(&Ctx<'js>, &Object<'js>) -> rquickjs::Result<T>,
    ) -> Result<T, ScriptError> {
        let used = usize::try_from(self.runtime.memory_usage().malloc_size).unwrap_or(0);
        let allowed = usize::try_from(limits.memory).unwrap_or(usize::MAX);
        self.runtime.set_memory_limit(used.saturating_add(allowed));
        let deadline = Instant::now() + limits.timeout;
        self.deadline.set(Some(deadline));
        let helpers = self.helpers.clone();
        let result = self.context.with(|ctx| {
            let outcome = helpers
                .restore(&ctx)
                .and_then(|helpers| work(&ctx, &helpers));
            outcome.catch(&ctx).map_err(|e| describe(&e))
        });
        self.deadline.set(None);
        result.map_err(|message| {
            if Instant::now() >= deadline {
                ScriptError::Failed(format!(
                    "the script ran longer than {} (script-timeout) and was stopped",
                    super::seconds(limits.timeout)
                ))
            } else if message.contains("out of memory") || message == THREW_NULL {
                // QuickJS throws `null` when it has no memory left to make
                // its "out of memory" error; a script's own `throw null`
                // reads the same.
                ScriptError::Failed(format!(
                    "the script needed more than {} {OUT_OF_MEMORY} and was stopped",
                    super::mebibytes(limits.memory)
                ))
            } else {
                ScriptError::Failed(message)
            }
        })
    }

    /// The compiled function for a script, from this thread's cache.
    fn function(
        &mut self,
        scripts: &Scripts,
        script: &Script,
        kind: Kind,
    ) -> Result<Persistent<Function<'static>>, ScriptError> {
        let source = match &script.code {
            Code::Inline(code) => Source::Inline(code.as_str()),
            Code::File { path, function } => Source::File {
                path,
                function: function.as_deref(),
                text: scripts.file(path)?,
                full: scripts.path(path).display().to_string(),
            },
        };
        let key = source.key(kind);
        if let Some(function) = self.functions.get(&key) {
            return Ok(function.clone());
        }
        let function = self.run(scripts.limits, |ctx, helpers| {
            let function = source.compile(ctx, helpers, kind)?;
            Ok(Persistent::save(ctx, function))
        })?;
        // Templated code compiles once per rendering: the cache is
        // emptied when full, so a million cases keep memory flat.
        if self.functions.len() >= MAX_FUNCTIONS {
            self.functions.clear();
        }
        self.functions.insert(key, function.clone());
        Ok(function)
    }
}

/// A script's code as the engine compiles it.
enum Source<'a> {
    Inline(&'a str),
    File {
        path: &'a str,
        function: Option<&'a str>,
        text: std::sync::Arc<str>,
        /// The full path, for the module's name and `__filename`.
        full: String,
    },
}

impl Source<'_> {
    fn key(&self, kind: Kind) -> u64 {
        let mut hasher = DefaultHasher::new();
        kind.hash(&mut hasher);
        match self {
            Source::Inline(code) => code.hash(&mut hasher),
            Source::File {
                path,
                function,
                text,
                ..
            } => (path, function, text.as_ref()).hash(&mut hasher),
        }
        hasher.finish()
    }

    fn compile<'js>(
        &self,
        ctx: &Ctx<'js>,
        helpers: &Object<'js>,
        kind: Kind,
    ) -> rquickjs::Result<Function<'js>> {
        match (self, kind) {
            (Source::Inline(code), Kind::Assertion) => helpers
                .get::<_, Function>("assertionFunction")?
                .call((*code,)),
            (Source::Inline(code), Kind::Transform(target)) => {
                let parameter = match target {
                    Target::Output => "output",
                    Target::Vars => "vars",
                };
                helpers
                    .get::<_, Function>("transformFunction")?
                    .call((*code, parameter))
            }
            (
                Source::File {
                    path,
                    function,
                    text,
                    full,
                },
                _,
            ) => {
                let exports = load_file(ctx, helpers, path, text, full)?;
                helpers
                    .get::<_, Function>("pick")?
                    .call((exports, *function, *path))
            }
        }
    }
}

/// A file's exports: an ES module's namespace, or a CommonJS file's
/// `module.exports`.
fn load_file<'js>(
    ctx: &Ctx<'js>,
    helpers: &Object<'js>,
    path: &str,
    text: &str,
    full: &str,
) -> rquickjs::Result<Value<'js>> {
    let lower = path.to_ascii_lowercase();
    let es_module =
        lower.ends_with(".mjs") || (!lower.ends_with(".cjs") && MODULE_SYNTAX.is_match(text));
    if es_module {
        let (module, promise) = Module::declare(ctx.clone(), full, text)?.eval()?;
        promise.finish::<()>()?;
        return module.namespace().map(Object::into_value);
    }
    let mut options = EvalOptions::default();
    options.strict = false;
    options.filename = Some(full.to_string());
    let factory: Function = ctx.eval_with_options(
        format!("(function (exports, require, module, __filename, __dirname) {{\n{text}\n}})"),
        options,
    )?;
    helpers
        .get::<_, Function>("commonJs")?
        .call((factory, full))
}

/// A thrown value in one line: `TypeError: x is not a function (at …)`.
fn describe(error: &CaughtError) -> String {
    match error {
        CaughtError::Exception(exception) => {
            let name: Option<String> = exception.get("name").ok();
            let message = exception.message().unwrap_or_default();
            let mut text = match name {
                Some(name) if !name.is_empty() => format!("{name}: {message}"),
                _ => message,
            };
            if let Some(frame) = exception.stack().and_then(|s| {
                s.lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .map(str::to_string)
            }) {
                text.push_str(&format!(" ({frame})"));
            }
            text
        }
        CaughtError::Value(value) if value.is_null() => THREW_NULL.to_string(),
        CaughtError::Value(value) => match value.as_string().and_then(|s| s.to_string().ok()) {
            Some(text) => format!("threw {text:?}"),
            None => format!("threw a {}", value.type_name()),
        },
        CaughtError::Error(error) => error.to_string(),
    }
}
