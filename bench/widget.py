"""How heavy the chat widget is and how soon a patient sees it answer, in a real browser.

Starts the web app, the Rasa server and the action server (trained model, fresh SQLite file)
and drives Debian's Chromium with Playwright, each load in a fresh profile (nothing cached),
as a patient opening the demo clinic's page:

- ``widget.js`` size as served: bytes, and bytes with the web app's gzip;
- page load → launcher button shown (the widget has loaded and started);
- page load → greeting visible, clicking the launcher as soon as it appears (the greeting
  needs the clinic's configuration from the web app);
- first message → first reply over socket.io (an anonymous demo session: token, connect,
  Rasa's NLU and dialogue).

Times are ``performance.now()`` in the page, i.e. from the start of navigation.

    .venv/bin/python bench/widget.py --loads 10 --out bench/results/widget.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from playwright.sync_api import expect, sync_playwright

from bot import runner, settings
from bot.storage import db

# The browser tests' launch settings and stack environment, shared rather than copied.
sys.path.insert(0, str(settings.PROJECT_ROOT / "tests" / "support"))
from browser_support import CHROMIUM, CHROMIUM_ARGS, stack_env  # noqa: E402

MODEL = settings.PROJECT_ROOT / "models" / "current.tar.gz"
GREETING_START = "Hi, I'm here to help you reflect"
FIRST_MESSAGE = "quick check-in"
FIRST_REPLY = "How is your mood right now"


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "min": round(ordered[0], 1),
        "max": round(ordered[-1], 1),
    }


def widget_size(web_url: str) -> dict[str, int]:
    plain = requests.get(
        f"{web_url}/widget.js", headers={"Accept-Encoding": "identity"}, timeout=10
    )
    plain.raise_for_status()
    served = requests.get(
        f"{web_url}/widget.js", headers={"Accept-Encoding": "gzip"}, timeout=10, stream=True
    )
    compressed = served.raw.read()
    assert served.headers.get("content-encoding") == "gzip", "the web app did not gzip widget.js"
    assert gzip.decompress(compressed) == plain.content
    return {"bytes": len(plain.content), "gzip_bytes": len(compressed)}


def measure(web_url: str, loads: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"launcher_ms": [], "greeting_ms": [], "first_reply_ms": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        for _ in range(loads):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(f"{web_url}/", wait_until="commit")
            launcher = page.get_by_role("button", name="Chat with Demo clinic")
            launcher.wait_for(state="visible", timeout=30_000)
            times["launcher_ms"].append(page.evaluate("performance.now()"))
            launcher.click()
            log = page.get_by_role("log")
            expect(log.get_by_text(GREETING_START)).to_be_visible(timeout=30_000)
            times["greeting_ms"].append(page.evaluate("performance.now()"))
            message = page.get_by_label("Message", exact=True)
            message.fill(FIRST_MESSAGE)
            sent = page.evaluate("performance.now()")
            message.press("Enter")
            expect(log.get_by_text(FIRST_REPLY)).to_be_visible(timeout=60_000)
            times["first_reply_ms"].append(page.evaluate("performance.now()") - sent)
            context.close()
        browser.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path("bench/results/widget.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        web_port, rasa_port, action_port = (runner.free_port() for _ in range(3))
        env = stack_env(Path(workdir), web_port=web_port, rasa_port=rasa_port)
        database_url = env["DATABASE_URL"]
        os.environ.update(env)
        db.upgrade(database_url)
        with runner.started(
            rasa_port=rasa_port,
            action_port=action_port,
            web_port=web_port,
            model=MODEL,
            endpoints=runner.write_endpoints(Path(workdir) / "endpoints.yml", action_port),
            env=env,
        ):
            web_url = f"http://localhost:{web_port}"
            size = widget_size(web_url)
            measure(web_url, 1)  # warm-up: the Rasa server's first prediction is slow
            times = measure(web_url, args.loads)
    result = {
        "what": "chat widget: size as served, and times in Chromium from navigation start",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "loads": args.loads,
        "widget_js": size,
        **{name: summary(values) for name, values in times.items()},
        "raw": {name: [round(v, 1) for v in values] for name, values in times.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "raw"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
