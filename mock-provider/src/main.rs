//! The `mock-provider` command: parses flags into a [`Config`], binds, says
//! where, and serves until killed.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use mock_provider::{Config, Enforcement, Rule, TokenAccounting};

/// A local stand-in for the OpenAI, Azure OpenAI and Anthropic APIs.
#[derive(Debug, Parser)]
#[command(name = "mock-provider", version)]
struct Args {
    /// Address to bind; loopback only unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1", value_parser = parse_host)]
    host: IpAddr,
    /// Port to bind; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Allow a --host that is not a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Fixed delay before each answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Extra uniform random delay up to this many milliseconds.
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Seed for jitter, random errors, chaos, wrong answers and ids.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Requests per minute (no limit when absent).
    #[arg(long)]
    rpm: Option<u64>,
    /// Tokens per minute (no limit when absent).
    #[arg(long)]
    tpm: Option<u64>,
    /// Request bucket capacity (default: rpm / 60, at least 1); token-bucket only.
    #[arg(long)]
    burst_requests: Option<u64>,
    /// Token bucket capacity (default: tpm / 60, at least 1); token-bucket only.
    #[arg(long)]
    burst_tokens: Option<u64>,
    /// How the limits are enforced: token-bucket (continuous refill),
    /// sliding-window (limit * window-secs / 60 in any window of
    /// window-secs), fixed-window (the minute's budget back at each
    /// wall-clock minute) or daily (Groq-style: --rpd per day, minute
    /// limits as full-minute buckets).
    #[arg(long, value_enum, default_value_t = EnforcementArg::TokenBucket)]
    enforcement: EnforcementArg,
    /// Length of the sliding window in seconds (default 1); sliding-window only.
    #[arg(long)]
    window_secs: Option<u64>,
    /// Requests per day; daily only.
    #[arg(long)]
    rpd: Option<u64>,
    /// Input (prompt) tokens per minute (no limit when absent).
    #[arg(long)]
    itpm: Option<u64>,
    /// Output tokens per minute, charged the requested max_tokens (no limit when absent).
    #[arg(long)]
    otpm: Option<u64>,
    /// Rate-limit headers (either API's) describe the enforcement window
    /// (e.g. limit 50 for 3000 rpm in a 1 s sliding window) instead of the
    /// whole minute.
    #[arg(long)]
    headers_window: bool,
    /// What the token limits count: max-tokens (a request's prompt and
    /// max_tokens, in full at admission, as OpenAI) or usage (the prompt
    /// and completion an answer used, when it is done).
    #[arg(long, value_enum, default_value_t = AccountingArg::MaxTokens)]
    token_accounting: AccountingArg,
    /// Share of requests, 0 to 1, answered with a server error.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// Share of successful chat answers, 0 to 1, made hostile (seeded):
    /// truncated-json, wrong-types, huge-headers, reset-mid-body,
    /// stalled-body or html-error, counted by kind in /stats by_chaos.
    #[arg(long, default_value_t = 0.0)]
    chaos: f64,
    /// Share of successful chat answers, 0 to 1, that reply "I am not
    /// sure." instead of echoing; each request draws on its own (seeded).
    #[arg(long, default_value_t = 0.0)]
    wrong_rate: f64,
    /// Require this API key.
    #[arg(long)]
    api_key: Option<String>,
    /// JSON file with an array of scripted rules.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Reply with this text instead of echoing the last user message.
    #[arg(long)]
    reply_text: Option<String>,
    /// Default embedding dimensions.
    #[arg(long, default_value_t = 256)]
    dimensions: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AccountingArg {
    MaxTokens,
    Usage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EnforcementArg {
    TokenBucket,
    SlidingWindow,
    FixedWindow,
    Daily,
}

fn enforcement(args: &Args) -> Result<Enforcement, String> {
    match (args.enforcement, args.window_secs) {
        (EnforcementArg::SlidingWindow, secs) => Ok(Enforcement::SlidingWindow {
            secs: secs.unwrap_or(1),
        }),
        (_, Some(_)) => Err("--window-secs applies only to --enforcement sliding-window".into()),
        (EnforcementArg::TokenBucket, None) => Ok(Enforcement::TokenBucket),
        (EnforcementArg::FixedWindow, None) => Ok(Enforcement::FixedWindow),
        (EnforcementArg::Daily, None) => Ok(Enforcement::Daily),
    }
}

fn parse_host(host: &str) -> Result<IpAddr, String> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    host.parse()
        .map_err(|e| format!("{e}: expected an IP address or localhost"))
}

fn config(args: &Args) -> Result<Config, String> {
    if !args.host.is_loopback() && !args.allow_remote {
        return Err(format!(
            "--host {} is not a loopback address; add --allow-remote to bind it",
            args.host
        ));
    }
    let rules = match &args.rules {
        Some(path) => Rule::load_file(path).map_err(|e| format!("--rules: {e}"))?,
        None => Vec::new(),
    };
    Ok(Config {
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        seed: args.seed,
        rpm: args.rpm,
        tpm: args.tpm,
        burst_requests: args.burst_requests,
        burst_tokens: args.burst_tokens,
        enforcement: enforcement(args)?,
        rpd: args.rpd,
        itpm: args.itpm,
        otpm: args.otpm,
        token_accounting: match args.token_accounting {
            AccountingArg::MaxTokens => TokenAccounting::MaxTokens,
            AccountingArg::Usage => TokenAccounting::Usage,
        },
        headers_window: args.headers_window,
        start_time: None,
        error_rate: args.error_rate,
        chaos: args.chaos,
        wrong_rate: args.wrong_rate,
        api_key: args.api_key.clone(),
        rules,
        reply_text: args.reply_text.clone(),
        dimensions: args.dimensions,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = match config(&args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("mock-provider: {message}");
            return ExitCode::from(2);
        }
    };
    let server = match mock_provider::start_on(config, SocketAddr::new(args.host, args.port)).await
    {
        Ok(server) => server,
        Err(e) => {
            eprintln!("mock-provider: {e}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    // Scripts wait for this line, so it must leave the buffer at once.
    if writeln!(stdout, "listening on {}", server.url())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return ExitCode::from(2);
    }
    drop(stdout);
    std::future::pending().await
}
