"""Screenshots of a built site for the README (desktop and phone widths), in headless chromium.

    python bench/site_screenshots.py SITE_DIR [--out docs] [--query cache --tag kv-cache]

SITE_DIR is what ``arxivfilter site`` wrote (e.g. after the offline demo,
``arxivfilter run --source examples/2025-12-16.jsonl && arxivfilter site``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlencode

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--profile", default="llm-inference")
    parser.add_argument("--query", default="cache")
    parser.add_argument("--tag", default="kv-cache")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    url = (args.site / args.profile / "index.html").resolve().as_uri()
    url += "?" + urlencode({"q": args.query, "tag": args.tag})
    shots = [
        ("site-desktop.png", {"width": 1100, "height": 760}, "light"),
        ("site-phone.png", {"width": 390, "height": 760}, "dark"),
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        for name, viewport, scheme in shots:
            page = browser.new_page(viewport=viewport, color_scheme=scheme)
            page.goto(url)
            page.wait_for_selector("#results article")
            page.keyboard.press("j")
            page.screenshot(path=str(args.out / name))
            page.close()
            print(args.out / name)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
