"""``GET /clinics/{slug}/safety``: a clinic's public page "How this chat keeps you safe".

Anyone may read it, signed in or not: patients before they start a chat (the widget links to
it), families, and the clinic's own staff. What it says is built from the configuration by
:mod:`bot.clinics.safety_summary`; this module only serves it. The page runs no script and
loads nothing: its one style block (which carries the clinic's colour) is allowed by its hash
in the page's Content-Security-Policy, computed per answer, and nothing else is. An unknown
clinic gets a plain 404 page under the same policy.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.templating import Jinja2Templates

from bot import settings
from bot.clinics import registry, safety_summary
from bot.storage.models import DEFAULT_ACCENT_COLOR

router = APIRouter()
TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
PATH = "/clinics/{slug}/safety"

#: The page's style; ``{accent}`` is the clinic's colour, checked against
#: :data:`bot.clinics.registry.COLOR_PATTERN`. Text stays dark on white whatever the colour:
#: the colour only draws lines, so no clinic's choice can make the page hard to read.
STYLE = (
    "body{{font:16px/1.55 system-ui,sans-serif;color:#1b1f23;margin:0;background:#f7f8f9}}"
    "header{{border-top:6px solid {accent};background:#fff;padding:1rem}}"
    "header p{{margin:0;font-weight:600}}"
    "main{{max-width:50rem;margin:0 auto;padding:1rem 1rem 3rem;background:#fff}}"
    "h1{{font-size:1.6rem;margin:.25rem 0 1rem}}"
    "h2{{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:2px solid {accent}}}"
    ".now{{border-left:6px solid #9b0014;background:#fff4f4;padding:.75rem 1rem;margin:1rem 0}}"
    "table{{border-collapse:collapse;width:100%;margin:.5rem 0}}"
    "th,td{{text-align:left;vertical-align:top;border-bottom:1px solid #d0d5da;padding:.5rem}}"
    "th{{background:#eef1f3}}td ul{{margin:0;padding-left:1.1rem}}"
    "@media (max-width:40rem){{table,thead,tbody,tr,th,td{{display:block}}thead{{display:none}}"
    "td{{border:0;padding:.2rem .5rem}}tr{{border-bottom:1px solid #d0d5da;padding:.5rem 0}}}}"
)


def _style(accent: str) -> str:
    colour = accent if registry.COLOR_PATTERN.fullmatch(accent or "") else DEFAULT_ACCENT_COLOR
    return STYLE.format(accent=colour)


def _headers(style: str) -> dict[str, str]:
    """A policy that allows this page's one style block and nothing else."""
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; "
            "form-action 'none'; frame-ancestors 'none'"
        ),
        "Cache-Control": "no-cache",
    }


def _clinic(slug: str) -> registry.ClinicView | None:
    """The clinic of ``slug`` (the demo clinic as the widget finds it), or None."""
    if slug == settings.demo_clinic_slug():
        return registry.ensure_demo_clinic()
    try:
        registry.check_slug(slug)
    except registry.ClinicError:
        return None
    return registry.get_clinic(slug)


@router.get(PATH, include_in_schema=False)
def safety_page(slug: str, request: Request) -> Response:
    """The clinic's safety page, or a plain 404 page for a clinic that does not exist."""
    clinic = _clinic(slug)
    if clinic is None:
        style = _style(DEFAULT_ACCENT_COLOR)
        return TEMPLATES.TemplateResponse(
            request, "safety_missing.html", {"style": style}, 404, headers=_headers(style)
        )
    page = safety_summary.build(clinic)
    style = _style(page.accent_color)
    return TEMPLATES.TemplateResponse(
        request, "safety.html", {"page": page, "style": style}, headers=_headers(style)
    )
