//! Everything a run needs before it touches the database: the config with
//! the command line applied, the prompts, the executor with its caches,
//! the grader, the scoring pool and the templates. Whatever the user must
//! fix fails here, with exit code 2, before a single case runs.

use std::path::PathBuf;
use std::sync::Arc;

use super::Options;
use crate::config::{Config, DEFAULT_CACHE_DIR, Mode, ProviderSpec};
use crate::error::Result;
use crate::execute::cache::{self, EmbeddingCache, ResponseCache};
use crate::execute::executor::Executor;
use crate::execute::pricing::Prices;
use crate::execute::provider::{self, Provider};
use crate::execute::{Lane, Limits, Overrides};
use crate::ingest::{Builder, Prompts};
use crate::report::Renderer;
use crate::score::{Grader, Pool};
use crate::script::{Limits as ScriptLimits, Scripts};

/// What a run is made of, ready to go.
pub(super) struct Setup {
    pub(super) config: Arc<Config>,
    pub(super) prompts: Arc<Prompts>,
    pub(super) executor: Arc<Executor>,
    /// Each lane's name and whether its cases need a rendered prompt.
    pub(super) providers: Arc<Vec<(String, bool)>>,
    pub(super) grader: Grader,
    pub(super) pool: Pool,
    pub(super) renderer: Renderer,
    /// The `javascript` and `python` assertions' and transforms' runner.
    pub(super) scripts: Arc<Scripts>,
}

impl Setup {
    pub(super) fn new(options: &Options) -> Result<Setup> {
        let config = Arc::new(load_config(options)?);
        let prompts = Arc::new(Prompts::new(
            &config.prompts,
            &config.path,
            config.suite.undefined,
        )?);
        let settings = cache_settings(&config, options.cache_dir.clone(), options.cache_mode);
        let embeddings = (settings.mode != Mode::Off).then(|| EmbeddingCache::new(&settings));
        let cache = (settings.mode != Mode::Off).then(|| ResponseCache::new(settings));
        let executor = Arc::new(executor(&config, options.overrides, cache, embeddings)?);
        let lane_names: Vec<String> = executor.lanes().iter().map(|l| l.name.clone()).collect();
        let grader = Grader::new(&config, &lane_names)?;
        let providers: Arc<Vec<(String, bool)>> = Arc::new(
            executor
                .lanes()
                .iter()
                .map(|l| (l.name.clone(), l.provider.needs_prompt()))
                .collect(),
        );
        let scripts = Arc::new(Scripts::new(
            &config.dir,
            ScriptLimits {
                timeout: config.suite.script_timeout,
                memory: config.suite.script_memory,
            },
        ));
        // Check the defaults against the providers, and every script the
        // config names, before the database is touched.
        Builder::new(&config, &prompts, &providers, &scripts)?;
        Ok(Setup {
            scripts,
            renderer: Renderer::new(options.templates.as_deref())?,
            config,
            prompts,
            executor,
            providers,
            grader,
            pool: Pool::new(Pool::default_size()),
        })
    }
}

/// The suite's config with the command line's overrides applied.
fn load_config(options: &Options) -> Result<Config> {
    let mut config = Config::load(&options.config)?;
    if let Some(n) = options.batch_size {
        config.suite.batch_size = n;
    }
    if let Some(n) = options.overrides.concurrency {
        config.suite.concurrency = n;
    }
    if let Some(n) = options.repeat {
        config.suite.repeat = n;
    }
    Ok(config)
}

/// The cache settings: command line, then `[cache]`, then the defaults.
pub fn cache_settings(
    config: &Config,
    cache_dir: Option<PathBuf>,
    mode: Option<Mode>,
) -> cache::Settings {
    let c = &config.cache;
    let dir = cache_dir
        .or_else(|| c.dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CACHE_DIR));
    let defaults = cache::Settings::new(dir);
    cache::Settings {
        mode: mode.or(c.mode).unwrap_or(defaults.mode),
        ttl: c.ttl.unwrap_or(defaults.ttl),
        max_bytes: c.max_bytes.unwrap_or(defaults.max_bytes),
        keep_truncated: c.keep_truncated,
        embeddings_ttl: c.embeddings_ttl.unwrap_or(defaults.embeddings_ttl),
        embeddings_max_bytes: c
            .embeddings_max_bytes
            .unwrap_or(defaults.embeddings_max_bytes),
        ..defaults
    }
}

/// The run's lanes, one per provider in config order, with their limits.
fn executor(
    config: &Config,
    overrides: Overrides,
    cache: Option<ResponseCache>,
    embeddings: Option<EmbeddingCache>,
) -> Result<Executor> {
    let prices = Prices::new(&config.prices);
    let client = provider::http::client()?;
    let env = |var: &str| std::env::var(var).ok();
    let setup = provider::Setup {
        prices: &prices,
        client: &client,
        env: &env,
    };
    let mut lanes = Vec::with_capacity(config.providers.len());
    for (name, spec) in &config.providers {
        let provider = Provider::from_spec(name, spec, &setup)
            .map_err(|e| e.context(config.path.display()))?;
        let limits = match spec {
            ProviderSpec::Openai(http)
            | ProviderSpec::Anthropic(http)
            | ProviderSpec::OpenaiCompatible(http)
            | ProviderSpec::AzureOpenai(http) => {
                Limits::for_http(name, http, config.suite.concurrency, overrides)
                    .map_err(|e| e.context(config.path.display()))?
            }
            ProviderSpec::Echo {} | ProviderSpec::Replay { .. } => {
                Limits::offline(config.suite.concurrency)
            }
        };
        lanes.push(Lane::new(name.clone(), provider, limits));
    }
    Ok(Executor::new(
        lanes,
        cache,
        embeddings,
        config.limits.max_wait,
    ))
}
