#!/usr/bin/env python3
"""A provider that is not ours: an independent, stdlib-only HTTP server for
checking ai-evals' pacing against a server this repository's mock did not
shape. It counts tokens its own way (words and punctuation, 4/3 a word,
plus 4 a message), answers with its own replies of varied length, and
enforces and reports its limits in one of three dialects:

  openai     x-ratelimit-{limit,remaining,reset}-{requests,tokens}, resets
             as Go durations ("6ms", "1.2s", "1m26.4s"), retry-after-ms
  groq       the same names, the requests trio per DAY ("2m59.56s"
             resets), tokens per minute
  anthropic  anthropic-ratelimit-{requests,tokens,output-tokens}-*, resets
             as RFC 3339 timestamps rounded up to the second

Limits: --rpm/--tpm (per minute), --rpd (groq), enforced as --enforce
sliding:SECS (any window of SECS seconds holds SECS/60 of the minute),
fixed-minute (the minute's figure back at each wall-clock minute) or
bucket:SECS (a bucket holding SECS seconds, refilled continuously).
Headers state the window's figure (--headers window) or the minute's
(--headers minute: the limit per minute, remaining that limit less what
the enforcement holds now).

--accounting max-tokens counts a request's prompt plus its max_tokens (or
256 without one) when admitted; --accounting usage admits while the
prompt fits and counts prompt plus completion when the answer is done.

GET /stats: requests, rate_limited, answers_ok, prompt_tokens,
completion_tokens, charged_tokens.

  bench/other_provider.py --style openai --tpm 60000 --enforce sliding:1 \
      --headers window --accounting usage --latency-ms 100
  # prints "listening on http://127.0.0.1:PORT" once it listens
"""

import argparse
import collections
import datetime
import hashlib
import json
import math
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = ("the quick answer is that a model says something useful about it and "
         "then stops when it has said enough for this question").split()


def count_tokens(text):
    """Its own tokenizer: words and punctuation marks, 4/3 of a token each."""
    return math.ceil(len(re.findall(r"\w+|[^\w\s]", text)) * 4 / 3)


def prompt_tokens(messages):
    return sum(count_tokens(m) + 4 for m in messages)


def reply_for(prompt, max_tokens):
    """A reply of 2 to 40 words drawn from the prompt's hash, cut at max_tokens."""
    h = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    n = 2 + h % 39
    words = [WORDS[(h >> (i % 200)) % len(WORDS)] for i in range(n)]
    while max_tokens is not None and words and count_tokens(" ".join(words)) > max_tokens:
        words.pop()
    text = " ".join(words)
    return text, count_tokens(text)


class Meter:
    """One limit: `per_minute` units enforced as a sliding window, a fixed
    wall-clock minute or a bucket; figures at window or minute scale."""

    def __init__(self, per_minute, enforce, per_day=False):
        self.per_minute = per_minute
        self.kind, _, secs = enforce.partition(":")
        self.secs = 86400.0 if per_day else (60.0 if self.kind == "fixed-minute" else float(secs or 1))
        self.period = 86400.0 if per_day else 60.0
        self.capacity = per_minute * self.secs / self.period
        self.log = collections.deque()
        self.level, self.updated = self.capacity, time.monotonic()
        self.minute, self.used = None, 0.0

    def held(self, now):
        """What the enforcement holds now."""
        if self.kind == "sliding":
            while self.log and self.log[0][0] + self.secs <= now:
                self.log.popleft()
            return sum(u for _, u in self.log)
        if self.kind == "fixed-minute":
            minute = math.floor(time.time() / 60)
            if minute != self.minute:
                self.minute, self.used = minute, 0.0
            return self.used
        self.level = min(self.capacity, self.level + (now - self.updated) * self.capacity / self.secs)
        self.updated = now
        return self.capacity - self.level

    def wait(self, need, now):
        held = self.held(now)
        if held + need <= self.capacity or held == 0:
            return 0.0
        if self.kind == "sliding":
            freed = 0.0
            for t, u in self.log:
                freed += u
                if held - freed + need <= self.capacity:
                    return t + self.secs - now
            return self.secs
        if self.kind == "fixed-minute":
            return 60 - time.time() % 60
        return (held + need - self.capacity) * self.secs / self.capacity

    def charge(self, units, now):
        self.held(now)
        if self.kind == "sliding":
            self.log.append((now, units))
        elif self.kind == "fixed-minute":
            self.used += units
        else:
            self.level -= units

    def figures(self, now, scale):
        """(limit, remaining, reset seconds) at window or minute scale."""
        held = self.held(now)
        if self.kind == "sliding":
            reset = self.log[-1][0] + self.secs - now if self.log else 0.0
        elif self.kind == "fixed-minute":
            reset = 60 - time.time() % 60 if held > 0 else 0.0
        else:
            reset = max(0.0, held) * self.secs / self.capacity
        limit = self.capacity if scale == "window" and self.period == 60.0 else self.per_minute
        return int(limit), max(0, math.floor(limit - held)), reset


