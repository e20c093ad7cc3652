"""What a patient who asks for a person is told: how to reach the clinic's care team and
when it answers (clinic settings ``care_team_contact``, ``care_team_hours``), and when a
message left for it is usually read (``response_time``).

Pure Python, so that the Rasa server's response generator (:mod:`bot.chat.clinic_nlg`) and
the application both use it; settings come back from hand-written SQL there, so nothing in
them is trusted.
"""

from __future__ import annotations

import re
from typing import Any

from bot.safety import clinic_lines

NO_CARE_TEAM_CONTACT = (
    "Please use the phone number or e-mail address your clinic gave you: its contact details "
    "aren't set up in this chat yet."
)
MAX_CARE_TEAM_TEXT = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _care_team_text(value: Any) -> str | None:
    """A stored care-team detail fit to show: one line of text, else None."""
    if not isinstance(value, str):
        return None
    text = " ".join(_CONTROL.sub(" ", value).split())
    return text if 0 < len(text) <= MAX_CARE_TEAM_TEXT else None


def reply_values(settings: dict[str, Any] | None) -> dict[str, str]:
    """What a care-team reply's placeholders stand for, for these settings (None: unknown)."""
    given = settings or {}
    contact = _care_team_text(given.get("care_team_contact"))
    hours = _care_team_text(given.get("care_team_hours"))
    if contact:
        line = f"You can reach your care team: {contact}" + (f" ({hours})" if hours else "")
        line += "" if line.endswith((".", "!", "?")) else "."
    else:
        line = NO_CARE_TEAM_CONTACT
    response_time = clinic_lines.complete_settings({"response_time": given.get("response_time")})[
        "response_time"
    ]
    return {"care_team_contact": line, "response_time": response_time}
