"""One patient's record as files: CSV, JSON and a PDF summary.

The command line (``python -m bot export``) and the therapist dashboard write the same CSV
and JSON, so a clinic gets identical files whichever way it asks. Patient text is kept
verbatim: the only change is the apostrophe that stops a spreadsheet from running a cell
as a formula (OWASP "CSV injection"), because an export is opened by staff in Excel.

The PDF is rendered by WeasyPrint from ``templates/therapist/report.html`` with Jinja's
autoescaping, the same way the dashboard renders its pages; WeasyPrint is imported only
when a PDF is made, so the command line stays fast.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from bot.journal.schema import FIELD_KEYS, URGE_SURFING_KEYS

if TYPE_CHECKING:
    from bot.records.views import PatientRecord

__all__ = [
    "CSV_BASE_COLUMNS",
    "FLAG_CSV_COLUMNS",
    "LIST_SEPARATOR",
    "csv_bytes",
    "flags_csv_bytes",
    "flatten_fields",
    "json_bytes",
    "neutralise_formula",
    "pdf_bytes",
    "write_export_csv",
    "write_export_json",
    "write_flags_csv",
]

#: Base CSV columns, before one column per (flattened) journal field.
CSV_BASE_COLUMNS: tuple[str, ...] = (
    "number",
    "kind",
    "status",
    "created_at",
    "session_date",
    "mood",
    "craving",
)
#: The risk-flags CSV: one row per flag, as the JSON export's ``risk_flags`` holds it.
FLAG_CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "level",
    "category",
    "source",
    "message",
    "message_count",
    "last_message_at",
    "latest_messages",
    "acknowledged_at",
    "acknowledged_by",
    # What was done when it was acknowledged (added after the columns above, which keep
    # their order for the spreadsheets and scripts that read them).
    "action",
    "action_note",
    "follow_up",
)
LIST_SEPARATOR = "; "
# A cell starting with one of these is run as a formula by spreadsheet programs
# (OWASP "CSV injection"); a leading apostrophe makes it plain text again.
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "web" / "templates"
REPORT_TEMPLATE = "therapist/report.html"


# ----------------------------------------------------------------------------- CSV


def neutralise_formula(cell: str) -> str:
    """Prefix ``'`` to text a spreadsheet would evaluate; anything else is returned as is."""
    if cell.startswith(_FORMULA_PREFIXES):
        return "'" + cell
    return cell


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _cell_text(value: Any) -> str:
    if isinstance(value, list):
        return LIST_SEPARATOR.join(_scalar_text(item) for item in value)
    return _scalar_text(value)


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}", inner, out)
    else:
        out[prefix] = _cell_text(value)


def flatten_fields(fields: dict[str, Any]) -> dict[str, str]:
    """One text cell per field: lists joined by ``"; "``, nested dicts as ``key.sub``."""
    out: dict[str, str] = {}
    for key, value in fields.items():
        _flatten(key, value, out)
    return out


def _known_field_columns() -> list[str]:
    columns: list[str] = []
    for keys in FIELD_KEYS.values():
        for key in keys:
            if key == "urge_surfing":
                columns.extend(f"urge_surfing.{sub}" for sub in URGE_SURFING_KEYS)
            elif key not in columns:
                columns.append(key)
    return columns


def _field_columns(rows: Iterable[dict[str, str]]) -> list[str]:
    """Known fields in question order, then any others in order of first appearance."""
    present: dict[str, None] = {}
    for row in rows:
        present.update(dict.fromkeys(row))
    known = [column for column in _known_field_columns() if column in present]
    return known + [column for column in present if column not in known]


def write_export_csv(export: dict[str, Any], stream: IO[str]) -> None:
    """Write one CSV row per journal entry; patient text is kept verbatim apart from
    the apostrophe that defuses spreadsheet formulas."""
    entries: list[dict[str, Any]] = export["entries"]
    flattened = [flatten_fields(entry["fields"]) for entry in entries]
    field_columns = _field_columns(flattened)
    writer = csv.writer(stream)
    writer.writerow([neutralise_formula(c) for c in (*CSV_BASE_COLUMNS, *field_columns)])
    for entry, fields in zip(entries, flattened, strict=True):
        base = [_scalar_text(entry[column]) for column in CSV_BASE_COLUMNS]
        extra = [fields.get(column, "") for column in field_columns]
        writer.writerow([neutralise_formula(cell) for cell in (*base, *extra)])


