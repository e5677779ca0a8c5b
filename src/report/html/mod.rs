//! The report page: one self-contained HTML file per run (`report.html`),
//! the baseline's and this run's cases side by side.
//!
//! The page is `templates/report.html.j2` (overridable like the others)
//! around parts drawn here: the case table, each case's article (prompt,
//! both answers, word diff, assertions) and the charts. Cases are paired as
//! the verdicts pair them ([`verdict::partners`]). Only the cases' numbers
//! are held for the whole suite; answers are read a few hundred cases at a
//! time and written out, so memory stays flat. Above [`FULL_LIMIT`] cases
//! only flipped and failing cases get an article, and the page says so.
//!
//! Nothing on the page reaches the network, and no text from a model or a
//! dataset can run: every string is escaped, the one script carries a
//! fresh nonce and the Content-Security-Policy allows nothing else.

mod cases;
mod charts;
mod diff;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

use crate::compare::baseline;
use crate::compare::verdict::{self, Partners};
use crate::error::{Error, Result};
use crate::report::{Renderer, Report};
use crate::store::read::RunRef;
use crate::store::{Access, Answer, CaseKey, CaseOutcome, RunData, Store};

use cases::{Case, Class, Flip, Labels};

/// Above this many cases, only flipped and failing cases (at most this
/// many) are shown in full; the rest are rows of the table.
pub const FULL_LIMIT: usize = 5_000;
/// Characters of a prompt, an output or an assertion's text shown.
const TEXT_CHARS: usize = 8_000;
/// The articles stop here, so a suite of huge answers still makes a page a
/// browser opens.
const ARTICLE_BYTES: usize = 12 << 20;
/// Cases whose answers are read at once. Each read scans the run's rows
/// once, so fewer, larger reads are faster; at most this many answers of
/// at most [`TEXT_CHARS`] per text are held at a time.
const CHUNK: usize = 2_000;

/// What a written page holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    /// Rows of the table: every case of either run.
    pub cases: usize,
    /// Cases with their answers on the page.
    pub in_full: usize,
    pub bytes: u64,
}

/// Renders run `report`'s page from `store` into `path`. The baseline's
/// answers come from `baseline_db` when given (the file the comparison
/// took its baseline from), else from `store`; a baseline that is in
/// neither is named on the page, which then shows this run alone.
pub async fn write(
    report: &Report,
    store: &Store,
    baseline_db: Option<&Path>,
    renderer: &Renderer,
    path: &Path,
) -> Result<Written> {
    let mut laps = Laps::new();
    let current = store
        .run_data(&RunRef {
            run_id: report.run_id.clone(),
            suite: report.suite.clone(),
            git_sha: None,
            branch: None,
        })
        .await?;
    let baseline = Baseline::load(report, store, baseline_db).await;
    laps.lap("read both runs' cases");
    let empty = RunData::default();
    let partners = verdict::partners(&current, baseline.data.as_deref().unwrap_or(&empty));
    let (labels, mut cases) = table(&partners, baseline.data.is_some());
    let chosen = in_full(&cases);
    laps.lap("paired them");
    let articles = articles(
        &mut cases,
        &chosen,
        &labels,
        store,
        &report.run_id,
        &baseline,
    )
    .await?;
    laps.lap("read and wrote the articles");
    let mut rows = String::with_capacity(cases.len() * 128);
    for case in &cases {
        cases::row(&mut rows, case, &labels);
    }
    laps.lap("wrote the rows");
    let page = Page::new(&cases, &labels, &baseline, &articles);
    let context = minijinja::context! {
        r => Value::from(Serde(report.written())),
        figures => Value::from(Serde(super::markdown::headline_rows(report))),
        page => Value::from(Serde(&page)),
        rows => Value::from_safe_string(rows),
        articles => Value::from_safe_string(articles.html),
        histogram => histogram(&cases).map(Value::from_safe_string),
        trend => trend(report).map(Value::from_safe_string),
    };
    let bytes = write_atomically(path, |file| {
        renderer.render_to("report.html", context, file)
    })?;
    laps.lap("rendered the page");
    Ok(Written {
        path: path.to_path_buf(),
        cases: cases.len(),
        in_full: page.counts.in_full,
        bytes,
    })
}

/// How long each step of a page took, said with `-v`.
struct Laps(std::time::Instant);

impl Laps {
    fn new() -> Laps {
        Laps(std::time::Instant::now())
    }

