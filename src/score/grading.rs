//! Model-graded assertions: `similar` through embeddings and `llm-judge`
//! through a judge model.
//!
//! Both go through the executor, so judge and embedding calls share the
//! budgets, retries and caches of every other call. A judge answer that is
//! not a readable verdict is asked for once more, then recorded as a failed
//! assertion quoting the raw answer: never a silent pass.

use std::collections::HashMap;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use minijinja::Environment;

use crate::assertion::{Assertion, AssertionResult, Rule};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::execute::executor::Executor;
use crate::execute::provider::Request;
use crate::ingest::cases::Case;
use crate::score::{Grade, cosine, parse_verdict};

/// The built-in judge prompt; `[grading] judge-prompt` replaces it.
const JUDGE_PROMPT: &str = include_str!("../../templates/judge.txt.j2");

/// What a case's model-graded assertions grade: the output, and the one
/// each assertion with its own transform made, by index (or why that
/// transform failed).
pub struct Outputs<'a> {
    pub output: &'a str,
    pub own: &'a [(usize, std::result::Result<String, String>)],
}

/// What grading needs from the run: the judge prompt and which lanes grade.
pub struct Grader {
    env: Environment<'static>,
    lanes: HashMap<String, usize>,
    judge: Option<usize>,
    embedder: Option<usize>,
    dimensions: Option<u32>,
    judge_errors: AtomicU64,
}

impl Grader {
    /// `lanes` are the executor's lane names, in order.
    pub fn new(config: &Config, lanes: &[String]) -> Result<Grader> {
        let index: HashMap<String, usize> = lanes
            .iter()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let source = config
            .grading
            .judge_prompt
            .clone()
            .unwrap_or_else(|| JUDGE_PROMPT.to_string());
        env.add_template_owned("judge", source).map_err(|e| {
            Error::input(format!(
                "{}: grading.judge-prompt: invalid template: {e}",
                config.path.display()
            ))
        })?;
        let lane = |name: &Option<String>| name.as_ref().and_then(|n| index.get(n).copied());
        Ok(Grader {
            judge: lane(&config.grading.judge),
            embedder: lane(&config.grading.embeddings),
            dimensions: config.grading.dimensions,
            env,
            lanes: index,
            judge_errors: AtomicU64::new(0),
        })
    }

    /// Judge answers that were no verdict even after a retry.
    pub fn judge_errors(&self) -> u64 {
        self.judge_errors.load(Ordering::Relaxed)
    }

    /// Grades a case's model-graded assertions on `output` (an assertion
    /// with its own transform on the output it made, in `own`, by index);
    /// the results come with the index of their assertion. `timed` hears
    /// how long each took. `None` when the run stopped before a grader
    /// could answer: the case is left for the next run rather than failed
    /// for want of a grade.
    pub async fn grade(
        &self,
        executor: &Executor,
        case: &Case,
        repeat: u32,
        Outputs { output, own }: Outputs<'_>,
        mut timed: impl FnMut(&Assertion, Duration),
    ) -> Option<Vec<(usize, AssertionResult)>> {
        let mut results = Vec::new();
        for (i, assertion) in case.assertions.iter().enumerate() {
            let output = match own.iter().find(|(j, _)| *j == i) {
                None => output,
                Some((_, Ok(text))) => text.as_str(),
                Some((_, Err(reason))) => {
                    results.push((i, assertion.failed(reason.clone())));
                    continue;
                }
            };
            let started = Instant::now();
            let grade = match &assertion.rule {
                Rule::Similar {
                    references,
                    provider,
                    ..
                } => match self.lane(provider, self.embedder) {
                    Some(lane) => self.similarity(executor, lane, output, references).await,
                    None => Grade::Failed("no embeddings provider is configured".into()),
                },
                Rule::Judge {
                    rubric, provider, ..
                } => match self.lane(provider, self.judge) {
                    Some(lane) => {
                        self.verdict(executor, lane, case, repeat, rubric, output)
                            .await
                    }
                    None => Grade::Failed("no judge provider is configured".into()),
                },
                _ => continue,
            };
            timed(assertion, started.elapsed());
            if matches!(grade, Grade::Failed(_)) && executor.is_stopping() {
                return None;
            }
            results.push((i, assertion.grade(grade)));
        }
        Some(results)
    }

    fn lane(&self, named: &Option<String>, default: Option<usize>) -> Option<usize> {
        match named {
            Some(name) => self.lanes.get(name).copied(),
            None => default,
        }
    }

    async fn similarity(
        &self,
        executor: &Executor,
        lane: usize,
        output: &str,
        references: &[String],
    ) -> Grade {
        let mut texts: Vec<&str> = Vec::with_capacity(references.len() + 1);
        texts.push(output);
        texts.extend(references.iter().map(String::as_str));
        match executor.embed(lane, &texts, self.dimensions).await {
            Ok(vectors) => {
                let best = vectors[1..]
                    .iter()
                    .map(|r| cosine(&vectors[0], r))
                    .fold(f64::NEG_INFINITY, f64::max);
                Grade::Similarity(best)
            }
            Err(failure) => Grade::Failed(format!("embedding failed: {}", failure.error.message)),
        }
    }

    async fn verdict(
        &self,
        executor: &Executor,
        lane: usize,
        case: &Case,
        repeat: u32,
        rubric: &str,
        output: &str,
    ) -> Grade {
        let prompt = match self.env.get_template("judge").and_then(|t| {
            t.render(minijinja::context! {
                rubric => rubric,
                output => output,
                prompt => case.prompt.as_deref().unwrap_or_default(),
            })
        }) {
            Ok(p) => p,
            Err(e) => return Grade::Failed(format!("cannot render the judge prompt: {e}")),
        };
        let ask = |prompt: String| async move {
            executor
                .call(
                    lane,
                    Request {
                        case_id: &case.id,
                        repeat,
                        prompt: &prompt,
                        messages: None,
                    },
                )
                .await
                .map(|answer| answer.response.output)
                .map_err(|failure| failure.error.message)
        };
        let first = match ask(prompt.clone()).await {
            Ok(answer) => answer,
            Err(message) => return Grade::Failed(format!("judge call failed: {message}")),
        };
        let first_error = match parse_verdict(&first) {
            Ok(verdict) => return Grade::Verdict(verdict),
            Err(e) => e,
        };
        // A changed prompt is a new request, so the retry never replays the
        // cached unreadable answer.
        let retry = format!(
            "{prompt}\n\nYour previous answer could not be read ({first_error}). Answer again with only the JSON object."
        );
        let second = match ask(retry).await {
            Ok(answer) => answer,
            Err(message) => return Grade::Failed(format!("judge call failed: {message}")),
        };
        match parse_verdict(&second) {
            Ok(verdict) => Grade::Verdict(verdict),
            Err(e) => {
                self.judge_errors.fetch_add(1, Ordering::Relaxed);
                Grade::Failed(format!(
                    "the judge's answer is no verdict ({e}), also after a retry: {:?}",
                    shorten(&second)
                ))
            }
        }
    }
}

/// Raw judge answers are quoted in reasons; a runaway answer is cut.
fn shorten(text: &str) -> String {
    const MAX: usize = 500;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
