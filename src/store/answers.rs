//! What chosen cases of a run got, for a report page: the rendered prompt,
//! the output, the error and every assertion's result. Read a few hundred
//! cases at a time, with long texts cut inside the query, so a suite of
//! huge outputs never reaches memory whole.

use duckdb::types::Value;
use duckdb::{Connection, params_from_iter};
use serde::Serialize;

use super::CaseKey;
use super::read::column_since;
use super::schema;

/// A text cut to a length, with how long it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cut {
    /// At most the characters asked for.
    pub text: String,
    /// The whole text's length in characters.
    pub chars: u64,
}

impl Cut {
    /// Whether `text` is less than the whole.
    pub fn is_cut(&self) -> bool {
        (self.text.chars().count() as u64) < self.chars
    }
}

/// One assertion's result, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AssertionResult {
    pub kind: String,
    pub passed: bool,
    pub score: f64,
    pub expected: Option<String>,
    pub reason: Option<String>,
}

/// What one case got.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub description: Option<String>,
    /// Where its test was read (`file:line`).
    pub source: Option<String>,
    pub model: String,
    /// The prompt as it was sent.
    pub prompt: Option<Cut>,
    pub output: Option<Cut>,
    pub error: Option<String>,
    /// In the order they were written.
    pub assertions: Vec<AssertionResult>,
}

/// The answers of `keys` in run `run_id`, in the order of `keys`; `None`
/// for a key the run does not have. Texts are cut to `max_chars`.
pub fn answers(
    conn: &Connection,
    run_id: &str,
    keys: &[CaseKey],
    max_chars: usize,
) -> duckdb::Result<Vec<Option<Answer>>> {
    let mut found: Vec<Option<Answer>> = vec![None; keys.len()];
    if keys.is_empty() {
        return Ok(found);
    }
    let version = schema::version(conn)?;
    let variant = column_since(version, schema::VARIANTS, "c.variant");
    let mut params = key_params(keys);
    params.push(Value::Text(run_id.to_string()));
    params.push(Value::BigInt(max_chars as i64));
    let mut statement = conn.prepare(&format!(
        "WITH {WANTED}
         SELECT k.pos, c.description, c.source, c.model,
                left(c.prompt, ?6), length(c.prompt),
                left(c.output, ?6), length(c.output), left(c.error, ?6)
           FROM k JOIN case_results c
             ON c.run_id = ?5 AND c.case_id = k.id AND c.repeat_index = k.rep
                AND {variant} IS NOT DISTINCT FROM k.var"
    ))?;
    let mut rows = statement.query(params_from_iter(&params))?;
    while let Some(row) = rows.next()? {
        let pos: i64 = row.get(0)?;
        let cut = |text: Option<String>, chars: Option<i64>| {
            text.map(|text| Cut {
                text,
                chars: chars.unwrap_or(0).max(0) as u64,
            })
        };
        let answer = Answer {
            description: row.get(1)?,
            source: row.get(2)?,
            model: row.get(3)?,
            prompt: cut(row.get(4)?, row.get(5)?),
            output: cut(row.get(6)?, row.get(7)?),
            error: row.get(8)?,
            assertions: Vec::new(),
        };
        if let Some(slot) = found.get_mut(pos as usize) {
            *slot = Some(answer);
        }
    }
    add_assertions(conn, run_id, keys, max_chars, version, &mut found)?;
    Ok(found)
}

/// Each found answer's assertion results, in their order.
fn add_assertions(
    conn: &Connection,
    run_id: &str,
    keys: &[CaseKey],
    max_chars: usize,
    version: i64,
    found: &mut [Option<Answer>],
) -> duckdb::Result<()> {
    let variant = column_since(version, schema::VARIANTS, "s.variant");
    let mut params = key_params(keys);
    params.push(Value::Text(run_id.to_string()));
    params.push(Value::BigInt(max_chars as i64));
    let mut statement = conn.prepare(&format!(
        "WITH {WANTED}
         SELECT k.pos, s.assertion_type, s.passed, s.score,
                left(s.expected, ?6), left(s.reason, ?6)
           FROM k JOIN scores s
             ON s.run_id = ?5 AND s.case_id = k.id AND s.repeat_index = k.rep
                AND {variant} IS NOT DISTINCT FROM k.var
          ORDER BY k.pos, s.assertion_index"
    ))?;
    let mut rows = statement.query(params_from_iter(&params))?;
    while let Some(row) = rows.next()? {
        let pos: i64 = row.get(0)?;
        let result = AssertionResult {
            kind: row.get(1)?,
            passed: row.get(2)?,
            score: row.get(3)?,
            expected: row.get(4)?,
            reason: row.get(5)?,
        };
        if let Some(Some(answer)) = found.get_mut(pos as usize) {
            answer.assertions.push(result);
        }
    }
    Ok(())
}

/// `k(id, rep, var, pos)`: the keys, bound as three lists and their
/// length (`?1` … `?4`), so a statement is as short for 2,000 keys as for
/// one (a `VALUES` row per key made binding the slowest part). The run is
/// `?5`, the length texts are cut to `?6`.
const WANTED: &str = "k AS (SELECT unnest(?1::VARCHAR[]) AS id, unnest(?2::INTEGER[]) AS rep,
                  unnest(?3::VARCHAR[]) AS var, unnest(range(?4)) AS pos)";

/// The values of [`wanted`]'s placeholders.
fn key_params(keys: &[CaseKey]) -> Vec<Value> {
    vec![
        Value::List(keys.iter().map(|k| Value::Text(k.id.clone())).collect()),
        Value::List(keys.iter().map(|k| Value::Int(k.repeat as i32)).collect()),
        Value::List(
            keys.iter()
                .map(|k| k.variant.clone().map_or(Value::Null, Value::Text))
                .collect(),
        ),
        Value::BigInt(keys.len() as i64),
    ]
}
