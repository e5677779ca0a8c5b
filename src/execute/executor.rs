//! Driving providers as fast as they allow and never faster: the lanes
//! of a run (`lane.rs`), one per provider, and what they share: the
//! response and embedding caches, one call for identical requests in
//! flight, and the run's phase (going, stopping, abandoned, halted).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OnceCell;

use super::lane::{Answer, Failure, Lane, Phase, Shared};
use crate::execute::cache::{self, EmbeddingCache, Key, ResponseCache};
use crate::execute::provider::{RateLimits, Request, Response};
use crate::record::Metric;

type Flight = Arc<OnceCell<std::result::Result<Answer, Failure>>>;

/// The most inputs one embeddings request may carry (OpenAI's limit).
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

/// The lanes of a run, one per provider, in config order, and the response
/// cache they share.
pub struct Executor {
    lanes: Vec<Lane>,
    cache: Option<ResponseCache>,
    embeddings: Option<EmbeddingCache>,
    /// Requests in flight by cache key, so identical ones make one call.
    flights: Mutex<HashMap<Key, Flight>>,
    /// Shared with every lane: the run's phase, and why it halted.
    shared: Arc<Shared>,
}

impl Executor {
    /// The executor of `lanes`; a budget or provider wait longer than
    /// `max_wait` halts the run instead of being sat through.
    pub fn new(
        mut lanes: Vec<Lane>,
        cache: Option<ResponseCache>,
        embeddings: Option<EmbeddingCache>,
        max_wait: Duration,
    ) -> Executor {
        let shared = Arc::new(Shared::new(max_wait));
        for lane in &mut lanes {
            lane.shared = Arc::clone(&shared);
        }
        Executor {
            lanes,
            cache,
            embeddings,
            flights: Mutex::new(HashMap::new()),
            shared,
        }
    }

    /// Stops sending: every request not yet on the wire fails as not sent
    /// (at once, even one waiting for its budget); those in flight finish.
    pub fn stop(&self) {
        self.shared.advance(Phase::Stopping);
    }

    /// Stops waiting too: every request under way fails as not sent, so
    /// the run can store what it has.
    pub fn abandon(&self) {
        self.shared.advance(Phase::Abandoning);
    }

    /// Whether the run has stopped sending.
    pub fn is_stopping(&self) -> bool {
        self.shared.phase() >= Phase::Stopping
    }

    /// Why a lane halted the run, if one did.
    pub fn halted(&self) -> Option<String> {
        self.shared
            .halted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn cache(&self) -> Option<&ResponseCache> {
        self.cache.as_ref()
    }

    pub fn embedding_cache(&self) -> Option<&EmbeddingCache> {
        self.embeddings.as_ref()
    }

    /// The embeddings of `texts` on lane `lane`, in order: cached ones from
    /// the embedding cache, the rest asked for in batches of at most
    /// [`MAX_EMBEDDING_INPUTS`], each within the lane's budgets.
    pub async fn embed(
        &self,
        lane: usize,
        texts: &[&str],
        dimensions: Option<u32>,
    ) -> std::result::Result<Vec<Arc<Vec<f32>>>, Failure> {
        let lane = &self.lanes[lane];
        let keys: Vec<Option<Key>> = texts
            .iter()
            .map(|t| lane.provider.embedding_key(t, dimensions))
            .collect();
        let limit = lane.provider.cache_entry_limit();
        let mut found: Vec<Option<Arc<Vec<f32>>>> = Vec::with_capacity(keys.len());
        for key in &keys {
            found.push(match (key, &self.embeddings) {
                (Some(key), Some(cache)) => cache.get(key, limit).await,
                _ => None,
            });
        }
        let missing: Vec<usize> = (0..texts.len()).filter(|&i| found[i].is_none()).collect();
        for batch in missing.chunks(MAX_EMBEDDING_INPUTS) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
            let embeddings = lane.embed_batch(&inputs, dimensions).await?;
            for (&i, vector) in batch.iter().zip(embeddings.vectors) {
                let vector = Arc::new(vector);
                if let (Some(cache), Some(key)) = (&self.embeddings, &keys[i]) {
                    cache.put(key, &vector).await;
                }
                found[i] = Some(vector);
            }
        }
        Ok(found
            .into_iter()
            .map(|v| v.expect("every text was found or embedded"))
            .collect())
    }

    /// Answers `request` on lane `lane`: from the cache when it can, else
    /// by one provider call shared with identical requests in flight.
    pub async fn call(
        &self,
        lane: usize,
        request: Request<'_>,
    ) -> std::result::Result<Answer, Failure> {
        let key = self.lanes[lane].provider.fingerprint(request);
        self.call_fingerprinted(lane, request, key).await
    }

