"""Properties of the clinic settings' validation (bot/clinics/registry.py), beyond test_clinics.py.

test_clinics.py has examples for each check plus properties of crisis lines and origins.
Here every other check is held to the same rules for any input: it returns the value in
its one normal form, or raises :class:`ClinicError` (never anything else); a normal form
is accepted again unchanged (idempotent); and what it promises to refuse - unsafe webhook
addresses, addresses that could break an e-mail header - is refused whatever the spelling.
Expectations are worked out from how an input was built, never with the check itself.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.clinics import registry
from bot.clinics.registry import ClinicError

SLUGS = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?", fullmatch=True)
COLOURS = st.from_regex(r"#[0-9a-fA-F]{6}", fullmatch=True)
HOSTS = st.lists(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True), min_size=1, max_size=3
).map(".".join)
PATHS = st.from_regex(r"(/[A-Za-z0-9._~-]{0,12}){0,3}", fullmatch=True)
ANY_TEXT = st.one_of(
    st.text(),
    st.builds("{}://{}".format, st.sampled_from(["http", "https", "ftp", ""]), st.text()),
)


def checked(check: Callable[[Any], Any], value: Any) -> Any:
    """The check's result, or ``ClinicError`` itself; any other exception fails the test."""
    try:
        return check(value)
    except ClinicError as error:
        return error


# ----------------------------------------------------------------------------- slugs


@given(slug=SLUGS)
def test_every_slug_of_the_documented_form_is_accepted_unchanged(slug: str) -> None:
    assert registry.check_slug(slug) == slug


@given(text=st.text(max_size=80))
def test_a_slug_is_accepted_exactly_when_it_has_the_documented_form(text: str) -> None:
    result = checked(registry.check_slug, text)
    documented = registry.SLUG_PATTERN.fullmatch(text) is not None
    assert (result == text) is documented
    if not documented:
        assert isinstance(result, ClinicError)


@given(slug=SLUGS.filter(lambda s: any(c.isalpha() for c in s)))
def test_slugs_are_case_sensitive_lower_case(slug: str) -> None:
    with pytest.raises(ClinicError):
        registry.check_slug(slug.upper())


# ----------------------------------------------------------------------------- colours


@given(colour=COLOURS)
def test_colours_are_stored_lower_case_and_idempotent(colour: str) -> None:
    stored = registry.check_color(colour)
    assert stored == colour.lower()
    assert registry.check_color(stored) == stored


@given(text=st.text(max_size=12))
def test_anything_but_a_hex_colour_is_refused(text: str) -> None:
    result = checked(registry.check_color, text)
    if registry.COLOR_PATTERN.fullmatch(text):
        assert result == text.lower()
    else:
        assert isinstance(result, ClinicError)


# ----------------------------------------------------------------------------- origins


@st.composite
def origins(draw: st.DrawFn) -> tuple[str, str]:
    """An origin as a clinic might type it (any case, a default port, a trailing slash,
    spaces), with its normal form worked out from its parts."""
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(HOSTS)
    port = draw(st.one_of(st.none(), st.sampled_from([80, 443]), st.integers(1, 65535)))
    typed_scheme = draw(st.sampled_from([scheme, scheme.upper(), scheme.capitalize()]))
    typed_host = draw(st.sampled_from([host, host.upper()]))
    typed = f"{typed_scheme}://{typed_host}" + (f":{port}" if port else "")
    typed = draw(st.sampled_from(["{}", "{}/", " {} "])).format(typed)
    default = {"http": 80, "https": 443}[scheme]
    return typed, f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


@pytest.mark.slow
@given(typed=st.lists(origins(), max_size=5))
def test_check_origins_normalises_deduplicates_and_keeps_order(
    typed: list[tuple[str, str]],
) -> None:
    expected: list[str] = []
    for _, normal in typed:
        if normal not in expected:
            expected.append(normal)
    result = registry.check_origins([text for text, _ in typed])
    assert result == expected
    assert registry.check_origins(result) == result
    assert registry.check_origins([*result, *reversed(result)]) == result


