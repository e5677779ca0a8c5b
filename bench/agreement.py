#!/usr/bin/env python3
"""Per-case pass/fail of promptfoo and of ai-evals on the same suite.

    agreement.py promptfoo PF_OUTPUT.json          > promptfoo.cases
    agreement.py ai-evals  REPORT_DIR/junit.xml    > ai-evals.cases
    agreement.py compare   promptfoo.cases ai-evals.cases

A case is `test=T prompt=P provider=Q` and `pass` or `fail`: P and Q
number the prompts and providers in the order each first appears in the
tool's results, which is the config's order in both tools. T is the test's
description when every test has one (ai-evals runs inline tests before
dataset files, promptfoo in the order listed), else its number in the same
way.
`compare` prints one line per case and a summary, and exits 1 when the two
disagree on any case or do not hold the same cases.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET


class Numbering:
    """Numbers values in the order they first appear."""

    def __init__(self):
        self.seen = {}

    def __call__(self, value):
        return self.seen.setdefault(value, len(self.seen))


def line(test, prompt, provider, passed):
    return f"test={test} prompt={prompt} provider={provider} {'pass' if passed else 'fail'}"


def by_description(rows):
    """Names each row's test by its description when all have one."""
    if all(description for _, description, *_ in rows):
        return sorted(line(d, *rest) for _, d, *rest in rows)
    return [line(t, *rest) for t, _, *rest in sorted(rows)]


def promptfoo(path):
    data = json.load(open(path, encoding="utf-8"))["results"]
    prompts, providers = Numbering(), Numbering()
    combos = []
    for p in data["prompts"]:
        combos.append((prompts(p.get("label") or p["raw"]), providers(p["provider"])))
    rows = [
        (
            r["testIdx"],
            (r.get("testCase") or {}).get("description"),
            *combos[r["promptIdx"]],
            bool(r["success"]),
        )
        for r in data["results"]
    ]
    return by_description(rows)


def ai_evals(path):
    tests, prompts, providers = Numbering(), Numbering(), Numbering()
    rows = []
    for case in ET.parse(path).getroot().iter("testcase"):
        name = case.get("name")
        match = re.fullmatch(r"(.*) \[(.*) @ (.*)\]", name)
        case_id, prompt, provider = match.groups() if match else (name, "", "")
        failed = case.find("failure") is not None or case.find("error") is not None
        description = next(
            (p.get("value") for p in case.iter("property") if p.get("name") == "description"),
            None,
        )
        rows.append((tests(case_id), description, prompts(prompt), providers(provider), not failed))
    return by_description(rows)


def compare(theirs_path, ours_path):
    theirs = dict(l.rsplit(" ", 1) for l in open(theirs_path).read().split("\n") if l)
    ours = dict(l.rsplit(" ", 1) for l in open(ours_path).read().split("\n") if l)
    agree = 0
    for case in sorted(set(theirs) | set(ours)):
        a, b = theirs.get(case, "missing"), ours.get(case, "missing")
        agree += a == b
        print(f"{case:36} promptfoo {a:7} ai-evals {b:7} {'agree' if a == b else 'DISAGREE'}")
    total = len(set(theirs) | set(ours))
    print(f"{agree} of {total} cases agree")
    return 0 if agree == total else 1


if __name__ == "__main__":
    what, *paths = sys.argv[1:]
    if what == "compare":
        sys.exit(compare(*paths))
    print("\n".join({"promptfoo": promptfoo, "ai-evals": ai_evals}[what](*paths)))