    /// [`Executor::call`] for a request whose fingerprint the caller has
    /// already taken; for an HTTP provider it is the cache key.
    pub async fn call_fingerprinted(
        &self,
        lane: usize,
        request: Request<'_>,
        key: Key,
    ) -> std::result::Result<Answer, Failure> {
        let lane = &self.lanes[lane];
        let cache = self
            .cache
            .as_ref()
            .filter(|c| c.mode() != crate::config::Mode::Off && lane.provider.is_remote());
        let Some(cache) = cache else {
            return lane.call(request).await;
        };
        if let Some(entry) = cache.get(&key, lane.provider.cache_entry_limit()).await {
            return Ok(Answer {
                response: Response {
                    output: entry.output,
                    latency: entry
                        .latency_ms
                        .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok()),
                    usage: entry.usage,
                    cost_usd: entry.cost_usd,
                    finish_reason: entry.finish_reason,
                    limits: RateLimits::default(),
                },
                attempts: 0,
                cached: true,
            });
        }
        let flight = Arc::clone(
            self.flights
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(key)
                .or_default(),
        );
        let mut led = false;
        let outcome = flight
            .get_or_init(|| {
                led = true;
                lane.call(request)
            })
            .await
            .clone();
        if !led {
            cache.note_shared(
                outcome
                    .as_ref()
                    .ok()
                    .map(|a| (a.response.usage, a.response.cost_usd)),
            );
            return outcome.map(|answer| Answer {
                attempts: 0,
                cached: true,
                ..answer
            });
        }
        self.flights
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key);
        if let Ok(answer) = &outcome {
            let r = &answer.response;
            cache
                .put(
                    &key,
                    &cache::Entry {
                        model: lane.provider.model().to_string(),
                        output: r.output.clone(),
                        usage: r.usage,
                        cost_usd: r.cost_usd,
                        latency_ms: r.latency.map(|d| d.as_secs_f64() * 1000.0),
                        finish_reason: r.finish_reason.clone(),
                    },
                )
                .await;
        }
        outcome
    }

    pub fn lane(&self, index: usize) -> &Lane {
        &self.lanes[index]
    }

    pub fn lanes(&self) -> &[Lane] {
        &self.lanes
    }

    /// How many requests may be in flight across all lanes.
    pub fn width(&self) -> usize {
        self.lanes
            .iter()
            .map(|l| l.limits.concurrency)
            .sum::<usize>()
            .max(1)
    }

    /// Total throttle wait across lanes.
    pub fn throttled(&self) -> Duration {
        self.lanes.iter().map(Lane::throttled).sum()
    }

    /// Metrics of the remote lanes (offline providers are never throttled).
    pub fn metrics(&self) -> Vec<Metric> {
        self.lanes
            .iter()
            .filter(|l| l.provider.is_remote())
            .flat_map(Lane::metrics)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DEFAULT_MAX_WAIT, HttpSpec};
    use crate::execute::Limits;
    use crate::execute::provider::Provider;

    #[test]
    fn embeddings_split_at_the_request_limit_and_keep_order() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let server = runtime
            .block_on(mock_provider::start(mock_provider::Config::default()))
            .unwrap();
        let spec = HttpSpec {
            model: Some("text-embedding-3-small".into()),
            base_url: Some(format!("{}/v1", server.url())),
            api_key_env: Some("KEY".into()),
            ..HttpSpec::default()
        };
        let env = |_: &str| Some("sk-test".to_string());
        let provider = Provider::Http(
            crate::execute::provider::Http::from_spec(
                "emb",
                crate::execute::provider::Api::OpenAi,
                &spec,
                &crate::execute::pricing::Prices::new(&Default::default()),
                &crate::execute::provider::http::client().unwrap(),
                &env,
            )
            .unwrap(),
        );
        let executor = Executor::new(
            vec![Lane::new("emb".into(), provider, Limits::offline(4))],
            None,
            None,
            DEFAULT_MAX_WAIT,
        );
        let texts: Vec<String> = (0..MAX_EMBEDDING_INPUTS + 52)
            .map(|i| format!("text number {i}"))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = runtime.block_on(executor.embed(0, &refs, None)).unwrap();
        assert_eq!(vectors.len(), texts.len());
        assert_eq!(server.stats().requests, 2);
        for i in [0, 2047, 2048, texts.len() - 1] {
            assert_eq!(
                *vectors[i],
                mock_provider::embed(&texts[i], 256),
                "text {i}"
            );
        }
    }
}