def go_duration(s):
    """Go's duration format, as OpenAI and Groq write resets."""
    ms = math.ceil(s * 1000)
    if ms < 1000:
        return f"{ms}ms"
    minutes, rest = divmod(ms, 60000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def stamp(s):
    """An RFC 3339 time `s` seconds from now, rounded up to the second."""
    at = math.ceil(time.time() + s)
    return datetime.datetime.fromtimestamp(at, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Server:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.requests = Meter(args.rpd, "bucket", per_day=True) if args.rpd else (
            Meter(args.rpm, args.enforce) if args.rpm else None)
        self.tokens = Meter(args.tpm, args.enforce) if args.tpm else None
        self.stats = collections.Counter(dict.fromkeys(
            ["requests", "rate_limited", "answers_ok", "prompt_tokens", "completion_tokens", "charged_tokens"], 0))

    def headers(self, now):
        out = {}
        style, scale = self.args.style, self.args.headers
        for name, meter in (("requests", self.requests), ("tokens", self.tokens)):
            if meter is None:
                continue
            limit, remaining, reset = meter.figures(now, scale)
            if style == "anthropic":
                prefix = f"anthropic-ratelimit-{name}"
                out[f"{prefix}-limit"] = limit
                out[f"{prefix}-remaining"] = remaining
                out[f"{prefix}-reset"] = stamp(reset)
            else:
                out[f"x-ratelimit-limit-{name}"] = limit
                out[f"x-ratelimit-remaining-{name}"] = remaining
                out[f"x-ratelimit-reset-{name}"] = go_duration(reset)
        return out

    def admit(self, prompt, max_tokens):
        """Charges what this server counts at admission, or returns the wait."""
        usage = self.args.accounting == "usage"
        need_tokens = prompt if usage else prompt + (max_tokens or 256)
        with self.lock:
            now = time.monotonic()
            self.stats["requests"] += 1
            wait = max([m.wait(n, now) for m, n in ((self.requests, 1), (self.tokens, need_tokens)) if m] or [0.0])
            if wait > 0:
                self.stats["rate_limited"] += 1
                return wait, self.headers(now)
            if self.requests:
                self.requests.charge(1, now)
            if self.tokens and not usage:
                self.tokens.charge(need_tokens, now)
            if not usage:
                self.stats["charged_tokens"] += need_tokens
            return 0.0, self.headers(now)

    def settle(self, prompt, completion):
        with self.lock:
            now = time.monotonic()
            self.stats["answers_ok"] += 1
            self.stats["prompt_tokens"] += prompt
            self.stats["completion_tokens"] += completion
            if self.args.accounting == "usage":
                self.stats["charged_tokens"] += prompt + completion
                if self.tokens:
                    self.tokens.charge(prompt + completion, now)
            return self.headers(now)


def handler(server):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send(self, status, body, headers):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, str(v))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path == "/stats":
                with server.lock:
                    self.send(200, dict(server.stats), {})
            else:
                self.send(404, {"error": "not found"}, {})

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
            anthropic = self.path.endswith("/messages")
            messages = [m.get("content", "") if isinstance(m.get("content"), str) else
                        " ".join(b.get("text", "") for b in m.get("content", []))
                        for m in body.get("messages", [])]
            if anthropic and body.get("system"):
                messages.insert(0, body["system"])
            max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
            prompt = prompt_tokens(messages)
            wait, headers = server.admit(prompt, max_tokens)
            if wait > 0:
                headers["retry-after"] = math.ceil(wait)
                if not anthropic:
                    headers["retry-after-ms"] = math.ceil(wait * 1000)
                error = {"type": "rate_limit_error", "message": "rate limited"}
                self.send(429, {"type": "error", "error": error} if anthropic else {"error": error}, headers)
                return
            time.sleep(server.args.latency_ms / 1000)
            text, completion = reply_for("\n".join(messages), max_tokens)
            headers = server.settle(prompt, completion)
            if anthropic:
                self.send(200, {"id": "msg_other", "type": "message", "role": "assistant",
                                "model": body.get("model"), "content": [{"type": "text", "text": text}],
                                "stop_reason": "end_turn", "stop_sequence": None,
                                "usage": {"input_tokens": prompt, "output_tokens": completion}}, headers)
            else:
                self.send(200, {"id": "chatcmpl-other", "object": "chat.completion", "created": int(time.time()),
                                "model": body.get("model"),
                                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                             "finish_reason": "stop"}],
                                "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                          "total_tokens": prompt + completion}}, headers)

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--style", choices=["openai", "groq", "anthropic"], default="openai")
    p.add_argument("--rpm", type=float)
    p.add_argument("--rpd", type=float)
    p.add_argument("--tpm", type=float)
    p.add_argument("--enforce", default="sliding:1")
    p.add_argument("--headers", choices=["window", "minute"], default="minute")
    p.add_argument("--accounting", choices=["max-tokens", "usage"], default="max-tokens")
    p.add_argument("--latency-ms", type=float, default=100)
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    if args.style == "groq" and args.rpm:
        p.error("groq style limits requests per day: use --rpd")
    httpd = ThreadingHTTPServer(("127.0.0.1", args.port), handler(Server(args)))
    httpd.daemon_threads = True
    print(f"listening on http://127.0.0.1:{httpd.server_address[1]}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
