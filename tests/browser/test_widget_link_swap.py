"""A patient link's token is taken from the address when the page loads, and only then.

Another window can change an open page's fragment without reloading it (a page that opened
the clinic's tab, or a link the patient is lured to click, pointing at the same page with
``#companion-token=`` of another conversation). Were the widget to adopt that token, the
patient's next message would go into a conversation someone else reads. The widget keeps the
conversation on screen and asks; only a press of its button switches to the new link.
"""

from __future__ import annotations

from datetime import timedelta

from browser_support import CRAVING_QUESTION, MOOD_QUESTION, Widget
from playwright.sync_api import expect

from bot.clinics import patients, registry

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Lakeside Recovery</title></head>
<body>
  <h1>Lakeside Recovery</h1>
  <script src="{web}/widget.js" data-clinic="{slug}" async></script>
</body>
</html>
"""


def test_a_changed_fragment_does_not_take_over_the_open_conversation(stack, desktop, clinic_site):
    page, watch = desktop
    slug = "lakeside-swap"  # not test_dashboard_invite.py's clinic: the stack is shared
    page_url = clinic_site.page("index.html", PAGE.format(web=stack.web_url, slug=slug))
    registry.create(slug, "Lakeside Recovery", origins=[clinic_site.origin], patient_url=page_url)
    patient = patients.invite(slug, timedelta(hours=1))
    attacker = patients.invite(slug, timedelta(hours=1))

    page.goto(patient.url)
    widget = Widget(page)
    expect(widget.panel).to_be_visible()  # a personal link opens the chat by itself
    widget.agree()
    widget.say("quick check-in", MOOD_QUESTION)

    page.evaluate("(token) => { location.hash = 'companion-token=' + token; }", attacker.token)
    switch = widget.log.get_by_role("button", name="Use the new link")
    expect(switch).to_be_visible()
    assert "companion-token" not in page.url  # not left in the address bar either
    widget.say("6", CRAVING_QUESTION)  # the patient's own check-in goes on

    assert stack.user_texts(patient.sender_id) == ["quick check-in", "6"]
    assert stack.user_texts(attacker.sender_id) == []
    expect(widget.patient()).to_have_count(2)

    # A shared computer: the person now at the screen opened their own link, and says so.
    switch.click()
    expect(switch).to_have_count(0)
    expect(widget.patient()).to_have_count(0)  # nothing of the first patient's conversation
    widget.agree()  # the new link's patient agrees for themselves
    widget.say("quick check-in", MOOD_QUESTION)
    assert stack.user_texts(attacker.sender_id) == ["quick check-in"]
    assert stack.user_texts(patient.sender_id) == ["quick check-in", "6"]
    assert watch.dialogs == []
