"""Clinics: settings, validation, the demo clinic and the widget configuration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot import patient_consent, settings
from bot.clinics import registry
from bot.clinics.registry import ClinicError
from bot.patient_tokens import normalize_origin
from bot.storage import db
from bot.storage.models import Clinic

DEFAULTS = yaml.safe_load(
    (settings.PROJECT_ROOT / "bot" / "content" / "clinic_defaults.yml").read_text()
)
DEFAULT_LINES = DEFAULTS["crisis_lines"]
#: The lines as the widget gets them: which replies name a line is not its business.
#: "Get help now" lists the crisis lines; a line named only in replies about a slip (Never Use
#: Alone) is left out.
WIDGET_LINES = [
    {k: v for k, v in line.items() if k != "kinds"}
    for line in DEFAULT_LINES
    if line.get("kinds") != ["lapse"]
]
DEFAULT_CRISIS_SETTINGS = {
    "emergency_number": "911",
    "response_time": "within one working day",
    "notify_levels": ["urgent", "elevated", "request"],
    "peer_support_line": False,
}


def test_the_defaults_file_has_the_us_lines_with_their_kinds() -> None:
    by_number = {line["number"]: line for line in DEFAULT_LINES}
    assert list(by_number) == [
        "988",
        "911",
        "1-800-222-1222",
        "1-800-799-7233",
        "1-800-656-4673",
        "1-800-422-4453",
        "1-800-484-3731",
    ]
    assert by_number["988"]["kinds"] == ["suicide", "self_harm", "harm_others", "ask", "recent"]
    assert "988lifeline.org" in by_number["988"]["detail"]
    assert "kinds" not in by_number["911"]  # the emergency number is said on its own
    assert by_number["1-800-222-1222"]["kinds"] == ["overdose"]
    assert by_number["1-800-799-7233"] == {
        "name": "National Domestic Violence Hotline",
        "number": "1-800-799-7233",
        "detail": "or text START to 88788",
        "kinds": ["violence"],
    }
    assert by_number["1-800-656-4673"]["kinds"] == ["violence"]
    assert by_number["1-800-422-4453"]["kinds"] == ["child"]
    assert by_number["1-800-484-3731"]["kinds"] == ["lapse"]
    assert {key: DEFAULTS[key] for key in DEFAULT_CRISIS_SETTINGS} == DEFAULT_CRISIS_SETTINGS
    assert registry.check_crisis_lines(DEFAULT_LINES) == DEFAULT_LINES
    assert registry.defaults() == DEFAULTS
    assert DEFAULTS["accent_color"] == "#2f6f73"
    assert DEFAULTS["greeting"].strip()
    assert "\n" not in DEFAULTS["greeting"]
    assert DEFAULTS["demo_clinic_name"] == "Demo clinic"


# ----------------------------------------------------------------------------- create


def test_create_with_defaults(clinic_db: str) -> None:
    view = registry.create(
        "north", "  North clinic ", origins=["HTTPS://North.Example/", "https://north.example:443"]
    )

    assert view.as_dict() == {
        "slug": "north",
        "name": "North clinic",
        "origins": ["https://north.example"],
        "crisis_lines": DEFAULT_LINES,
        "accent_color": "#2f6f73",
        "greeting": DEFAULTS["greeting"],
        "allow_anonymous": False,
        "patient_url": None,
        **DEFAULT_CRISIS_SETTINGS,
    }
    assert registry.get_clinic("north") == view


def test_create_with_every_setting(clinic_db: str) -> None:
    lines = [{"name": "Samaritans", "number": "116 123"}]
    view = registry.create(
        "east-1",
        "East",
        origins=["https://east.example", "http://localhost:8080", "https://east.example/"],
        crisis_lines=lines,
        accent_color="#AABBCC",
        greeting="Welcome to East.",
        allow_anonymous=True,
        patient_url="https://east.example/chat?x=1",
    )

    assert view.origins == ["https://east.example", "http://localhost:8080"]
    assert view.crisis_lines == lines
    assert view.accent_color == "#aabbcc"
    assert view.greeting == "Welcome to East."
    assert view.allow_anonymous is True
    assert view.patient_url == "https://east.example/chat?x=1"
    assert registry.get_clinic("east-1") == view


def test_create_stores_the_settings_in_the_database(clinic_db: str, database_path: Path) -> None:
    registry.create("north", "North", origins=["https://north.example"], accent_color="#123456")

    with sqlite3.connect(database_path) as connection:
        row = connection.execute(
            "SELECT origins, crisis_lines, accent_color, allow_anonymous FROM clinics "
            "WHERE slug = 'north'"
        ).fetchone()
    assert row[0] == '["https://north.example"]'
    assert "988" in row[1] and "911" in row[1]
    assert row[2] == "#123456"
    assert row[3] == 0


def test_a_taken_slug_is_refused(clinic_db: str) -> None:
    registry.create("north", "North", origins=["https://north.example"])
    with pytest.raises(ClinicError, match="already exists"):
        registry.create("north", "Another", origins=["https://other.example"])
    assert registry.get_clinic("north").name == "North"


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "North",
        "-north",
        "north-",
        "nor_th",
        "nor th",
        "north.example",
        "a" * 65,
        "clinic/1",
        "ünï",
        "demo\n",
        "north\n",
    ],
)
def test_unusable_slugs_are_refused(clinic_db: str, slug: str) -> None:
    with pytest.raises(ClinicError, match="slug"):
        registry.create(slug, "Name", origins=["https://x.example"])
    assert registry.list_clinics() == []


@pytest.mark.parametrize("slug", ["a", "7", "a-b", "a" * 64, "clinic-2024", "x--y"])
def test_usable_slugs(clinic_db: str, slug: str) -> None:
    assert registry.create(slug, "Name", origins=["https://x.example"]).slug == slug


@pytest.mark.parametrize(
    "color", ["#abc", "2f6f73", "#2f6f7", "#2f6f733", "#GGGGGG", "red", "", "#2f6f73\n"]
)
def test_unusable_colours_are_refused(clinic_db: str, color: str) -> None:
    with pytest.raises(ClinicError, match="colour"):
        registry.create("north", "North", origins=["https://x.example"], accent_color=color or "x")
    with pytest.raises(ClinicError):
        registry.check_color(color)


@pytest.mark.parametrize(
    "origin",
    [
        "north.example",
        "ftp://north.example",
        "https://",
        "https://north.example/chat",
        "https://north.example?x=1",
        "https://north.example#top",
        "https://user@north.example",
        "https://north.example:99999",
        "https://[::1",
        "javascript:alert(1)",
        "",
    ],
)
def test_unusable_origins_are_refused(clinic_db: str, origin: str) -> None:
    with pytest.raises(ClinicError):
        registry.create("north", "North", origins=["https://ok.example", origin])
    assert registry.get_clinic("north") is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "name"),
        ("name", "   ", "name"),
        ("name", "n" * 201, "name"),
        ("greeting", "   ", "greeting"),
        ("greeting", "g" * 1001, "greeting"),
        ("patient_url", "ftp://north.example/", "web page"),
        ("patient_url", "north.example/chat", "web page"),
        ("patient_url", "https://north.example/chat#here", "fragment"),
        ("patient_url", "javascript:alert(1)", "web page"),
    ],
)
def test_unusable_texts_and_urls_are_refused(
    clinic_db: str, field: str, value: str, message: str
) -> None:
    arguments = {"name": "North", field: value}
    name = arguments.pop("name")
    with pytest.raises(ClinicError, match=message):
        registry.create("north", name, origins=["https://north.example"], **arguments)
    assert registry.list_clinics() == []


def test_a_patient_url_that_cannot_be_parsed_is_a_clinic_error(clinic_db: str) -> None:
    # The CLI reports ClinicError in one line; any other ValueError would be a traceback.
    with pytest.raises(ClinicError):
        registry.create(
            "north", "North", origins=["https://north.example"], patient_url="https://[oops/"
        )


def test_limits_are_inclusive(clinic_db: str) -> None:
    view = registry.create(
        "north", "n" * 200, origins=["https://north.example"], greeting="g" * 1000
    )
    assert len(view.name) == 200
    assert len(view.greeting) == 1000


# ----------------------------------------------------------------------------- crisis lines


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Suicide & Crisis Lifeline=988", {"name": "Suicide & Crisis Lifeline", "number": "988"}),
        ("Samaritans = 116 123 ", {"name": "Samaritans", "number": "116 123"}),
        ("Crisis Text Line=+1 (741) 741", {"name": "Crisis Text Line", "number": "+1 (741) 741"}),
        ("A=B=112", {"name": "A=B", "number": "112"}),
        ("Line=0800-111.0", {"name": "Line", "number": "0800-111.0"}),
    ],
)
def test_parse_crisis_line(text: str, expected: dict[str, str]) -> None:
    assert registry.parse_crisis_line(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "988",
        "=988",
        "Lifeline=",
        "Lifeline=call us",
        "Lifeline=+",
        "Lifeline=(988)",
        "Lifeline=" + "9" * 40,
        "n" * 201 + "=988",
        "Lifeline=988=",
        "",
    ],
)
def test_parse_crisis_line_refuses(text: str) -> None:
    with pytest.raises(ClinicError):
        registry.parse_crisis_line(text)


NUMBER = st.from_regex(r"\+?[0-9][0-9 ().-]{0,30}", fullmatch=True)
# A name is said in crisis replies: one line, no control characters; and it cannot contain
# what starts an option (";kinds=", ";detail=").
NAME = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=200,
    )
    .filter(str.strip)
    .filter(lambda name: registry._LINE_OPTION.search(name) is None)
)


@given(name=NAME, number=NUMBER)
def test_parse_crisis_line_reads_any_name_and_number(name: str, number: str) -> None:
    assert registry.parse_crisis_line(f"{name}={number}") == {
        "name": name.strip(),
        "number": number.strip(),
    }


@given(text=st.one_of(st.text(), st.builds("{}={}".format, st.text(), st.text())))
def test_parse_crisis_line_never_crashes(text: str) -> None:
    try:
        line = registry.parse_crisis_line(text)
    except ClinicError as error:
        assert "NAME=NUMBER" in str(error) or "longer than" in str(error)
        return
    assert set(line) <= {"name", "number", "detail", "kinds"}
    assert line["name"] == line["name"].strip() != ""
    assert len(line["name"]) <= registry.MAX_NAME
    assert registry.NUMBER_PATTERN.fullmatch(line["number"])
    assert line["number"] == line["number"].strip()


# ----------------------------------------------------------------------------- origins


@given(
    scheme=st.sampled_from(["http", "https", "HTTP", "Https"]),
    labels=st.lists(
        st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True),
        min_size=1,
        max_size=4,
    ),
    port=st.one_of(st.none(), st.integers(min_value=1, max_value=65535)),
    slash=st.booleans(),
    padding=st.sampled_from(["", " ", "\t", "  \n"]),
)
def test_normalize_origin_of_well_formed_origins(
    scheme: str, labels: list[str], port: int | None, slash: bool, padding: str
) -> None:
    host = ".".join(labels)
    text = f"{padding}{scheme}://{host}{f':{port}' if port is not None else ''}"
    text += ("/" if slash else "") + padding
    lower = scheme.lower()
    default = {"http": 80, "https": 443}[lower]
    expected = f"{lower}://{host.lower()}" + (f":{port}" if port not in (None, default) else "")

    assert normalize_origin(text) == expected
    assert normalize_origin(expected) == expected


@given(
    text=st.one_of(
        st.text(),
        st.builds(
            "{}://{}".format,
            st.sampled_from(["http", "https", "HTTPS", "ftp", "", "javascript"]),
            st.text(),
        ),
    )
)
def test_normalize_origin_is_idempotent_or_refuses(text: str) -> None:
    try:
        value = normalize_origin(text)
    except ValueError:
        return
    assert value.startswith(("http://", "https://"))
    assert normalize_origin(value) == value
    rest = value.split("://", 1)[1]
    assert "/" not in rest and "?" not in rest and "#" not in rest and "@" not in rest


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("http://[::1]:80", "http://[::1]"),
        ("https://127.0.0.1:443/", "https://127.0.0.1"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("HTTP://LOCALHOST", "http://localhost"),
        ("https://clinic.example:80", "https://clinic.example:80"),
        ("http://clinic.example:443", "http://clinic.example:443"),
    ],
)
def test_normalize_origin_examples(text: str, expected: str) -> None:
    assert normalize_origin(text) == expected


def test_normalize_origin_refuses_user_info_even_without_a_name() -> None:
    # "https://:secret@host" has an empty user name and a password: not a bare origin.
    with pytest.raises(ValueError):
        normalize_origin("https://:secret@clinic.example")


def test_normalize_origin_keeps_or_refuses_port_zero() -> None:
    # Port 0 is not the default port: dropping it would turn it into another origin.
    try:
        value = normalize_origin("http://clinic.example:0")
    except ValueError:
        return
    assert value == "http://clinic.example:0"


# ----------------------------------------------------------------------------- update


@pytest.fixture
def north(clinic_db: str) -> registry.ClinicView:
    return registry.create(
        "north",
        "North",
        origins=["https://north.example"],
        greeting="Hello from North.",
        patient_url="https://north.example/chat",
    )


def test_update_changes_only_what_is_given(north: registry.ClinicView) -> None:
    updated = registry.update("north", name="North Clinic")

    assert updated.name == "North Clinic"
    assert updated.as_dict() | {"name": "North"} == north.as_dict()
    assert registry.get_clinic("north") == updated


def test_update_every_setting(north: registry.ClinicView) -> None:
    updated = registry.update(
        "north",
        origins=["https://new.example/"],
        crisis_lines=[{"name": "Samaritans", "number": "116 123"}],
        accent_color="#ABCDEF",
        greeting="  New greeting. ",
        allow_anonymous=True,
        patient_url="https://new.example/talk",
    )

    assert updated.origins == ["https://new.example"]
    assert updated.crisis_lines == [{"name": "Samaritans", "number": "116 123"}]
    assert updated.accent_color == "#abcdef"
    assert updated.greeting == "New greeting."
    assert updated.allow_anonymous is True
    assert updated.patient_url == "https://new.example/talk"
    assert registry.get_clinic("north") == updated

    assert registry.update("north", allow_anonymous=False).allow_anonymous is False


def test_update_adds_origins_without_duplicates(north: registry.ClinicView) -> None:
    updated = registry.update(
        "north", add_origins=["https://NORTH.example", "http://localhost:3000/"]
    )
    assert updated.origins == ["https://north.example", "http://localhost:3000"]


def test_update_replaces_then_adds(north: registry.ClinicView) -> None:
    updated = registry.update(
        "north", origins=["https://a.example"], add_origins=["https://b.example"]
    )
    assert updated.origins == ["https://a.example", "https://b.example"]


def test_update_clears_the_patient_url_with_an_empty_string(north: registry.ClinicView) -> None:
    assert registry.update("north", patient_url="").patient_url is None


def test_emptied_crisis_lines_fall_back_to_the_defaults(north: registry.ClinicView) -> None:
    assert registry.update("north", crisis_lines=[]).crisis_lines == DEFAULT_LINES


def test_update_of_an_unknown_clinic(clinic_db: str) -> None:
    with pytest.raises(ClinicError, match="No clinic"):
        registry.update("nowhere", name="X")


@pytest.mark.parametrize(
    "change",
    [
        {"name": ""},
        {"origins": ["north.example"]},
        {"add_origins": ["https://north.example/path"]},
        {"accent_color": "#12345"},
        {"greeting": " "},
        {"patient_url": "mailto:x@north.example"},
    ],
)
def test_a_refused_update_changes_nothing(north: registry.ClinicView, change: dict) -> None:
    with pytest.raises(ClinicError):
        registry.update("north", **change)
    assert registry.get_clinic("north") == north


def test_list_clinics_in_slug_order(clinic_db: str) -> None:
    for slug in ("zeta", "alpha", "mid"):
        registry.create(slug, slug.title(), origins=[f"https://{slug}.example"])
    assert [c.slug for c in registry.list_clinics()] == ["alpha", "mid", "zeta"]
    assert registry.get_clinic("nowhere") is None


# ----------------------------------------------------------------------------- demo clinic


@pytest.mark.parametrize(
    ("public_url", "origins"),
    [
        ("http://localhost:8000", ["http://localhost:8000", "http://127.0.0.1:8000"]),
        ("http://127.0.0.1:9000/", ["http://127.0.0.1:9000", "http://localhost:9000"]),
        ("http://localhost", ["http://localhost", "http://127.0.0.1"]),
        ("https://Demo.Example.org:443/", ["https://demo.example.org"]),
        ("http://localhost.evil.example:8000", ["http://localhost.evil.example:8000"]),
    ],
)
def test_demo_clinic_origins_follow_the_public_web_url(
    clinic_db: str, monkeypatch: pytest.MonkeyPatch, public_url: str, origins: list[str]
) -> None:
    monkeypatch.setenv("COMPANION_PUBLIC_WEB_URL", public_url)

    demo = registry.ensure_demo_clinic()

    assert demo.slug == "demo"
    assert demo.origins == origins
    assert demo.allow_anonymous is True
    assert demo.name == "Demo clinic"
    assert demo.crisis_lines == DEFAULT_LINES
    assert demo.accent_color == "#2f6f73"
    assert demo.greeting == DEFAULTS["greeting"]


def test_ensure_demo_clinic_is_idempotent(clinic_db: str) -> None:
    first = registry.ensure_demo_clinic()
    second = registry.ensure_demo_clinic()
    assert first == second
    assert [c.slug for c in registry.list_clinics()] == ["demo"]


def test_ensure_demo_clinic_keeps_staff_changes(clinic_db: str) -> None:
    registry.ensure_demo_clinic()
    registry.update("demo", name="Our demo", origins=["https://demo.example"])
    demo = registry.ensure_demo_clinic()
    assert demo.name == "Our demo"
    # Staff's origin stays; the web app's own origins come back, since the demo page needs them.
    assert demo.origins == ["https://demo.example", *registry.demo_origins()]


def test_ensure_demo_clinic_follows_the_web_app_to_a_new_address(
    clinic_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = registry.ensure_demo_clinic().origins
    monkeypatch.setenv("COMPANION_PUBLIC_WEB_URL", "https://chat.clinic-group.example")
    demo = registry.ensure_demo_clinic()
    assert demo.origins == [*before, "https://chat.clinic-group.example"]
    registry.update("demo", allow_anonymous=False)
    assert registry.ensure_demo_clinic().allow_anonymous is False


def test_a_demo_clinic_without_origins_gets_the_default_ones(clinic_db: str) -> None:
    with db.session_scope() as session:
        session.add(Clinic(slug="demo", name="Old demo", origins=[], allow_anonymous=False))

    demo = registry.ensure_demo_clinic()

    assert demo.name == "Old demo"
    assert demo.origins == ["https://companion.example"]
    assert demo.allow_anonymous is True


def test_the_demo_slug_comes_from_the_environment(
    clinic_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPANION_DEMO_CLINIC", "trial")
    assert registry.ensure_demo_clinic().slug == "trial"
    assert registry.widget_config("trial")["clinic"] == "trial"
    assert registry.widget_config("demo") is None


def test_a_journal_patient_creates_the_demo_clinic_with_origins(clinic_db: str) -> None:
    from bot.journal import entries as journal

    journal.save_entry("demo-1", "checkin", fields={"note": "ok"})
    demo = registry.get_clinic("demo")
    assert demo is not None
    assert demo.origins == ["https://companion.example"]
    assert demo.allow_anonymous is True


def test_a_clinic_from_before_the_settings_reads_with_defaults(
    database_url: str, database_path: Path
) -> None:
    db.upgrade(revision="0001")
    with sqlite3.connect(database_path) as connection:
        connection.execute(
            "INSERT INTO clinics (slug, name, created_at) VALUES ('old', 'Old', '2026-01-01 00:00:00.000000')"
        )
    db.upgrade()

    old = registry.get_clinic("old")

    assert old is not None
    assert old.origins == []
    assert old.crisis_lines == DEFAULT_LINES
    assert old.accent_color == "#2f6f73"
    assert old.greeting == DEFAULTS["greeting"]
    assert old.allow_anonymous is False
    assert old.patient_url is None


# ----------------------------------------------------------------------------- widget config


def test_widget_config_of_the_demo_clinic(clinic_db: str) -> None:
    assert registry.get_clinic("demo") is None

    config = registry.widget_config("demo")

    assert config == {
        "clinic": "demo",
        "name": "Demo clinic",
        "accent_color": "#2f6f73",
        "greeting": DEFAULTS["greeting"],
        "allow_anonymous": True,
        "crisis_lines": WIDGET_LINES,
        "socket_url": "https://chat.companion.example",
        "socket_path": "/socket.io",
        "anonymous_session_url": "https://companion.example/api/clinics/demo/anonymous-session",
        "consent": patient_consent.consent_text(1, None).as_dict(),
    }
    assert registry.get_clinic("demo") is not None


def test_widget_config_of_a_clinic(
    north: registry.ClinicView, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry.update(
        "north",
        accent_color="#102030",
        crisis_lines=[{"name": "Samaritans", "number": "116 123"}],
    )
    monkeypatch.setenv("COMPANION_PUBLIC_RASA_URL", "https://rasa.north.example/")
    monkeypatch.setenv("COMPANION_PUBLIC_WEB_URL", "https://web.north.example/")

    config = registry.widget_config("north")

    assert config == {
        "clinic": "north",
        "name": "North",
        "accent_color": "#102030",
        "greeting": "Hello from North.",
        "allow_anonymous": False,
        "crisis_lines": [{"name": "Samaritans", "number": "116 123"}],
        "socket_url": "https://rasa.north.example",
        "socket_path": "/socket.io",
        "anonymous_session_url": "https://web.north.example/api/clinics/north/anonymous-session",
        "consent": patient_consent.consent_text(1, None).as_dict(),
    }
    # Nothing about where links point or which sites may embed the widget.
    assert "origins" not in config and "patient_url" not in config


def test_widget_config_of_an_unknown_clinic(clinic_db: str) -> None:
    assert registry.widget_config("nowhere") is None
    assert registry.get_clinic("nowhere") is None
