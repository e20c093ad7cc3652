"""Writing a benchmark's result file: the same stamp and the same format for every script."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any


def stamp() -> dict[str, Any]:
    """When and where a result was measured, and how busy the machine was at its end."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"cores": os.cpu_count(), "platform": platform.platform()},
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def write(out: Path, result: dict[str, Any]) -> None:
    """``result`` as indented JSON in ``out`` (its folder made if missing), and on stdout."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def record(out: Path, what: str, **fields: Any) -> None:
    """Write a result that says ``what`` was measured, stamped (:func:`stamp`), with ``fields``."""
    write(out, {"what": what, **stamp(), **fields})
