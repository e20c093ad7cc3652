"""Seconds from typing ``make run`` to the first answered message, and our training time.

Startup: runs ``make run`` itself (so make's up-to-date checks, the migrations and the three
servers are all counted) on a fresh SQLite file, then sends a REST message in demo mode every
half second until one is answered. ``make run`` listens on its fixed ports (5005, 5055,
8000), so they must be free; it is stopped with its whole process group afterwards. Whether
make had to train first is recorded, since that would dominate the figure.

Training: ``rasa train`` of our assistant from scratch (empty training cache, new output
folder), exactly as ``make train`` runs it, timed.

    .venv/bin/python bench/startup.py --out bench/results/startup.json
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import requests
import results_file

from bot import settings

PORTS = (5005, 5055, 8000)
ROOT = settings.PROJECT_ROOT


def port_busy(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def time_make_run(workdir: Path, timeout: float = 600) -> dict[str, object]:
    busy = [port for port in PORTS if port_busy(port)]
    if busy:
        return {"error": f"ports in use: {busy}"}
    dry_run = subprocess.run(
        ["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{workdir / 'run.db'}"}
    started = time.perf_counter()
    make = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    answered = None
    try:
        while time.perf_counter() - started < timeout and make.poll() is None:
            try:
                response = requests.post(
                    "http://127.0.0.1:5005/webhooks/rest/webhook",
                    json={"sender": "bench-startup", "message": "hi"},
                    timeout=30,
                )
                if response.status_code == 200 and response.json():
                    answered = time.perf_counter() - started
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
    finally:
        os.killpg(make.pid, signal.SIGINT)
        try:
            make.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait()
    return {
        "command": "make run",
        "seconds_to_first_answer": answered and round(answered, 1),
        "model_was_current": "rasa train" not in dry_run,
        "error": None if answered else "no answer",
    }


def time_training(workdir: Path) -> dict[str, object]:
    env = {**os.environ, "RASA_CACHE_DIRECTORY": str(workdir / "cache")}
    command = [str(ROOT / ".venv-rasa" / "bin" / "rasa"), "train", "--out", str(workdir / "m")]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, timeout=3600)
    return {
        "command": "rasa train (as `make train`), empty cache",
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/startup.json"))
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="companion-bench-startup-") as tmp:
        workdir = Path(tmp)
        load_before = [round(x, 2) for x in os.getloadavg()]
        run = time_make_run(workdir)
        training = None if args.skip_training else time_training(workdir)
    result = {
        "what": "make run until the first REST answer; our training from scratch",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "make_run": run,
        "training": training,
    }
    results_file.write(args.out, result)
    return 0 if run.get("error") is None else 1


if __name__ == "__main__":
    raise SystemExit(main())
