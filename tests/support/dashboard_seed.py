"""Realistic dashboard data for tests: two clinics, their therapists, patients and chats.

``seed(database_url)`` migrates the database and fills it the way a few weeks of real use
would: clinics and therapists made through the application's own functions, journal
entries of every kind across several dates (with ketamine session dates), risk flags open
and acknowledged, and the Rasa tracker store's ``events`` rows exactly as Rasa 3.6 writes
them (``action_session_start`` → ``session_started`` → ``user`` / ``bot`` …).

Times are relative to ``now`` (default: the current minute), so "last activity" reads like
a real dashboard. The browser tests reuse this module; keep :class:`SeedInfo` stable.

Clinic "harbour" (therapist, admin):
- ``main``: three sessions, reflections, check-ins, cravings (one with urge surfing), a
  slip, an interrupted entry, an OPEN crisis flag two days ago and an acknowledged one;
- ``steady``: a few calm check-ins, no flags;
- ``newcomer``: invited (an unused link), never wrote anything, no label, assigned to nobody;
- ``xss``: script and event-handler payloads in the journal, the chat, a flag and its label.

``main`` and ``steady`` are the therapist's patients, ``xss`` the administrator's; each but the
newcomer has a label.
Clinic "northside" (one therapist): ``other`` with its own open flag and chats.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.clinics import registry, therapists
from bot.storage import db
from bot.storage.models import Clinic, JournalEntry, Patient, PatientLink, RiskFlag, Therapist
from bot.storage.rasa_events import EVENTS

MODEL_ID = "66cf6bf1d8ba41dc9b139472d8933a07"
ASSISTANT_ID = "integration-companion"

#: Text no page of the other clinic may ever show.
NORTHSIDE_SECRET = "Northside-only note: the ferry job interview went badly"
CRISIS_TEXT = "I can't do this anymore. I keep thinking about ending it all tonight."
OLD_CRISIS_TEXT = "after using last night I honestly wanted to disappear"
XSS_SCRIPT = '<script>document.title="pwned-entry";alert("xss-entry")</script>'
XSS_IMG = "<img src=x onerror=\"document.title='pwned-img';alert(1)\">"
XSS_TRANSCRIPT = '<script>alert("xss-transcript")</script><b>bold?</b>'
XSS_FLAG = '<img src=x onerror=alert("xss-flag")> I want to hurt myself'
FORMULA = '=HYPERLINK("http://evil.example","click me")'
#: The clinics' labels for their patients (the newcomer has none: the short id names them).
MAIN_LABEL = "A.M. 3017"
STEADY_LABEL = "B.R. 2290"
XSS_LABEL = '<img src=x onerror=alert("xss-label")> C.X. 4400'
OTHER_LABEL = "N.O. 1001"


@dataclass(frozen=True)
class SeededTherapist:
    email: str
    password: str
    clinic_slug: str
    is_admin: bool = False


@dataclass(frozen=True)
class SeededClinic:
    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class SeedInfo:
    """What was created: ids to open, accounts to sign in with, things to look for."""

    database_url: str
    now: datetime
    harbour: SeededClinic
    northside: SeededClinic
    therapist: SeededTherapist  # harbour, not an admin
    admin: SeededTherapist  # harbour administrator
    other_therapist: SeededTherapist  # northside
    main: str  # harbour patient with everything, including an open flag
    steady: str  # harbour patient, check-ins only, no flags
    newcomer: str  # harbour patient without any activity
    xss: str  # harbour patient whose text is made of payloads
    other: str  # northside patient
    open_flag_id: int  # main's open flag
    acknowledged_flag_id: int  # main's acknowledged flag
    xss_flag_id: int
    other_flag_id: int  # northside's open flag
    session_dates: tuple[date, ...]  # main's ketamine sessions
    main_entry_count: int
    main_conversation_count: int
    patients: dict[str, str] = field(default_factory=dict)  # role -> sender id

    @property
    def harbour_patients(self) -> tuple[str, ...]:
        return (self.main, self.steady, self.newcomer, self.xss)


MAIN = "p-Hb7qT2mVx9LkR4sWc1NzQe"
STEADY = "p-Kx3RmW8vQp2LtN6yBd4HsA"
NEWCOMER = "p-Zq9Tn5Vw2XcR7mLp3Jk8Ua"
XSS = "p-Xs5Sn1Pq7Lo3Dk9Fj2WmEr"
OTHER = "p-Nr4Dw8Kc2Vt6Yh1Qm9BsTo"


@contextmanager
def _database(url: str) -> Iterator[None]:
    """Point the application's own functions (clinics, therapists) at ``url`` for a moment."""
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        yield
    finally:
        if previous is None:
            del os.environ["DATABASE_URL"]
        else:
            os.environ["DATABASE_URL"] = previous