#: Between two of a flag's latest messages in their CSV cell.
MESSAGE_SEPARATOR = "\n"


def _flag_cell(flag: dict[str, Any], column: str) -> str:
    if column == "latest_messages":
        return MESSAGE_SEPARATOR.join(str(m.get("text", "")) for m in flag.get(column) or ())
    return _scalar_text(flag.get(column))


def write_flags_csv(export: dict[str, Any], stream: IO[str]) -> None:
    """Write one CSV row per risk flag, newest first as exported, with its level (urgent,
    elevated, info) and how many messages it stands for; the messages are patient text,
    defused like the journal's (the latest ones one per line in their cell), and so is the
    note staff wrote when acknowledging it. Undone acknowledgements are in the JSON only."""
    writer = csv.writer(stream)
    writer.writerow(FLAG_CSV_COLUMNS)
    for flag in export["risk_flags"]:
        writer.writerow([neutralise_formula(_flag_cell(flag, c)) for c in FLAG_CSV_COLUMNS])


def csv_bytes(export: dict[str, Any]) -> bytes:
    """The journal CSV as a download (see :func:`_download`)."""
    return _download(write_export_csv, export)


def flags_csv_bytes(export: dict[str, Any]) -> bytes:
    """The risk-flags CSV as a download (see :func:`_download`)."""
    return _download(write_flags_csv, export)


def _download(write: Any, export: dict[str, Any]) -> bytes:
    """A CSV as a download: UTF-8 with a byte-order mark, so Excel reads the accents right."""
    buffer = io.StringIO(newline="")
    write(export, buffer)
    # Lone surrogates cannot be stored by the database drivers' UTF-8 either, but a JSON
    # field could in theory carry one; never fail a clinician's download over it.
    return buffer.getvalue().encode("utf-8-sig", errors="backslashreplace")


# ----------------------------------------------------------------------------- JSON


def write_export_json(export: dict[str, Any], stream: IO[str]) -> None:
    """Pretty JSON with every character as typed (no ``\\u`` escapes for non-ASCII)."""
    json.dump(export, stream, ensure_ascii=False, indent=2)
    stream.write("\n")


def json_bytes(export: dict[str, Any]) -> bytes:
    """The JSON export as UTF-8 bytes: the same text ``python -m bot export`` prints."""
    buffer = io.StringIO()
    write_export_json(export, buffer)
    return buffer.getvalue().encode("utf-8", errors="backslashreplace")


# ----------------------------------------------------------------------------- PDF


def _report_environment() -> Any:
    """A Jinja environment on the web app's templates with autoescaping always on.

    Its own environment rather than the web app's, so that exports do not import FastAPI;
    the rule is the same: patient text is data, never markup.
    """
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def report_html(record: PatientRecord, *, exported_by: str, exported_at: datetime) -> str:
    """The HTML that becomes the PDF (kept separate so it can be checked on its own)."""
    from bot.records import views
    from bot.records.chart import render_chart

    template = _report_environment().get_template(REPORT_TEMPLATE)
    fmt = views.formats_for(record.patient.clinic_timezone)
    period = record.digest.period if record.digest else None
    return template.render(
        record=record,
        chart=render_chart(record.chart, width=680, height=240),
        exported_by=exported_by,
        exported_at=exported_at,
        fmt=fmt,
        today=(period.end if period else exported_at).astimezone(fmt.zone).date(),
    )


def pdf_bytes(record: PatientRecord, *, exported_by: str, exported_at: datetime) -> bytes:
    """A readable PDF summary: who, which clinic, the period, the chart, flags and entries.

    The report references no files; the fetcher refuses every URL all the same, so that
    nothing named in patient text could ever be loaded while the PDF is made.
    """
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    class NoFetching(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError("the patient report loads no external resources")

    html = report_html(record, exported_by=exported_by, exported_at=exported_at)
    document = HTML(string=html, base_url=str(TEMPLATES_DIR), url_fetcher=NoFetching())
    return document.write_pdf()
