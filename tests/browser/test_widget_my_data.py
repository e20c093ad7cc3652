"""A patient's own data from the widget: "export my data" gives a link that downloads it,
"delete my data" asks first and then erases it. Real web app, Rasa server and action server."""

from __future__ import annotations

import json

from browser_support import (
    CHECKIN_SAVED,
    CRAVING_QUESTION,
    MOOD_QUESTION,
    NOTE_QUESTION,
    Widget,
    sender_of,
)
from playwright.sync_api import expect

from bot.journal import entries as journal

NOTE = "Walked along the river with Rosa after the session"


def test_export_then_erase_from_the_chat(stack, desktop):
    page, watch = desktop
    widget = Widget(page)
    page.goto(stack.web_url + "/")
    widget.open()
    widget.say("quick check-in", MOOD_QUESTION)
    widget.say("6", CRAVING_QUESTION)
    widget.say("2", NOTE_QUESTION)
    widget.say(NOTE, CHECKIN_SAVED)
    sender = sender_of(page)

    widget.say("export my data", "minutes")
    button = widget.log.get_by_role("button", name="Download my data")
    expect(button).to_have_count(1)
    with page.expect_download() as download_info:
        button.click()
    download = download_info.value
    assert download.url.startswith(stack.web_url + "/api/my-data/")
    document = json.loads(open(download.path(), encoding="utf-8").read())
    assert [entry["fields"].get("note") for entry in document["entries"]] == [NOTE]
    assert NOTE in json.dumps(document["conversations"])
    # The link was made for the press of the button: it is in neither the stored conversation
    # (which the care team reads) nor this tab's copy of it.
    token = download.url.rsplit("/", 1)[1]
    stored = json.dumps(stack.event_data("bot", sender))
    assert "/api/my-data/" not in stored and token not in stored
    assert "/api/my-data/" not in page.evaluate(
        "() => sessionStorage.getItem('companion-widget:demo')"
    )
    # The readable copy is made the same way, with a link of its own.
    readable = widget.log.get_by_role("button", name="Readable copy (web page)")
    with page.expect_download() as readable_info:
        readable.click()
    assert readable_info.value.url.endswith("/readable")
    assert readable_info.value.url != download.url + "/readable"

    widget.say("delete my data", "can't be undone")
    widget.click_reply("Yes, delete everything", "deleted")
    assert journal.recent_entries(sender) == []
    assert watch.dialogs == []
