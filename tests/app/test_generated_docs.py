"""The figures in README.md and docs/benchmarks.md come from committed results, never typed by
hand: a stale table or a label that names someone's checkout fails here."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"


def _bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_the_readme_table_is_what_the_committed_results_say():
    figures = _bench("readme_figures")
    readme = (ROOT / "README.md").read_text()
    assert figures.rewritten(readme, RESULTS) == readme


def test_a_changed_result_changes_the_readme_table(tmp_path: Path):
    figures = _bench("readme_figures")
    for path in RESULTS.glob("*.json"):
        (tmp_path / path.name).write_text(path.read_text())
    evaluations = json.loads((tmp_path / "evaluations.json").read_text())
    evaluations["conversations"]["wrong_share"] = 0.0421
    (tmp_path / "evaluations.json").write_text(json.dumps(evaluations))
    table = figures.render(tmp_path)
    assert "4.2% of turns wrong" in table
    assert figures.render(tmp_path) != figures.render(RESULTS)


def test_the_benchmark_tables_are_what_the_committed_results_say():
    report = _bench("report")
    doc = (ROOT / "docs" / "benchmarks.md").read_text()
    assert report.render(RESULTS) in doc


def test_memory_labels_name_no_absolute_folder():
    report = _bench("report")
    measured_elsewhere = (
        "/srv/build/checkout/.venv-rasa/bin/python /srv/build/checkout/.venv-rasa/bin/rasa run"
    )
    assert (
        report.project_relative(measured_elsewhere)
        == ".venv-rasa/bin/python .venv-rasa/bin/rasa run"
    )
    for line in report.memory_table(json.loads((RESULTS / "load.json").read_text())):
        assert " /" not in line, line