@given(
    good=st.lists(origins(), max_size=3),
    bad=st.one_of(
        st.builds("ftp://{}".format, HOSTS),
        st.builds("https://{}{}".format, HOSTS, st.sampled_from(["/page", "/a/b", "?q=1", "#x"])),
        st.builds("https://user@{}".format, HOSTS),
        st.builds("https://{}:0".format, HOSTS),
        HOSTS,
    ),
)
def test_one_origin_that_is_not_bare_refuses_the_whole_list(
    good: list[tuple[str, str]], bad: str
) -> None:
    with pytest.raises(ClinicError):
        registry.check_origins([*(text for text, _ in good), bad])


# ----------------------------------------------------------------------------- texts


@given(
    text=st.text(max_size=1100), limit=st.sampled_from([registry.MAX_NAME, registry.MAX_GREETING])
)
def test_texts_are_stripped_and_kept_within_their_limit(text: str, limit: int) -> None:
    result = checked(lambda value: registry.check_text("name", value, limit), text)
    if isinstance(result, ClinicError):
        assert not text.strip() or len(text.strip()) > limit
    else:
        assert result == text.strip()
        assert 1 <= len(result) <= limit


# ----------------------------------------------------------------------------- patient page


@given(
    scheme=st.sampled_from(["http", "https"]),
    host=HOSTS,
    path=PATHS,
    query=st.sampled_from(["", "?clinic=north", "?a=1&b=2"]),
)
def test_any_http_page_address_is_accepted_as_given(
    scheme: str, host: str, path: str, query: str
) -> None:
    url = f"{scheme}://{host}{path}{query}"
    assert registry.check_patient_url(f"  {url} ") == url


NOT_A_PAGE = st.one_of(
    st.builds(
        "{}://{}{}".format, st.sampled_from(["ftp", "javascript", "file", "data"]), HOSTS, PATHS
    ),
    st.builds("https://{}{}#{}".format, HOSTS, PATHS, st.text(min_size=0, max_size=5)),
    st.builds("https://{}".format, PATHS),
    HOSTS,
)


@given(text=NOT_A_PAGE)
def test_anything_but_an_http_page_without_a_fragment_is_refused(text: str) -> None:
    with pytest.raises(ClinicError):
        registry.check_patient_url(text)


@given(text=ANY_TEXT)
def test_a_patient_page_is_refused_or_an_http_address_without_a_fragment(text: str) -> None:
    result = checked(registry.check_patient_url, text)
    if not isinstance(result, ClinicError):
        parts = urlsplit(result)
        assert parts.scheme in {"http", "https"} and parts.hostname and not parts.fragment
        assert registry.check_patient_url(result) == result
    else:
        assert str(result)


# ----------------------------------------------------------------------------- webhooks


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


LOOPBACK = st.sampled_from(["localhost", "127.0.0.1", "127.5.6.7", "[::1]", "hooks.localhost"])


@given(host=HOSTS, path=PATHS, port=st.one_of(st.none(), st.integers(1, 65535)))
def test_https_webhooks_anywhere_and_http_only_on_this_machine(
    host: str, path: str, port: int | None
) -> None:
    authority = host + (f":{port}" if port else "")
    assert registry.check_webhook_url(f"https://{authority}{path}") == f"https://{authority}{path}"
    plain = checked(registry.check_webhook_url, f"http://{authority}{path}")
    if is_loopback(host):
        assert plain == f"http://{authority}{path}"
    else:
        assert isinstance(plain, ClinicError)


@given(host=LOOPBACK, path=PATHS)
def test_plain_http_webhooks_on_loopback_are_accepted(host: str, path: str) -> None:
    assert registry.check_webhook_url(f"http://{host}{path}") == f"http://{host}{path}"


@given(
    user=st.text(alphabet="abcdefgh:", min_size=1, max_size=8),
    host=st.one_of(HOSTS, LOOPBACK),
    scheme=st.sampled_from(["http", "https"]),
)
def test_webhooks_with_credentials_are_refused(user: str, host: str, scheme: str) -> None:
    with pytest.raises(ClinicError):
        registry.check_webhook_url(f"{scheme}://{user}@{host}/hook")