    fn lap(&mut self, what: &str) {
        crate::log::debug(&format!(
            "report page: {what} in {} ms",
            self.0.elapsed().as_millis()
        ));
        self.0 = std::time::Instant::now();
    }
}

/// The baseline run, where its answers are, and why they are not there.
struct Baseline {
    run: Option<RunRef>,
    /// The history file it is in, when that is not the run's own.
    other: Option<Store>,
    data: Option<Arc<RunData>>,
    /// Why the page shows this run alone although it was compared.
    note: Option<String>,
}

impl Baseline {
    async fn load(report: &Report, store: &Store, baseline_db: Option<&Path>) -> Baseline {
        let mut baseline = Baseline {
            run: None,
            other: None,
            data: None,
            note: None,
        };
        // Without a comparison the report's own words say why.
        let Some(compared) = &report.comparison else {
            return baseline;
        };
        let run = compared.baseline.run.clone();
        if let Some(path) = baseline_db.filter(|p| !baseline::same_file(p, store.path())) {
            match Store::open_with(path, Access::ReadOnly) {
                Ok(other) => baseline.other = Some(other),
                Err(e) => {
                    baseline.note = Some(format!(
                        "the baseline's answers could not be read: {}",
                        e.message()
                    ));
                    return baseline;
                }
            }
        }
        let source = baseline.other.as_ref().unwrap_or(store);
        match source.run_row(&run.run_id).await {
            Ok(Some(_)) => match source.run_data(&run).await {
                Ok(data) => baseline.data = Some(data),
                Err(e) => baseline.note = Some(e.message().to_string()),
            },
            Ok(None) => {
                baseline.note = Some(format!(
                    "the baseline run {} is not in {}; pass the history file it came from with --baseline-db to see its answers",
                    run.run_id,
                    source.path().display()
                ));
            }
            Err(e) => baseline.note = Some(e.message().to_string()),
        }
        baseline.run = Some(run);
        baseline
    }

    /// Where to read the baseline's answers, when they can be read.
    fn source<'a>(&'a self, store: &'a Store) -> Option<(&'a Store, &'a str)> {
        self.data.as_ref()?;
        let run = self.run.as_ref()?;
        Some((self.other.as_ref().unwrap_or(store), run.run_id.as_str()))
    }
}

/// The table's cases, in the pairing's order, and the prompt and provider
/// names they point into.
fn table<'a>(partners: &[Partners<'a>], compared: bool) -> (Labels, Vec<Case<'a>>) {
    let mut labels = Labels::default();
    let mut prompts: HashMap<&str, usize> = HashMap::new();
    let mut providers: HashMap<&str, usize> = HashMap::new();
    let index = |names: &mut Vec<String>, seen: &mut HashMap<&'a str, usize>, name: &'a str| {
        *seen.entry(name).or_insert_with(|| {
            names.push(name.to_string());
            names.len() - 1
        })
    };
    let cases = partners
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let side = p.current.or(p.baseline).expect("a partner has a side");
            let prompt = index(
                &mut labels.prompts,
                &mut prompts,
                side.prompt.as_deref().unwrap_or(""),
            );
            let provider = index(
                &mut labels.providers,
                &mut providers,
                side.provider.as_deref().unwrap_or(""),
            );
            Case::new(i, *p, compared, (prompt, provider))
        })
        .collect();
    (labels, cases)
}

/// The cases shown in full: all of a suite up to [`FULL_LIMIT`]; above it
/// the newly failing, then the newly passing, then the failing ones, at
/// most [`FULL_LIMIT`] of them.
fn in_full(cases: &[Case]) -> Vec<usize> {
    if cases.len() <= FULL_LIMIT {
        return (0..cases.len()).collect();
    }
    let rank = |c: &Case| match (c.flip(), c.failing()) {
        (Flip::NewlyFailing, _) => 0,
        (Flip::NewlyPassing, _) => 1,
        (_, true) => 2,
        _ => 3,
    };
    let mut chosen: Vec<usize> = cases
        .iter()
        .filter(|c| rank(c) < 3)
        .map(|c| c.index)
        .collect();
    chosen.sort_by_key(|&i| (rank(&cases[i]), i));
    chosen.truncate(FULL_LIMIT);
    chosen
}

/// The articles written, and whether their size budget stopped them.
struct Articles {
    html: String,
    written: usize,
    budget_reached: bool,
}