# ----------------------------------------------------------------------------- Rasa events


class _Conversation:
    """Builds the ``events`` rows of one Rasa session, as the tracker store writes them."""

    def __init__(self, sender_id: str, start: datetime, ids: Iterator[str]) -> None:
        self.sender_id = sender_id
        self.clock = start.timestamp()
        self.rows: list[dict[str, Any]] = []
        self.ids = ids
        self._event("action", action_name="action_session_start", confidence=1.0)
        self._event("session_started")
        self._event("action", action_name="action_listen")

    def _metadata(self, **extra: Any) -> dict[str, Any]:
        return {**extra, "model_id": MODEL_ID, "assistant_id": ASSISTANT_ID}

    def _event(self, type_name: str, *, step: float = 0.01, **values: Any) -> float:
        self.clock += step
        data: dict[str, Any] = {"event": type_name, "timestamp": self.clock}
        intent_name = None
        action_name = values.pop("action_name", None)
        if type_name == "action":
            data |= {
                "metadata": self._metadata(),
                "name": action_name,
                "policy": values.get("policy"),
                "confidence": values.get("confidence"),
                "action_text": None,
                "hide_rule_turn": False,
            }
        elif type_name == "user":
            intent_name = values["intent"]
            text = values["text"]
            data |= {
                "metadata": self._metadata(),
                "text": text,
                "parse_data": {
                    "intent": {"name": intent_name, "confidence": 0.97},
                    "entities": [],
                    "text": text,
                    "message_id": next(self.ids),
                    "metadata": {},
                    "intent_ranking": [{"name": intent_name, "confidence": 0.97}],
                },
                "input_channel": "socketio",
                "message_id": next(self.ids),
            }
        elif type_name == "bot":
            data |= {
                "metadata": self._metadata(utter_action=values.get("utter")),
                "text": values["text"],
                "data": {
                    "elements": None,
                    "quick_replies": None,
                    "buttons": values.get("buttons"),
                    "attachment": None,
                    "image": None,
                    "custom": None,
                },
            }
        else:
            data["metadata"] = self._metadata()
        self.rows.append(
            {
                "sender_id": self.sender_id,
                "type_name": type_name,
                "timestamp": self.clock,
                "intent_name": intent_name,
                "action_name": action_name,
                "data": json.dumps(data),
            }
        )
        return self.clock

    def user(self, text: str, intent: str = "inform", *, after: float = 25.0) -> datetime:
        """The patient says ``text`` ``after`` seconds after the last event."""
        moment = self._event("user", step=after, text=text, intent=intent)
        self._event("user_featurization", step=0.02)
        return datetime.fromtimestamp(moment, UTC)

    def bot(self, utter: str, text: str, buttons: list[str] | None = None) -> None:
        self._event("action", action_name=utter, policy="RulePolicy", confidence=1.0, step=0.3)
        self._event(
            "bot",
            text=text,
            utter=utter,
            buttons=[{"title": b, "payload": f"/{b.lower().replace(' ', '_')}"} for b in buttons]
            if buttons
            else None,
        )
        self._event("action", action_name="action_listen", policy="RulePolicy", confidence=1.0)


GREETING = (
    "Hi, I'm the integration companion. I'm an automated assistant, not a therapist, and "
    "nobody reads this chat in real time. What would you like to do?"
)
MENU = ["Reflect on a session", "Quick check-in", "Log a craving", "My journal"]
CRISIS_REPLY = (
    "I'm really glad you told me. What you're going through matters, and you deserve help "
    "right now.\n\n• If you are in danger or might act on these thoughts, call 911 now.\n\n"
    "• Call or text 988 (Suicide & Crisis Lifeline, any time), or chat at 988lifeline.org."
)


# ----------------------------------------------------------------------------- writing


