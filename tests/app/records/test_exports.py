"""Export files (bot.records.exports) and the mood and craving chart (bot.records.chart)."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pypdf
import pytest
from dashboard_seed import (
    CRISIS_TEXT,
    FORMULA,
    MAIN_LABEL,
    XSS_FLAG,
    XSS_IMG,
    XSS_SCRIPT,
    SeedInfo,
    seed,
)

from bot import records
from bot.cli import main as cli
from bot.journal import entries as journal
from bot.records import ChartData, ChartPoint, exports
from bot.records import chart as charts
from bot.storage import db

SVG = "{http://www.w3.org/2000/svg}"
EXPORTED_AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedInfo]:
    url = f"sqlite:///{tmp_path_factory.mktemp('exports') / 'companion.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", url)
        db.reset_engines()
        yield seed(url)
    db.reset_engines()


def record_of(info: SeedInfo, sender_id: str) -> records.PatientRecord:
    patient = records.find_patient(info.harbour.id, sender_id)
    assert patient is not None
    return records.load_record(patient)


def pdf_text(body: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(body))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


# ----------------------------------------------------------------------------- CSV and JSON


def test_the_command_line_uses_the_same_writers() -> None:
    assert cli.write_export_csv is exports.write_export_csv
    assert cli.write_export_json is exports.write_export_json
    assert cli.neutralise_formula is exports.neutralise_formula
    assert cli.CSV_BASE_COLUMNS == exports.CSV_BASE_COLUMNS


def test_csv_bytes(seeded: SeedInfo) -> None:
    body = exports.csv_bytes(journal.export_patient(seeded.xss))

    assert body.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the mark
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert list(rows[0])[: len(exports.CSV_BASE_COLUMNS)] == list(exports.CSV_BASE_COLUMNS)
    checkin, trigger = rows
    assert checkin["note"] == XSS_SCRIPT
    assert trigger["context"] == "'" + FORMULA
    assert trigger["coping"] == "'-called my sponsor"
    assert trigger["urge_surfing.location"] == XSS_SCRIPT
    assert trigger["trigger_types_text"] == XSS_IMG


def test_csv_neutralises_every_cell_including_headers() -> None:
    export = {
        "entries": [
            {
                "number": 1,
                "kind": "checkin",
                "status": "complete",
                "created_at": "2026-03-01T10:00:00+00:00",
                "session_date": None,
                "mood": None,
                "craving": None,
                "fields": {"=cmd|' /C calc'!A0": "@SUM(1+1)", "note": "\tindented"},
            }
        ]
    }
    rows = list(csv.reader(io.StringIO(exports.csv_bytes(export).decode("utf-8-sig"))))
    assert rows[0][-1] == "'=cmd|' /C calc'!A0"
    assert rows[1][-2:] == ["'\tindented", "'@SUM(1+1)"]


def test_json_bytes_keep_characters_as_typed() -> None:
    export = {"patient": "p-1", "entries": [{"fields": {"note": "散步 😴"}}]}
    body = exports.json_bytes(export)
    assert "散步 😴".encode() in body
    assert json.loads(body) == export
    assert body.endswith(b"\n")


def test_csv_has_a_slips_details_in_question_order() -> None:
    export = {
        "entries": [
            {
                "number": 1,
                "kind": "trigger",
                "status": "complete",
                "created_at": "2026-03-08T10:00:00+00:00",
                "session_date": None,
                "mood": None,
                "craving": 7,
                "fields": {
                    "context": "party",
                    "lapse_when": "=sat night",
                    "lapse_date": "2026-03-07",
                    "substances": ["alcohol", "cocaine"],
                    "trigger_kind": "lapse",
                },
            }
        ]
    }
    text = exports.csv_bytes(export).decode("utf-8-sig")
    header, row = csv.reader(io.StringIO(text))
    fields = dict(zip(header, row, strict=True))
    assert header[len(exports.CSV_BASE_COLUMNS) :] == [
        "trigger_kind",
        "substances",
        "lapse_date",
        "lapse_when",
        "context",
    ]
    assert fields["substances"] == "alcohol; cocaine"
    assert fields["lapse_date"] == "2026-03-07"
    assert fields["lapse_when"] == "'=sat night"  # patient text: defused like any other
    assert json.loads(exports.json_bytes(export)) == export


# ----------------------------------------------------------------------------- PDF


@pytest.mark.slow
def test_pdf_summary(seeded: SeedInfo) -> None:
    record = record_of(seeded, seeded.main)

    body = exports.pdf_bytes(
        record, exported_by="dr.rivera@harbour.example", exported_at=EXPORTED_AT
    )

    assert body.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(body))
    assert len(reader.pages) >= 2
    text = pdf_text(body)
    for expected in (
        f"Patient {MAIN_LABEL}",
        f"id {seeded.main} · therapist {seeded.therapist.email}",
        "Harbour Recovery Clinic (harbour)",
        "Journal entries 12",
        "1 open, 1 acknowledged",
        "27 Nov 2026, 09:30 UTC by dr.rivera@harbour.example",
        "OPEN · Suicide",
        CRISIS_TEXT,
        "Call my sister on Sunday",
        "tight jaw and shoulders",
        "Craving (0–10)",  # the chart's legend: the SVG is drawn into the PDF
        "Ketamine session",
        f"Confidential · Patient {MAIN_LABEL}",
    ):
        assert expected in text, expected
    # Newest entry first in the report, as on the patient page.
    assert text.index("#12 Check-in") < text.index("#1 Session reflection")


@pytest.mark.slow
def test_pdf_shows_payloads_as_text(seeded: SeedInfo) -> None:
    record = record_of(seeded, seeded.xss)

    html = exports.report_html(record, exported_by="x@harbour.example", exported_at=EXPORTED_AT)
    text = pdf_text(
        exports.pdf_bytes(record, exported_by="x@harbour.example", exported_at=EXPORTED_AT)
    )

    for payload in (XSS_SCRIPT, XSS_IMG, XSS_FLAG):
        assert payload not in html
    assert "<script" not in html and "<img" not in html
    assert 'alert("xss-entry")' in text
    assert "onerror" in text


class _Counting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_pdf_never_fetches_what_patient_text_names(fresh_patient: records.PatientRef) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        journal.save_entry(
            fresh_patient.sender_id,
            "checkin",
            fields={
                "note": f'<img src="{base}/img.png"><link rel="stylesheet" href="{base}/x.css">'
                f"<style>@import url({base}/y.css);</style>"
            },
            mood=4,
        )
        record = records.load_record(fresh_patient)
        body = exports.pdf_bytes(record, exported_by="t@solo.example", exported_at=EXPORTED_AT)
    finally:
        server.shutdown()
        server.server_close()
    assert _Counting.hits == []
    assert "img.png" in pdf_text(body)  # shown as the text it is


@pytest.mark.slow
def test_pdf_lists_slips_with_their_details(fresh_patient: records.PatientRef) -> None:
    journal.save_entry(
        fresh_patient.sender_id,
        "trigger",
        fields={
            "trigger_kind": "lapse",
            "substances": ["alcohol", "mdma"],
            "lapse_date": "2026-03-07",
            "lapse_when": "sat <b>night</b>",
            "context": "party at a friend's",
        },
        craving=7,
    )
    record = records.load_record(fresh_patient)

    html = exports.report_html(record, exported_by="t@solo.example", exported_at=EXPORTED_AT)
    text = pdf_text(
        exports.pdf_bytes(record, exported_by="t@solo.example", exported_at=EXPORTED_AT)
    )

    assert "<b>night</b>" not in html and "sat &lt;b&gt;night&lt;/b&gt;" in html
    for expected in (
        "Slips",
        "Sat 7 Mar 2026 alcohol, MDMA · in their words: “sat <b>night</b>” · entry #1",
        "Substances alcohol, MDMA",
        "Day of the slip Sat 7 Mar 2026",
        "When, in their words sat <b>night</b>",
        "Slip",  # the chart's legend
    ):
        assert expected in text, expected
    svg = ET.fromstring(re.search(r"<svg.*?</svg>", html, re.S).group(0))
    (slip,) = svg.findall(f".//{SVG}g[@class='chart-lapse']")
    assert (
        slip.findtext(f"{SVG}title") == "Slip, Sat 7 Mar 2026: alcohol, MDMA — Slip reflection #1"
    )


@pytest.fixture
def fresh_patient(migrated: str) -> records.PatientRef:
    from bot.storage.models import Clinic, Patient

    with db.session_scope() as session:
        clinic = Clinic(slug="solo", name="Solo Clinic", origins=[])
        session.add(clinic)
        session.flush()
        session.add(Patient(sender_id="p-solo", clinic_id=clinic.id))
        clinic_id = clinic.id
    patient = records.find_patient(clinic_id, "p-solo")
    assert patient is not None
    return patient


def test_pdf_of_a_patient_without_anything(fresh_patient: records.PatientRef) -> None:
    record = records.load_record(fresh_patient)

    text = pdf_text(
        exports.pdf_bytes(record, exported_by="t@solo.example", exported_at=EXPORTED_AT)
    )

    assert "Patient p-solo" in text
    assert "no activity yet" in text
    assert "No risk flags." in text and "No journal entries." in text
    assert "No mood or craving ratings yet." in text


# ----------------------------------------------------------------------------- chart


def _chart(points: list[ChartPoint], sessions: tuple[date, ...] = (), **period) -> ET.Element:
    markup = charts.render_chart(ChartData(tuple(points), sessions, **period))
    assert markup is not None
    return ET.fromstring(str(markup))


def _at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def test_chart_geometry() -> None:
    svg = _chart(
        [
            ChartPoint(_at(2), mood=10, craving=0, label="Check-in #1"),
            ChartPoint(_at(9), mood=None, craving=10, label="Craving/trigger #2"),
        ],
        (date(2026, 3, 5),),
        start=None,
        end=None,
    )
    width = float(svg.get("width"))
    height = float(svg.get("height"))
    assert svg.get("viewBox") == f"0 0 {int(width)} {int(height)}"
    assert svg.get("role") == "img"
    assert svg.findtext(f"{SVG}title").startswith("Craving and mood")
    desc = svg.findtext(f"{SVG}desc")
    assert "2 craving ratings, lowest 0, highest 10, latest 10." in desc
    assert "Ketamine sessions: Thu 5 Mar 2026." in desc

    cravings = svg.findall(f".//{SVG}g[@class='chart-point chart-craving']")
    moods = svg.findall(f".//{SVG}g[@class='chart-point chart-mood']")
    assert len(cravings) == 2 and len(moods) == 1
    zero, ten = (g.find(f"{SVG}rect") for g in cravings)
    mood_ten = moods[0].find(f"{SVG}circle")
    # Higher ratings are drawn higher up; the same rating at the same height.
    assert float(ten.get("y")) + 4 == pytest.approx(float(mood_ten.get("cy")))
    assert float(zero.get("y")) > float(ten.get("y"))
    assert float(zero.get("x")) < float(ten.get("x"))  # later is further right
    assert cravings[1].findtext(f"{SVG}title").startswith("Craving 10/10 — Craving/trigger #2")

    (session,) = svg.findall(f".//{SVG}g[@class='chart-session']")
    assert session.findtext(f"{SVG}title") == "Ketamine session, Thu 5 Mar 2026"
    line = session.find(f"{SVG}line")
    assert float(zero.get("x")) < float(line.get("x1")) < float(ten.get("x"))
    assert len(svg.findall(f".//{SVG}polyline")) == 1  # one mood point: no line to draw
    # Colours come from presentation attributes: the dashboard's CSP allows no inline style.
    assert not any(element.get("style") for element in svg.iter())


def test_chart_period_and_ticks() -> None:
    points = [ChartPoint(_at(10), mood=5, craving=5, label="Check-in #1")]
    svg = _chart(points, (), start=date(2026, 1, 1), end=date(2026, 12, 31))
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    ticks = [label for label in labels if label and re.fullmatch(r"\d{1,2} [A-Z][a-z]{2}", label)]
    assert ticks[0] == "1 Jan"
    assert 4 <= len(ticks) <= charts.MAX_TICKS + 1

    one_day = _chart(points, (), start=None, end=None)
    (craving,) = one_day.findall(f".//{SVG}g[@class='chart-point chart-craving']")
    x = float(craving.find(f"{SVG}rect").get("x")) + 4
    assert float(one_day.get("width")) * 0.3 < x < float(one_day.get("width")) * 0.7


def test_chart_only_sessions_and_nothing() -> None:
    svg = _chart([], (date(2026, 3, 1), date(2026, 3, 15)), start=None, end=None)
    assert len(svg.findall(f".//{SVG}g[@class='chart-session']")) == 2
    assert "No craving ratings." in svg.findtext(f"{SVG}desc")
    assert charts.render_chart(ChartData((), (), None, None)) is None


def test_seeded_chart_has_every_rating(seeded: SeedInfo) -> None:
    svg = ET.fromstring(str(charts.render_chart(record_of(seeded, seeded.main).chart)))
    assert len(svg.findall(f".//{SVG}g[@class='chart-point chart-craving']")) == 12
    assert len(svg.findall(f".//{SVG}g[@class='chart-point chart-mood']")) == 9
    assert len(svg.findall(f".//{SVG}g[@class='chart-session']")) == 3


def _lapse(day: int, *, number: int = 1, **details: object) -> records.ChartLapse:
    return records.ChartLapse(
        day=date(2026, 3, day), number=number, label=f"Slip reflection #{number}", **details
    )


def test_chart_marks_slips_below_the_time_axis() -> None:
    points = [
        ChartPoint(_at(2), mood=4, craving=2, label="Check-in #1"),
        ChartPoint(_at(9), mood=6, craving=8, label="Check-in #2"),
    ]
    lapses = (
        _lapse(5, number=3, substances=("alcohol", "cocaine")),
        _lapse(9, number=4, dated_by_entry=True),
    )
    markup = charts.render_chart(ChartData(tuple(points), (), None, None, lapses=lapses))
    svg = ET.fromstring(str(markup))

    slips = svg.findall(f".//{SVG}g[@class='chart-lapse']")
    assert [g.findtext(f"{SVG}title") for g in slips] == [
        "Slip, Thu 5 Mar 2026: alcohol, cocaine — Slip reflection #3",
        "Slip, recorded Mon 9 Mar 2026 (day of the slip not given): substance not named"
        " — Slip reflection #4",
    ]
    first = [float(n) for n in re.findall(r"-?[\d.]+", slips[0].find(f"{SVG}path").get("d"))]
    line = slips[0].find(f"{SVG}line")
    axis_y = float(line.get("y2"))
    assert min(first[1::2]) > axis_y  # the diamond is under the axis, clear of 0/10 ratings
    early, late = (
        g.find(f"{SVG}rect") for g in svg.findall(f".//{SVG}g[@class='chart-point chart-craving']")
    )
    assert float(early.get("x")) < float(line.get("x1")) < float(late.get("x"))
    assert svg.findtext(f"{SVG}title").endswith("and slips")
    desc = svg.findtext(f"{SVG}desc")
    assert (
        "2 slips: Thu 5 Mar 2026 (alcohol, cocaine); Mon 9 Mar 2026 (substance not named)." in desc
    )
    assert "Slip" in [t.text for t in svg.iter(f"{SVG}text")]  # the legend
    assert not any(element.get("style") for element in svg.iter())


def test_chart_with_only_a_slip_and_labels_are_escaped() -> None:
    lapse = _lapse(7, substances=("<b>odd</b> & co",))
    markup = str(charts.render_chart(ChartData((), (), None, None, lapses=(lapse,))))

    assert "<b>" not in markup and "&lt;b&gt;odd&lt;/b&gt; &amp; co" in markup
    svg = ET.fromstring(markup)
    assert len(svg.findall(f".//{SVG}g[@class='chart-lapse']")) == 1
    assert "1 slip: Sat 7 Mar 2026 (<b>odd</b> & co)." in svg.findtext(f"{SVG}desc")


def test_chart_without_slips_has_no_slip_legend() -> None:
    svg = _chart(
        [ChartPoint(_at(2), mood=4, craving=2, label="Check-in #1")], (), start=None, end=None
    )
    assert "Slip" not in [t.text for t in svg.iter(f"{SVG}text")]
    assert not svg.findall(f".//{SVG}g[@class='chart-lapse']")
    assert "slip" not in svg.findtext(f"{SVG}desc").lower()