NOT_A_WEBHOOK = st.one_of(
    st.builds("{}://{}{}".format, st.sampled_from(["ftp", "ws", "file", "gopher"]), HOSTS, PATHS),
    st.builds("https://{}{}#{}".format, HOSTS, PATHS, st.text(min_size=0, max_size=5)),
    st.builds("https://{}:0{}".format, HOSTS, PATHS),
    st.builds("https://{}/{}".format, HOSTS, st.just("x" * registry.MAX_URL)),
    HOSTS,
)


@given(text=NOT_A_WEBHOOK)
def test_unusable_webhook_addresses_are_refused(text: str) -> None:
    with pytest.raises(ClinicError):
        registry.check_webhook_url(text)


@given(text=ANY_TEXT)
def test_a_webhook_is_refused_or_safe_and_idempotent(text: str) -> None:
    result = checked(registry.check_webhook_url, text)
    if not isinstance(result, ClinicError):
        parts = urlsplit(result)
        assert parts.scheme == "https" or is_loopback(parts.hostname or "")
        assert parts.username is None and parts.password is None and not parts.fragment
        assert len(result) <= registry.MAX_URL
        assert registry.check_webhook_url(result) == result
    else:
        assert str(result)


# ----------------------------------------------------------------------------- e-mail addresses


LOCAL_PARTS = st.from_regex(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,20}", fullmatch=True)


@pytest.mark.slow
@given(
    addresses=st.lists(
        st.builds("{}@{}".format, LOCAL_PARTS, HOSTS.map(str.upper) | HOSTS), max_size=8
    )
)
def test_notify_emails_lower_case_domains_and_drop_repeats(addresses: list[str]) -> None:
    result = registry.check_notify_emails(addresses)
    assert len({a.lower() for a in result}) == len(result)
    for address in result:
        local, _, domain = address.rpartition("@")
        assert domain == domain.lower()
    assert {a.lower() for a in result} == {a.lower() for a in addresses}
    assert registry.check_notify_emails(result) == result


#: Characters that would let an address break out of an e-mail header or add a recipient.
HEADER_BREAKERS = ' ,;<>"\r\n\t()[]\\'


@given(address=st.text(max_size=60))
def test_an_address_that_could_break_an_email_header_is_refused(address: str) -> None:
    value = address.strip()
    result = checked(registry.check_notify_emails, [address])
    if any(char in value for char in HEADER_BREAKERS) or value.count("@") != 1:
        assert isinstance(result, ClinicError)
    if not isinstance(result, ClinicError):
        (accepted,) = result
        assert not any(char in accepted for char in HEADER_BREAKERS)
        assert accepted.count("@") == 1


@given(
    local=LOCAL_PARTS,
    host=HOSTS,
    breaker=st.sampled_from(list(HEADER_BREAKERS)),
    data=st.data(),
)
def test_one_header_breaking_character_anywhere_is_refused(
    local: str, host: str, breaker: str, data: st.DataObject
) -> None:
    address = f"{local}@{host}"
    position = data.draw(st.integers(min_value=1, max_value=len(address) - 1))
    with pytest.raises(ClinicError):
        registry.check_notify_emails([address[:position] + breaker + address[position:]])


# ----------------------------------------------------------------------------- stored as checked

#: Characters ``urlsplit`` silently drops before parsing (tab, CR, LF) and other whitespace.
INVISIBLE = st.sampled_from(["\t", "\n", "\r", " ", "\x0b", "\x00"])


@given(
    check=st.sampled_from([registry.check_patient_url, registry.check_webhook_url]),
    host=HOSTS,
    path=PATHS,
    char=INVISIBLE,
    data=st.data(),
)
def test_an_address_is_never_stored_with_characters_the_check_did_not_see(
    check: Callable[[str], str], host: str, path: str, char: str, data: st.DataObject
) -> None:
    """``urlsplit`` removes tabs and line breaks before it parses, so the check would pass
    a different address than the one stored: one that no browser or HTTP client can use."""
    url = f"https://{host}{path}/page"
    position = data.draw(st.integers(min_value=len("https://") + 1, max_value=len(url) - 1))
    with pytest.raises(ClinicError):
        check(url[:position] + char + url[position:])