def _entry(
    patient: Patient,
    number: int,
    kind: str,
    at: datetime,
    fields: dict[str, Any],
    *,
    mood: int | None = None,
    craving: int | None = None,
    session_date: date | None = None,
    status: str = "complete",
) -> JournalEntry:
    return JournalEntry(
        patient_id=patient.id,
        number=number,
        kind=kind,
        status=status,
        session_date=session_date,
        mood=mood,
        craving=craving,
        fields=fields,
        created_at=at,
    )


def _at(now: datetime, days_ago: int, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` UTC on the day ``days_ago`` days before ``now``."""
    return (now - timedelta(days=days_ago)).replace(hour=hour, minute=minute, second=0)


def _main_journal(patient: Patient, now: datetime, sessions: list[date]) -> list[JournalEntry]:
    def day(days_ago: int, hour: int, minute: int = 0) -> datetime:
        return _at(now, days_ago, hour, minute)

    first, second, third = sessions
    items = [
        (
            "integration",
            day(31, 18, 10),
            {
                "stood_out": "Seeing my dad's kitchen from when I was a kid, and feeling calm in it.",
                "feelings": "Heavy in the chest at first, then warm and loose.",
                "insight": "Drinking was how I stopped feeling like that kid. I don't need it to be safe.",
                "intention": "Be gentle with myself this week",
                "small_step": "Call my sister on Sunday",
            },
            {"mood": 6, "craving": 4, "session_date": first},
        ),
        (
            "checkin",
            day(29, 9, 5),
            {"note": "Slept 7 hours. Still thinking about the kitchen."},
            {"mood": 6, "craving": 3},
        ),
        (
            "trigger",
            day(27, 21, 40),
            {
                "trigger_kind": "craving",
                "trigger_types": ["people", "places"],
                "trigger_types_text": "Walked past the Anchor pub, Mark texted asking me out",
                "halt": ["lonely", "tired"],
                "halt_text": "lonely and tired after a double shift",
                "context": "Friday night, everyone going out, me alone at home",
                "coping": "Made tea, texted my sponsor, went to bed early",
                "urge_surfing": {
                    "before": 8,
                    "location": "tight jaw and shoulders",
                    "change": "it peaked after about 10 minutes and then eased",
                    "after": 4,
                },
            },
            {"craving": 8},
        ),
        (
            "checkin",
            day(25, 8, 30),
            {"note": "Good morning. Walked the dog by the river."},
            {"mood": 7, "craving": 2},
        ),
        (
            "trigger",
            day(21, 23, 15),
            {
                "trigger_kind": "lapse",
                "trigger_types": ["feelings"],
                "trigger_types_text": "argument with my sister about mum's care",
                "halt": ["angry"],
                "halt_text": "angry",
                "context": "Had three beers at home after the phone call",
                "coping": "Poured the rest away, told my sponsor the next morning",
            },
            {"craving": 9},
        ),
        (
            "checkin",
            day(20, 10, 0),
            {"note": "Ashamed about last night but I told someone. That's new."},
            {"mood": 3, "craving": 6},
        ),
        (
            "integration",
            day(17, 17, 45),
            {
                "stood_out": "Floating above the argument with my sister and seeing both of us as scared.",
                "feelings": "Sad, then a lot of tenderness",
                "insight": "The slip was about the fight, not about being weak.",
                "intention": "Pause before I answer when I'm angry",
                "small_step": "Write to my sister instead of calling while upset",
            },
            {"mood": 5, "craving": 5, "session_date": second},
        ),
        (
            "checkin",
            day(14, 9, 20),
            {"note": "Sent the letter. She wrote back kindly."},
            {"mood": 7, "craving": 3},
        ),
        (
            "trigger",
            day(11, 19, 0),
            {
                "trigger_kind": "trigger",
                "trigger_types": ["things"],
                "trigger_types_text": "found an old bottle opener in a drawer",
                "halt": [],
                "halt_text": "none",
                "context": "Cleaning the flat",
                "coping": "Threw it out and went for a run",
            },
            {"craving": 5},
        ),
        (
            "checkin",
            day(8, 8, 50),
            {"note": "Tired. Work is a lot this week."},
            {"mood": 5, "craving": 4},
        ),
        (
            "integration",
            day(3, 18, 30),
            {
                "stood_out": "Nothing visual this time, mostly a feeling of being held.",
                "feelings": "Quiet, a bit empty afterwards",
                "intention": "Keep the evening routine",
            },
            {"mood": 4, "craving": 5, "session_date": third, "status": "partial"},
        ),
        (
            "checkin",
            day(2, 22, 0),
            {"note": "Bad night. Everything feels pointless again."},
            {"mood": 2, "craving": 7, "status": "interrupted"},
        ),
    ]
    entries = []
    for number, (kind, at, fields, extra) in enumerate(items, start=1):
        entries.append(_entry(patient, number, kind, at, fields, **extra))
    return entries


def _main_conversations(now: datetime, ids: Iterator[str]) -> tuple[list[_Conversation], datetime]:
    conversations = []
    one = _Conversation(MAIN, _at(now, 31, 18, 2), ids)
    one.user("hi", "greet", after=2)
    one.bot("utter_greet", GREETING, MENU)
    one.user("I had my session yesterday and want to write about it", "start_integration")
    one.bot("utter_ask_session_date", "When was your ketamine session? You can say “yesterday”.")
    one.user("yesterday")
    one.bot("utter_ask_stood_out", "What stood out for you during the session?")
    one.user("Seeing my dad's kitchen from when I was a kid, and feeling calm in it.")
    one.bot("utter_ask_feelings", "What feelings or body sensations came up?")
    one.user("Heavy in the chest at first, then warm and loose.")
    one.bot(
        "utter_integration_saved",
        "Thank you for taking the time to reflect. I've saved this in your journal as entry #1.",
    )
    conversations.append(one)

    two = _Conversation(MAIN, _at(now, 27, 21, 36), ids)
    two.user("I really want a drink right now", "log_craving", after=2)
    two.bot(
        "utter_ask_trigger_craving", "I'm glad you reached out. How strong is the craving, 0 to 10?"
    )
    two.user("8")
    two.bot("utter_ask_trigger_type", "What set it off? People, places, things or feelings?")
    two.user("Walked past the Anchor pub, Mark texted asking me out")
    two.bot(
        "utter_offer_urge_surfing",
        "Would you like to try urge surfing together? It takes about 5 minutes.",
        ["Yes", "No thanks"],
    )
    two.user("/affirm", "affirm")
    two.bot("utter_ask_surf_location", "Where in your body do you notice the urge?")
    two.user("tight jaw and shoulders")
    two.bot("utter_surf_saved", "You stayed with it. The urge went from 8 to 4.")
    conversations.append(two)

    three = _Conversation(MAIN, _at(now, 8, 8, 48), ids)
    three.user("check in", "start_checkin", after=2)
    three.bot(
        "utter_ask_checkin_mood",
        "Quick check-in. How is your mood right now, from 0 (very low) to 10 (very good)?",
    )
    three.user("5")
    three.bot(
        "utter_ask_checkin_craving",
        "How strong is any craving right now, from 0 (none) to 10 (the strongest)?",
    )
    three.user("4")
    three.bot("utter_ask_checkin_note", 'Anything you\'d like to add in a line? (Or say "skip".)')
    three.user("Tired. Work is a lot this week.")
    three.bot("utter_checkin_saved", "Check-in saved in your journal as entry #10.")
    conversations.append(three)

    four = _Conversation(MAIN, _at(now, 2, 21, 57), ids)
    four.user("checkin", "start_checkin", after=2)
    four.bot(
        "utter_ask_checkin_mood",
        "Quick check-in. How is your mood right now, from 0 (very low) to 10 (very good)?",
    )
    four.user("2")
    four.bot(
        "utter_ask_checkin_craving",
        "How strong is any craving right now, from 0 (none) to 10 (the strongest)?",
    )
    four.user("7")
    four.bot("utter_ask_checkin_note", 'Anything you\'d like to add in a line? (Or say "skip".)')
    crisis_at = four.user(CRISIS_TEXT, "crisis", after=40)
    four.bot("utter_crisis", CRISIS_REPLY)
    conversations.append(four)
    return conversations, crisis_at


def _old_crisis_conversation(now: datetime, ids: Iterator[str]) -> tuple[_Conversation, datetime]:
    chat = _Conversation(MAIN, _at(now, 21, 23, 17), ids)
    chat.user("I messed up", "inform", after=2)
    chat.bot(
        "utter_ask_what_happened",
        "Thank you for telling me. Do you want to write about what happened?",
        ["Yes", "Not now"],
    )
    at = chat.user(OLD_CRISIS_TEXT, "crisis", after=30)
    chat.bot("utter_crisis", CRISIS_REPLY)
    return chat, at


def seed(database_url: str, *, now: datetime | None = None) -> SeedInfo:
    """Fill a (new or migrated) database with the dashboard's test data; see the module doc."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    db.upgrade(database_url)
    with _database(database_url):
        harbour_view = registry.create(
            "harbour",
            "Harbour Recovery Clinic",
            origins=["https://harbour.example"],
        )
        northside_view = registry.create(
            "northside", "Northside Ketamine Centre", origins=["https://northside.example"]
        )
        therapist = SeededTherapist("dr.rivera@harbour.example", "harbour-therapist-42", "harbour")
        admin = SeededTherapist("admin@harbour.example", "harbour-admin-pass-42", "harbour", True)
        other_therapist = SeededTherapist(
            "dr.okafor@northside.example", "northside-therapist-42", "northside"
        )
        for account in (therapist, admin, other_therapist):
            therapists.create(
                account.clinic_slug, account.email, account.password, admin=account.is_admin
            )

    ids = (uuid.UUID(int=n).hex for n in itertools.count(0x5EED0000))
    sessions = [
        (now - timedelta(days=32)).date(),
        (now - timedelta(days=18)).date(),
        (now - timedelta(days=4)).date(),
    ]
    with db.session_scope(database_url) as session:
        harbour = session.scalars(select(Clinic).where(Clinic.slug == "harbour")).one()
        northside = session.scalars(select(Clinic).where(Clinic.slug == "northside")).one()

        staff = {row.email: row for row in session.scalars(select(Therapist))}

        def patient(
            sender_id: str,
            clinic: Clinic,
            created_days_ago: int,
            label: str | None = None,
            therapist_email: str | None = None,
        ) -> Patient:
            created = now - timedelta(days=created_days_ago)
            row = Patient(
                sender_id=sender_id,
                clinic=clinic,
                created_at=created,
                last_seen_at=created,
                label=label,
                therapist=staff[therapist_email] if therapist_email else None,
            )
            session.add(row)
            session.flush()
            return row

        main = patient(MAIN, harbour, 40, MAIN_LABEL, therapist.email)
        steady = patient(STEADY, harbour, 60, STEADY_LABEL, therapist.email)
        newcomer = patient(NEWCOMER, harbour, 1)
        # Invited yesterday with a link not used yet: a real clinic lists only the patients
        # it invited or who wrote something (an anonymous visitor is not its patient).
        session.add(
            PatientLink(
                id=uuid.UUID(int=0x5EED1111).hex,
                patient=newcomer,
                kind="invite",
                created_at=newcomer.created_at,
                expires_at=newcomer.created_at + timedelta(days=30),
            )
        )
        xss = patient(XSS, harbour, 10, XSS_LABEL, admin.email)
        other = patient(OTHER, northside, 20, OTHER_LABEL, other_therapist.email)

        main_entries = _main_journal(main, now, sessions)
        session.add_all(main_entries)
        main.last_seen_at = max(entry.created_at for entry in main_entries)

        for number, offset in enumerate((45, 38, 30, 16), start=1):
            session.add(
                _entry(
                    steady,
                    number,
                    "checkin",
                    _at(now, offset, 12),
                    {"note": f"Steady week {number}. Meetings twice."},
                    mood=7 + number % 2,
                    craving=1,
                    session_date=None,
                )
            )
        session.add(
            _entry(
                steady,
                5,
                "integration",
                now - timedelta(days=15),
                {"stood_out": "Very peaceful", "intention": "Keep going to meetings"},
                mood=8,
                craving=1,
                session_date=(now - timedelta(days=16)).date(),
            )
        )

        session.add_all(
            [
                _entry(
                    xss,
                    1,
                    "checkin",
                    now - timedelta(days=5),
                    {"note": XSS_SCRIPT},
                    mood=5,
                    craving=5,
                ),
                _entry(
                    xss,
                    2,
                    "trigger",
                    now - timedelta(days=4),
                    {
                        "trigger_kind": "craving",
                        "trigger_types_text": XSS_IMG,
                        "context": FORMULA,
                        "coping": "-called my sponsor",
                        "urge_surfing": {"before": 6, "location": XSS_SCRIPT, "after": 3},
                    },
                    craving=6,
                ),
            ]
        )
        session.add_all(
            [
                _entry(
                    other,
                    1,
                    "checkin",
                    now - timedelta(days=6),
                    {"note": NORTHSIDE_SECRET},
                    mood=4,
                    craving=6,
                ),
                _entry(
                    other,
                    2,
                    "integration",
                    now - timedelta(days=3),
                    {"stood_out": "Northside session felt short"},
                    mood=5,
                    craving=4,
                    session_date=(now - timedelta(days=4)).date(),
                ),
            ]
        )

        conversations, crisis_at = _main_conversations(now, ids)
        old_chat, old_crisis_at = _old_crisis_conversation(now, ids)
        conversations.insert(2, old_chat)  # tracker rows arrive in time order
        steady_chat = _Conversation(STEADY, _at(now, 16, 11, 55), ids)
        steady_chat.user("hello", "greet", after=2)
        steady_chat.bot("utter_greet", GREETING, MENU)
        steady_chat.user("/start_checkin", "start_checkin")
        steady_chat.bot(
            "utter_ask_checkin_mood",
            "Quick check-in. How is your mood right now, from 0 (very low) to 10 (very good)?",
        )
        xss_chat = _Conversation(XSS, now - timedelta(days=4, hours=1), ids)
        xss_chat.user(XSS_TRANSCRIPT, "inform", after=2)
        xss_chat.bot("utter_default", "Sorry, I didn't quite get that.")
        xss_flag_at = xss_chat.user(XSS_FLAG, "crisis")
        xss_chat.bot("utter_crisis", CRISIS_REPLY)
        other_chat = _Conversation(OTHER, now - timedelta(days=6, hours=1), ids)
        other_chat.user(NORTHSIDE_SECRET, "inform", after=2)
        other_chat.bot("utter_checkin_saved", "Check-in saved in your journal as entry #1.")
        other_crisis_at = other_chat.user("northside: I took all my pills", "crisis")
        other_chat.bot("utter_crisis", CRISIS_REPLY)

        def detector_flag(
            row: Patient, category: str, message: str, said_at: datetime, **extra: Any
        ) -> RiskFlag:
            """The detector's flag on ``message``, raised a second after it was said."""
            return RiskFlag(
                patient_id=row.id,
                category=category,
                source="detector",
                message=message,
                created_at=said_at + timedelta(seconds=1),
                **extra,
            )

        open_flag = detector_flag(main, "suicide", CRISIS_TEXT, crisis_at)
        acknowledged = detector_flag(
            main,
            "suicide",
            OLD_CRISIS_TEXT,
            old_crisis_at,
            acknowledged_at=old_crisis_at + timedelta(hours=9),
            acknowledged_by=therapist.email,
            notified_at=old_crisis_at + timedelta(seconds=12),
        )
        xss_flag = detector_flag(xss, "self_harm", XSS_FLAG, xss_flag_at)
        other_flag = detector_flag(
            other, "overdose", "northside: I took all my pills", other_crisis_at
        )
        session.add_all([open_flag, acknowledged, xss_flag, other_flag])
        session.flush()
        flag_ids = (open_flag.id, acknowledged.id, xss_flag.id, other_flag.id)
        clinic_ids = (harbour.id, northside.id)

    engine = db.get_engine(database_url)
    EVENTS.metadata.create_all(engine, tables=[EVENTS])
    rows = [
        row for chat in (*conversations, steady_chat, xss_chat, other_chat) for row in chat.rows
    ]
    rows.sort(key=lambda row: row["timestamp"])
    with engine.begin() as connection:
        connection.execute(EVENTS.insert(), rows)

    return SeedInfo(
        database_url=database_url,
        now=now,
        harbour=SeededClinic(clinic_ids[0], harbour_view.slug, harbour_view.name),
        northside=SeededClinic(clinic_ids[1], northside_view.slug, northside_view.name),
        therapist=therapist,
        admin=admin,
        other_therapist=other_therapist,
        main=MAIN,
        steady=STEADY,
        newcomer=NEWCOMER,
        xss=XSS,
        other=OTHER,
        open_flag_id=flag_ids[0],
        acknowledged_flag_id=flag_ids[1],
        xss_flag_id=flag_ids[2],
        other_flag_id=flag_ids[3],
        session_dates=tuple(sessions),
        main_entry_count=len(main_entries),
        main_conversation_count=len(conversations),
        patients={
            "main": MAIN,
            "steady": STEADY,
            "newcomer": NEWCOMER,
            "xss": XSS,
            "other": OTHER,
        },
    )
