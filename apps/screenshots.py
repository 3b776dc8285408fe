"""Drive the demo in a real headless browser and save a screenshot of each tab after a run:

    python -m vqct.apps.screenshots [--prior DIR_OR_HUB_ID] [--tokenizer DIR_OR_HUB_ID] --out DIR

It launches the app, then in Chromium (Debian's ``/usr/bin/chromium`` through Playwright;
``--chromium`` for another) presses Synthesize, Complete and Inspect on the examples each tab
starts with, waits for the results to appear and writes synthesis.png, completion.png and
inspect.png, plus seconds.json (the wall-clock seconds each run took in the browser).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from vqct.common.errors import UserFileNotFoundError, exit_code
from vqct.common.help_format import PlainHelpFormatter

CHROMIUM = "/usr/bin/chromium"
# tab name, button id, the element that holds the result once the run is done
RUNS = (
    ("Synthesis", "synthesize", "#synthesis-gallery img"),
    ("Completion", "complete", "#completion-gallery img"),
    ("Inspect", "inspect", "#reconstruction img"),
)


def capture(url: str, out: Path, *, chromium: str = CHROMIUM, timeout_s: float = 300) -> dict[str, float]:
    """Run each tab once at ``url`` and save ``out/<tab>.png``; returns the seconds per run."""
    from playwright.sync_api import sync_playwright

    if not Path(chromium).is_file():
        raise UserFileNotFoundError(
            f"no Chromium at {chromium}: apt-get install chromium (Debian), or pass --chromium PATH"
        )
    out.mkdir(parents=True, exist_ok=True)
    seconds = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            # Not "networkidle": the app holds a heartbeat stream open for its session state.
            page.goto(url, wait_until="load")
            page.wait_for_selector("#synthesize", state="visible", timeout=timeout_s * 1000)
            for tab, button, result in RUNS:
                page.get_by_role("tab", name=tab).click()
                started = time.perf_counter()
                page.locator(f"#{button}").click()
                page.wait_for_selector(result, state="visible", timeout=timeout_s * 1000)
                page.wait_for_function("() => [...document.images].every(image => image.complete)")
                seconds[tab.lower()] = round(time.perf_counter() - started, 2)
                page.screenshot(path=str(out / f"{tab.lower()}.png"), full_page=True)
        finally:
            browser.close()
    (out / "seconds.json").write_text(json.dumps(seconds, indent=1))
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vqct.apps.screenshots",
        description=__doc__,
        formatter_class=PlainHelpFormatter,
    )
    parser.add_argument("--prior", help="a VQCTPrior folder or Hub id (default: the quickstart's)")
    parser.add_argument("--tokenizer", help="the Inspect tab's tokenizer (default: the quickstart's, else the prior's)")
    parser.add_argument("--out", required=True, help="output folder for the PNG of each tab and seconds.json")
    parser.add_argument("--chromium", default=CHROMIUM, help=f"the Chromium binary (default {CHROMIUM})")
    args = parser.parse_args(argv)
    return exit_code(lambda: run(args))


def run(args: argparse.Namespace) -> int:
    from .demo import free_port, launch, resolve_models

    prior, tokenizer = resolve_models(args.prior, args.tokenizer)
    port = free_port()
    app = launch(prior, tokenizer, port=port, block=False)
    try:
        seconds = capture(f"http://127.0.0.1:{port}/", Path(args.out), chromium=args.chromium)
    finally:
        app.close()
    print(
        f"wrote {', '.join(f'{tab}.png' for tab in seconds)} to {args.out}; seconds per run in the browser: {seconds}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
