"""`mpl eval`'s JSON and HTML reports: the schema, escaping of untrusted outputs, and the page
in a real headless Chromium (Debian's `chromium`): it loads with no console error and no
network request, and shows every arm and every case."""

from __future__ import annotations

import json
import os
import re
import shutil
import typing as t
from html.parser import HTMLParser
from pathlib import Path

import eval_sample
import pytest

from mpl.eval.report import render_html, write_html, write_json


def test_json_report_has_the_documented_fields(tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    write_json(out, eval_sample.report())
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["version"] == 1
    assert data["server"] == {"host": "http://127.0.0.1:11434", "version": "0.12.3"}
    arm_keys = {"name", "model", "profile", "runs", "errors", "graded", "passed", "pass_rate", "ci95", "cases_scored",
                "mean_score", "score_ci95", "latency_p50", "latency_p95", "tokens_per_s"}
    assert all(set(arm) == arm_keys for arm in data["arms"])
    assert set(data["comparisons"][0]) == {"a", "b", "cases", "wins", "losses", "ties", "p_value", "test", "significant",
                                           "better", "summary"}
    assert len(data["results"]) == 20 and data["results"][0]["options"] == {"temperature": 0.2, "seed": 42}
    assert data["options"] == eval_sample.OPTIONS and [c["id"] for c in data["cases"]] == ["c1", "c2", "c3", "c4", "c5"]


def test_a_report_that_cannot_be_written_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "report.html").mkdir()
    with pytest.raises(OSError):
        write_html(tmp_path / "report.html", eval_sample.report())
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


