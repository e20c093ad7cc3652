"""The package's layering (docs/architecture.md): no import circle, and no import from a lower
layer to a higher one. Read from the source with ``ast``, lazy imports inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "bot"

#: Lowest first. A module belongs to the first layer one of whose prefixes it starts with.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "kernel: both environments, no database",
        (
            "bot.settings",
            "bot.encryption",
            "bot.content",
            "bot.safety",
            "bot.journal.schema",
            "bot.journal.parsing",
            "bot.journal.reply_reading",
            "bot.journal.acknowledgements",
            "bot.journal.lapse_details",
        ),
    ),
    ("storage", ("bot.storage",)),
    (
        "the application",
        (
            "bot.patient_tokens",
            "bot.patient_consent",
            "bot.patient_consent",
            "bot.clinics",
            "bot.journal",
            "bot.records",
            "bot.privacy",
        ),
    ),
    (
        "what runs it",
        (
            "bot.nlu",
            "bot.chat",
            "bot.web",
            "bot.cli",
            "bot.runner",
            "bot.action_server",
            "bot.__main__",
        ),
    ),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def layer(name: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return rank
    raise AssertionError(f"{name} is in no layer: add it to LAYERS and docs/architecture.md")


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules ``name`` imports (a package's ``__init__`` is not counted)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("bot."):
                if not (PACKAGE / Path(*target.split(".")[1:]) / "__init__.py").exists():
                    found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def test_every_module_has_a_layer():
    for name in modules():
        if name != "bot":
            layer(name)


def test_no_module_imports_a_higher_layer():
    upward = [
        f"{name} ({LAYERS[layer(name)][0]}) imports {target} ({LAYERS[layer(target)][0]})"
        for name, targets in graph().items()
        if name != "bot"
        for target in targets
        if layer(target) > layer(name)
    ]
    assert upward == []


def test_no_import_circle():
    edges = graph()
    state: dict[str, str] = {}
    circles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(edges.get(name, ())):
            if state.get(target) == "open":
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[name] = "done"

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert circles == []


def test_the_checks_see_an_upward_import_and_a_circle(tmp_path: Path):
    """The walker reads what it must: a lazy import inside a function, and relative imports."""
    known = {"bot.storage.db", "bot.journal", "bot.journal.entries", "bot.web.app"}
    source = tmp_path / "db.py"
    source.write_text("def f():\n    from bot.journal import entries\n    from ..web import app\n")
    found = imports("bot.storage.db", source, known)
    assert found == {"bot.journal.entries", "bot.web.app"}
    assert all(layer(target) > layer("bot.storage.db") for target in found)


def test_the_architecture_page_names_every_module():
    """docs/architecture.md is how a newcomer finds their way: a module it does not name is
    one they will not find. Alembic's own files (``migrations/``) are named as a folder."""
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    unnamed = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "__init__.py"
        and "migrations" not in path.parts
        and "node_modules" not in path.parts
        and f"`{path.name}`" not in page
        and str(path.relative_to(PACKAGE)) not in page
    ]
    assert unnamed == []