/// The chosen cases' articles, their answers read a chunk at a time.
async fn articles(
    cases: &mut [Case<'_>],
    chosen: &[usize],
    labels: &Labels,
    store: &Store,
    run_id: &str,
    baseline: &Baseline,
) -> Result<Articles> {
    let mut articles = Articles {
        html: String::new(),
        written: 0,
        budget_reached: false,
    };
    for chunk in chosen.chunks(CHUNK) {
        if articles.html.len() >= ARTICLE_BYTES {
            articles.budget_reached = true;
            break;
        }
        let (now_keys, now_at) = keys(cases, chunk, |p| p.current);
        let (then_keys, then_at) = keys(cases, chunk, |p| p.baseline);
        let now = store.answers(run_id, now_keys, TEXT_CHARS).await?;
        let then = match baseline.source(store) {
            Some((source, run)) => source.answers(run, then_keys, TEXT_CHARS).await?,
            None => Vec::new(),
        };
        for (n, &i) in chunk.iter().enumerate() {
            cases[i].detailed = true;
            cases::detail(
                &mut articles.html,
                &cases[i],
                labels,
                pick(&now, now_at[n]),
                pick(&then, then_at[n]),
            );
            articles.written += 1;
        }
    }
    Ok(articles)
}

/// The answer at `at`, if the run had one.
fn pick(answers: &[Option<Answer>], at: Option<usize>) -> Option<&Answer> {
    at.and_then(|k| answers.get(k)).and_then(Option::as_ref)
}

/// The keys of one side of the chunk's cases, and where each case's key
/// is among them.
fn keys<'a>(
    cases: &[Case<'a>],
    chunk: &[usize],
    side: fn(&Partners<'a>) -> Option<&'a CaseOutcome>,
) -> (Vec<CaseKey>, Vec<Option<usize>>) {
    let mut wanted = Vec::new();
    let at = chunk
        .iter()
        .map(|&i| {
            side(&cases[i].partners).map(|c| {
                wanted.push(c.key.clone());
                wanted.len() - 1
            })
        })
        .collect();
    (wanted, at)
}

/// What the template is told besides the report.
#[derive(Debug, Serialize)]
struct Page<'a> {
    /// The Content-Security-Policy nonce of the page's one script and style.
    nonce: String,
    version: &'static str,
    baseline: Option<&'a RunRef>,
    /// Why the page shows this run alone, if it does.
    baseline_note: Option<&'a str>,
    counts: Counts,
    prompts: &'a [String],
    providers: &'a [String],
    /// The cause filter's choices, with how many cases each has.
    classes: Vec<Choice>,
    matrix: Option<Matrix>,
}

#[derive(Debug, Serialize)]
struct Counts {
    cases: usize,
    shared: usize,
    newly_failing: usize,
    newly_passing: usize,
    failing: usize,
    new: usize,
    removed: usize,
    in_full: usize,
    /// Whether some cases are rows only.
    compact: bool,
    limit: usize,
    /// The articles stopped at their size budget.
    budget_reached: bool,
}

#[derive(Debug, Serialize)]
struct Choice {
    value: &'static str,
    label: &'static str,
    cases: usize,
}

impl<'a> Page<'a> {
    fn new(
        cases: &[Case],
        labels: &'a Labels,
        baseline: &'a Baseline,
        articles: &Articles,
    ) -> Page<'a> {
        let count = |keep: &dyn Fn(&Case) -> bool| cases.iter().filter(|c| keep(c)).count();
        let mut classes: BTreeMap<Class, usize> = BTreeMap::new();
        for case in cases {
            *classes.entry(case.class).or_default() += 1;
        }
        Page {
            nonce: nonce(),
            version: env!("CARGO_PKG_VERSION"),
            baseline: baseline.run.as_ref(),
            baseline_note: baseline.note.as_deref(),
            counts: Counts {
                cases: cases.len(),
                shared: count(&|c| c.partners.current.is_some() && c.partners.baseline.is_some()),
                newly_failing: count(&|c| c.flip() == Flip::NewlyFailing),
                newly_passing: count(&|c| c.flip() == Flip::NewlyPassing),
                failing: count(&|c| c.failing()),
                new: count(&|c| c.class == Class::New),
                removed: count(&|c| c.class == Class::Removed),
                in_full: articles.written,
                compact: articles.written < cases.len(),
                limit: FULL_LIMIT,
                budget_reached: articles.budget_reached,
            },
            prompts: &labels.prompts,
            providers: &labels.providers,
            classes: classes
                .into_iter()
                .map(|(class, cases)| Choice {
                    value: class.slug(),
                    label: if class == Class::Unchanged {
                        "unchanged"
                    } else {
                        class.label()
                    },
                    cases,
                })
                .collect(),
            matrix: Matrix::of(cases, labels),
        }
    }
}