class _Page(HTMLParser):
    """What a page holds: its tags with their attributes, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_markup_in_an_output_is_shown_as_text_never_run() -> None:
    html = render_html(eval_sample.report())
    page = _Page(html)
    assert "<script" not in html.lower()  # the page has no script of its own, so any would be an injection
    assert not [tag for tag, _ in page.tags if tag in {"script", "b", "iframe", "object", "embed"}]
    assert eval_sample.SCRIPT in "".join(page.text)  # shown, as text
    assert "Say <b>hello</b> & goodbye." in "".join(page.text)


def test_the_page_loads_nothing_from_anywhere() -> None:
    html = render_html(eval_sample.report())
    page = _Page(html)
    assert not [(tag, attrs) for tag, attrs in page.tags if {"src", "href", "srcset", "action", "data"} & set(attrs)]
    assert not re.search(r"url\(|@import|https?://(?!127\.0\.0\.1:11434)", html)  # the server's address is text
    [policy] = [attrs["content"] for tag, attrs in page.tags if attrs.get("http-equiv") == "Content-Security-Policy"]
    assert policy is not None and policy.startswith("default-src 'none';") and "script-src" not in policy


def test_long_outputs_are_collapsed_and_short_ones_shown() -> None:
    html = render_html(eval_sample.report())
    assert re.search(r"<details class=\"output\"><summary>output \(1270 characters\)</summary><pre>line 0:", html)
    assert '<pre class="output">base answers c1 (repeat 0)</pre>' in html


def test_every_case_is_shown_side_by_side_across_arms() -> None:
    page = _Page(render_html(eval_sample.report()))
    articles = [attrs["data-case"] for tag, attrs in page.tags if tag == "article"]
    assert articles == ["c1", "c2", "c3", "c4", "c5"]
    cells = [attrs["data-arm"] for tag, attrs in page.tags if tag == "td" and "data-arm" in attrs]
    assert cells == ["base", "tuned"] * 5
    text = "".join(page.text)
    assert text.count("✗ contains: `IndexError` not found") == 8 and text.count("✓ contains") == 7
    assert "model 'meton-tuned:latest' stopped mid-stream" in text


# -- in a real browser --------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def _need(what: str, present: bool) -> None:
    """Skip without `what`, except in CI (`CI` set), where the test must run."""
    if present:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing; .ci/run installs it")
    pytest.skip(f"{what} is not installed")


def _browser_page(tmp_path: Path) -> t.Iterator[t.Any]:
    _need(CHROMIUM, shutil.which(CHROMIUM) is not None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright (the test extra)", False)
    with sync_playwright() as driver:
        # a persistent context on a new empty profile folder, with the system browser: none is downloaded
        context = driver.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def browser(tmp_path: Path) -> t.Iterator[t.Any]:
    yield from _browser_page(tmp_path)


def test_the_report_opens_in_headless_chromium(tmp_path: Path, browser: t.Any) -> None:
    report = eval_sample.report()
    path = tmp_path / "report.html"
    write_html(path, report)
    problems: list[str] = []
    requests: list[str] = []
    browser.on("request", lambda request: requests.append(request.url))
    page = browser.new_page()
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type in {"error", "warning"} else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_load_state("networkidle")

    assert problems == []
    assert requests == [path.as_uri()]  # the page itself, nothing else
    assert page.evaluate("window.pwned") is None and page.title() == "mpl eval: base vs tuned"
    for arm in ("base", "tuned"):
        assert page.locator(f'#summary tr.arm[data-arm="{arm}"]').is_visible()
    assert page.locator("#chart .chart-arm").count() == 2 and page.locator("#chart").is_visible()
    for case in eval_sample.CASES:
        article = page.locator(f'article[data-case="{case["id"]}"]')
        assert article.locator("h3").is_visible() and article.locator("h3").inner_text().startswith(case["id"])
        for arm in ("base", "tuned"):
            assert article.locator(f'td[data-arm="{arm}"]').is_visible()
    assert page.get_by_text(eval_sample.SCRIPT, exact=True).first.is_visible()  # the injected markup, shown as text
    assert "no significant difference" in page.locator("#comparisons").inner_text()
    collapsed = page.locator("details.output").first
    assert not collapsed.locator("pre").is_visible()
    collapsed.locator("summary").click()
    assert collapsed.locator("pre").is_visible()


def _documented_fields(heading: str) -> set[str]:
    from helpers import ROOT

    text = (ROOT / "docs" / "eval.md").read_text(encoding="utf-8")
    table = text[text.index(heading):].split("\n\n")[1]
    names = [re.findall(r"`(\w+)`", row.split("|")[1]) for row in table.splitlines()[2:]]
    return {name for row in names for name in row}


def test_the_json_schema_in_the_docs_names_every_field() -> None:
    report = eval_sample.report()
    assert _documented_fields("Each arm:") == set(report["arms"][0])
    assert _documented_fields("Each comparison") == set(report["comparisons"][0])
    assert _documented_fields("Each result") == set(report["results"][0])


def test_a_report_of_one_arm_without_assertions_renders() -> None:
    arms = [{"name": "solo", "model": "m", "profile": None}]
    runs = [{"case": "free", "arm": "solo", "repeat": 0, "task": None, "options": {}, "output": "hi", "passed": None,
             "score": None, "similarity": None, "assertions": [], "latency_s": None, "tokens_per_s": None,
             "eval_count": None, "error": None}]
    from mpl.eval.stats import summarize

    report = {"server": {"host": "h", "version": "0.12.3"}, **summarize(arms, runs), "cases": [], "results": runs,
              "options": {"repeat": 1, "seed": None, "concurrency": 1, "timeout": None}}
    text = "".join(_Page(render_html(report)).text)
    assert "no assertions" in text and "One arm: nothing to compare." in text and "free" in text
    assert "by task" in text  # a report without `profiles` among its options: routed, as before it was recorded
    report["options"]["profiles"] = None  # no profile source: the arm sent the seed alone
    text = "".join(_Page(render_html(report)).text)
    assert "by task" not in text and "<td>none</td>" in render_html(report)


def test_the_report_of_a_run_against_the_server_opens_in_headless_chromium(tmp_path: Path, browser: t.Any) -> None:
    """The report `mpl eval --report` writes for the first "done when" run (two arms on different models and
    profiles routed by task, two repeats): it loads with no console message and no request, and shows both
    arms and every case, each with both arms' runs."""
    from fake_ollama import FakeOllama
    from test_eval import HAND_CASES, evaluate

    with FakeOllama() as fake:
        for model in ("m1", "m2"):
            fake.add_model(model)
        code, _, err, doc = evaluate(tmp_path, "--arm", "base=m1", "--arm", "tuned=m2@creative", "--repeat", "2",
                                     "--host", fake.url, "--report", "report.html", cases=HAND_CASES)
    assert code == 0 and doc is not None, err
    path = tmp_path / "report.html"
    problems: list[str] = []
    requests: list[str] = []
    browser.on("request", lambda request: requests.append(request.url))
    page = browser.new_page()
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_load_state("networkidle")
    assert problems == [] and requests == [path.as_uri()]
    for arm, profile in (("base", "by task"), ("tuned", "creative")):
        row = page.locator(f'#summary tr.arm[data-arm="{arm}"]')
        assert row.is_visible() and row.locator("td").nth(2).inner_text() == profile
    assert page.locator("#chart .chart-arm").count() == 2
    ids = [case["id"] for case in doc["cases"]]
    assert ids == ["k1", "k2", "k3", "d1", "d2", "n1", "n2"]
    assert page.locator("article[data-case]").count() == len(ids)
    for case in ids:
        article = page.locator(f'article[data-case="{case}"]')
        assert article.is_visible() and article.locator("h3").inner_text().startswith(case)
        for arm in ("base", "tuned"):
            cell = article.locator(f'td[data-arm="{arm}"]')
            assert cell.is_visible() and cell.inner_text().count("contains") == 2, cell.inner_text()  # both repeats' verdicts
    assert doc["comparisons"][0]["summary"] in " ".join(page.locator("#comparisons").inner_text().split())
