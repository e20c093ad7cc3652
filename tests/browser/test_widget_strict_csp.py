"""The widget needs no inline script or style: it works on pages whose Content Security
Policy allows neither, the demo page's own and a clinic's, and the policy refuses nothing of
it (the ``desktop`` fixture fails a test on any refusal)."""

from __future__ import annotations

import re
from datetime import timedelta

from browser_support import CLINIC_SITE_POLICY, MOOD_QUESTION, Widget
from playwright.sync_api import expect

from bot.clinics import patients, registry

EMBED = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Hillside Recovery</title></head>
<body>
  <h1>Hillside Recovery</h1>
  <script src="{web}/widget.js" data-clinic="{slug}" data-token="{token}" async></script>
</body>
</html>
"""


def directives(policy: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for directive in filter(None, (part.strip() for part in policy.split(";"))):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


def assert_strict(policy: str) -> None:
    parsed = directives(policy)
    for name in ("script-src", "style-src"):
        assert name in parsed, policy
        assert "'unsafe-inline'" not in parsed[name], policy
        assert "'unsafe-eval'" not in parsed[name], policy
    assert "'unsafe-inline'" not in policy


def test_the_demo_page_allows_no_inline_script_or_style(stack, desktop):
    page, watch = desktop
    response = page.goto(stack.web_url + "/")
    assert response is not None
    assert_strict(response.headers["content-security-policy"])

    widget = Widget(page)
    # The widget's own stylesheet applies: a constructed sheet is no inline style.
    expect(widget.launcher).to_have_css("background-color", "rgb(47, 111, 115)")
    expect(widget.launcher).to_have_css("min-height", "52px")
    widget.open()
    widget.say("quick check-in", MOOD_QUESTION)
    assert watch.refused == []


def test_a_clinic_page_embeds_the_widget_with_data_token(stack, desktop, clinic_site):
    """The one tag with the patient's token on it (a clinic's page behind its own sign-in),
    on a page whose policy is strict: the conversation is that token's patient's."""
    page, watch = desktop
    assert_strict(CLINIC_SITE_POLICY)
    slug = "hillside"
    registry.create(slug, "Hillside Recovery", origins=[clinic_site.origin], accent_color="#6a2c91")
    invite = patients.invite(slug, timedelta(hours=1))
    url = clinic_site.page(
        "portal.html", EMBED.format(web=stack.web_url, slug=slug, token=invite.token)
    )

    response = page.goto(url)
    assert response is not None
    assert response.headers["content-security-policy"] == CLINIC_SITE_POLICY
    widget = Widget(page)
    expect(widget.launcher).to_have_css("background-color", "rgb(106, 44, 145)")
    widget.open()
    expect(widget.panel).to_have_attribute("aria-label", re.compile("Hillside Recovery"))
    widget.say("quick check-in", MOOD_QUESTION)

    assert stack.user_texts(invite.sender_id) == ["quick check-in"]
    assert watch.refused == []