/// The prompt × provider view: per combination, this run's and the
/// baseline's pass counts. Only for suites with several combinations.
#[derive(Debug, Serialize)]
struct Matrix {
    providers: Vec<usize>,
    rows: Vec<MatrixRow>,
}

#[derive(Debug, Serialize)]
struct MatrixRow {
    prompt: usize,
    cells: Vec<Option<Cell>>,
}

#[derive(Debug, Default, Clone, Serialize)]
struct Cell {
    cases: usize,
    passed: usize,
    baseline_cases: usize,
    baseline_passed: usize,
    newly_failing: usize,
}

impl Matrix {
    fn of(cases: &[Case], labels: &Labels) -> Option<Matrix> {
        let mut cells: BTreeMap<(usize, usize), Cell> = BTreeMap::new();
        for case in cases {
            let cell = cells.entry((case.prompt, case.provider)).or_default();
            if let Some(c) = case.partners.current {
                cell.cases += 1;
                cell.passed += usize::from(c.passed);
            }
            if let Some(b) = case.partners.baseline {
                cell.baseline_cases += 1;
                cell.baseline_passed += usize::from(b.passed);
            }
            cell.newly_failing += usize::from(case.flip() == Flip::NewlyFailing);
        }
        if cells.len() < 2 {
            return None;
        }
        let providers: Vec<usize> = (0..labels.providers.len()).collect();
        let rows = (0..labels.prompts.len())
            .map(|prompt| MatrixRow {
                prompt,
                cells: providers
                    .iter()
                    .map(|&provider| cells.get(&(prompt, provider)).cloned())
                    .collect(),
            })
            .collect();
        Some(Matrix { providers, rows })
    }
}

/// This run's latencies against the baseline's.
fn histogram(cases: &[Case]) -> Option<String> {
    let latencies =
        |side: fn(&Case) -> Option<f64>| cases.iter().filter_map(side).collect::<Vec<_>>();
    charts::latency_histogram(
        &latencies(|c| c.partners.current.and_then(|c| c.latency_ms)),
        &latencies(|c| c.partners.baseline.and_then(|b| b.latency_ms)),
    )
}

/// The baseline branch's recent runs, then this one.
fn trend(report: &Report) -> Option<String> {
    let compared = report.comparison.as_ref()?;
    let short = |s: &str| s.chars().take(7).collect::<String>();
    let mut points: Vec<charts::Point> = compared
        .trend
        .iter()
        .map(|p| charts::Point {
            label: short(p.git_sha.as_deref().unwrap_or(&p.run_id)),
            pass_rate: p.pass_rate,
            latency_p50_ms: p.latency_p50_ms,
            current: false,
        })
        .collect();
    points.push(charts::Point {
        label: "this run".into(),
        pass_rate: report.pass_rate,
        latency_p50_ms: report.metrics.get("latency_p50_ms").copied(),
        current: true,
    });
    charts::trend(&points)
}

/// 128 bits from the operating system, as hex: an output written before
/// the page was rendered cannot know it.
fn nonce() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source: a nonce that is still unique per render.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        bytes = *blake3::hash(format!("{now:?}{}", std::process::id()).as_bytes())
            .as_bytes()
            .first_chunk()
            .expect("a hash has 32 bytes");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes through a temporary file beside `path`, renamed into place when
/// complete: a failed render leaves no half page. Returns the size.
fn write_atomically(
    path: &Path,
    render: impl FnOnce(&mut dyn std::io::Write) -> Result<()>,
) -> Result<u64> {
    let failed =
        |e: std::io::Error| Error::runtime(format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(failed)?;
    }
    let temp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("report.html")
    ));
    let file = std::fs::File::create(&temp).map_err(failed)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    let rendered = render(&mut out).and_then(|()| out.flush().map_err(failed));
    if let Err(e) = rendered {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    drop(out);
    std::fs::rename(&temp, path).map_err(failed)?;
    Ok(std::fs::metadata(path).map_err(failed)?.len())
}
