"""Rasa's own starter bot, as the yardstick our figures are divided by.

``rasa init --no-prompt`` scaffolds the moodbot (greet, mood_great, mood_unhappy …) in a
temporary folder and trains it there, with the same Rasa installation as ours (.venv-rasa),
so that the only difference measured is what this project adds: its pipeline, forms, crisis
detector, action server, SQL tracker store and authenticated channels. The stock bot keeps
Rasa's defaults (in-memory tracker store, no action server: its template has no custom
actions) plus Rasa's plain ``socketio`` channel next to ``rest``.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bot import runner, settings

RASA = settings.PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"

# Realistic conversations from the template's own stories (data/stories.yml) and rules.
CONVERSATIONS: list[list[str]] = [
    ["hi", "I am feeling great"],
    ["hello", "I am sad", "yes"],
    ["hey", "not good", "no"],
    ["good morning", "are you a bot?", "bye"],
]

SOCKETIO_CREDENTIALS = (
    "\nsocketio:\n  user_message_evt: user_uttered\n  bot_message_evt: bot_uttered\n"
    "  session_persistence: false\n"
)


@dataclass
class StockBot:
    project: Path
    model: Path
    init_seconds: float | None


def create(workdir: Path) -> StockBot:
    """Scaffold and train the starter bot in ``workdir``; time it (training is nearly all of it).

    Run from inside the folder so that Rasa's training cache (``.rasa/``) starts empty there.
    """
    project = workdir / "stock-bot"
    project.mkdir(parents=True)
    started = time.perf_counter()
    subprocess.run(
        [str(RASA), "init", "--no-prompt", "--init-dir", str(project)],
        cwd=project,
        check=True,
        capture_output=True,
        timeout=1200,
    )
    seconds = time.perf_counter() - started
    with (project / "credentials.yml").open("a") as credentials:
        credentials.write(SOCKETIO_CREDENTIALS)
    (model,) = (project / "models").glob("*.tar.gz")
    return StockBot(project=project, model=model, init_seconds=seconds)


def existing(project: Path) -> StockBot:
    """A starter bot made by :func:`create` before (its training time is not known)."""
    (model,) = (project / "models").glob("*.tar.gz")
    return StockBot(project=project, model=model, init_seconds=None)


def service(bot: StockBot, port: int) -> runner.Service:
    """``rasa run`` for the starter bot, as its README says, on ``port``."""
    return runner.Service(
        name="stock Rasa server",
        command=[
            str(RASA),
            "run",
            "--model",
            str(bot.model),
            "--port",
            str(port),
            "--credentials",
            str(bot.project / "credentials.yml"),
            "--endpoints",
            str(bot.project / "endpoints.yml"),
        ],
        ready_url=f"http://127.0.0.1:{port}/",
    )
