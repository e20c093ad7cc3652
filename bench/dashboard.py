"""How fast the dashboard answers a therapist preparing for a session.

Serves the web app (the runner's own command) on a database filled by the tests' realistic
seed (two clinics, a patient with 12 journal entries, 5 conversations and risk flags), signs
in through the login form and times, over HTTP on loopback, each step of preparing for a
session: the patients list, the patient's page (flags, chart, journal, transcripts), a
filtered page, and the three exports. Every request is also an audit-log write.

    .venv/bin/python bench/dashboard.py --rounds 20 --out bench/results/dashboard.json
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import results_file

from bot import settings

# The app tests' seed and served-app helpers, shared rather than copied.
sys.path.insert(0, str(settings.PROJECT_ROOT / "tests" / "support"))
from servers import Browser, seeded_server  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("bench/results/dashboard.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        with seeded_server(Path(workdir), "bench-secret-" + "0" * 40) as server:
            info = server.info
            patient = f"/therapist/patients/{info.main}"
            steps = {
                "patients list": "/therapist/",
                "patient page": patient,
                "patient page, filtered": f"{patient}?kind=trigger&q=craving",
                "export CSV": f"{patient}/export.csv",
                "export JSON": f"{patient}/export.json",
                "export PDF": f"{patient}/export.pdf",
            }
            browser = Browser(server).sign_in(info.therapist)
            for path in steps.values():  # warm-up
                assert browser.get(path).status_code == 200
            times: dict[str, list[float]] = {name: [] for name in steps}
            for _ in range(args.rounds):
                for name, path in steps.items():
                    started = time.perf_counter()
                    response = browser.get(path)
                    times[name].append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (path, response.status_code)
    result = {
        "what": "dashboard response times over HTTP on loopback, ms, one therapist",
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "rounds": args.rounds,
        "steps": {
            name: {
                "p50": round(statistics.median(values), 1),
                "p95": round(percentile(values, 95), 1),
            }
            for name, values in times.items()
        },
    }
    results_file.write(args.out, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
