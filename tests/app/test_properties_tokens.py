"""Properties of patient tokens (bot.patient_tokens.verify_token) against a real SQLite database.

test_patient_tokens.py has the examples: each way a token can be refused, once. Here the same
promises are checked for generated input: whatever arrives as a token - any object, any
text, a real token with any one character changed, real claims under another algorithm,
any claims under the real key - the answer is an :class:`Identity` or an
:class:`AccessDenied` with a known reason, never another exception.
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot import patient_tokens
from bot.clinics import patients, registry
from bot.clinics.patients import Invite
from bot.patient_tokens import AccessDenied, Identity

NORTH = "https://north.example"
KEY = "test-secret-0123456789abcdef0123456789abcdef"  # conftest.TEST_TOKEN_SECRET
FIXTURE_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture
def invite(clinic_db: str) -> Invite:
    registry.create("north", "North clinic", origins=[NORTH])
    return patients.invite("north", timedelta(days=7))


def outcome(token: object, origin: str | None = NORTH) -> Identity | str:
    """The identity, or the reason of the refusal; any other exception fails the test."""
    try:
        return patient_tokens.verify_token(token, origin=origin)  # type: ignore[arg-type]
    except AccessDenied as denied:
        assert denied.reason in patient_tokens.MESSAGES
        assert denied.message == patient_tokens.MESSAGES[denied.reason]
        return denied.reason


def segments(token: str) -> list[bytes]:
    return [base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in token.split(".")]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@FIXTURE_SETTINGS
@given(
    token=st.one_of(
        st.none(),
        st.text(),
        st.binary(),
        st.integers(),
        st.lists(st.text(), max_size=3),
        st.dictionaries(st.text(), st.text(), max_size=3),
        st.builds(".".join, st.lists(st.text(alphabet=BASE64URL), min_size=3, max_size=3)),
    ),
    origin=st.one_of(st.none(), st.just(NORTH), st.text(max_size=30)),
)
def test_anything_as_a_token_is_refused_with_a_known_reason(
    invite: Invite, token: object, origin: str | None
) -> None:
    assert isinstance(outcome(token, origin), str)


@FIXTURE_SETTINGS
@given(data=st.data())
def test_a_real_token_with_one_character_changed_is_refused_unless_it_decodes_the_same(
    invite: Invite, data: st.DataObject
) -> None:
    """Base64 has spare bits in the last character of a segment: a change there can decode
    to the very same bytes, and is then the same token. Any other change is refused."""
    position = data.draw(st.integers(min_value=0, max_value=len(invite.token) - 1))
    replacement = data.draw(st.sampled_from(BASE64URL + ".=+/ "))
    assume(replacement != invite.token[position])
    tampered = invite.token[:position] + replacement + invite.token[position + 1 :]

    result = outcome(tampered)
    if isinstance(result, Identity):
        assert segments(tampered) == segments(invite.token)
        assert result.sender_id == invite.sender_id
    else:
        assert result in {"malformed_token", "invalid_signature"}


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@FIXTURE_SETTINGS
@given(
    algorithm=st.sampled_from(["HS384", "HS512", "none"]),
    key=st.sampled_from([KEY, "another key, long enough for every algorithm: 0123456789"]),
)
def test_the_real_claims_under_another_algorithm_are_refused(
    invite: Invite, algorithm: str, key: str
) -> None:
    claims = jwt.decode(invite.token, options={"verify_signature": False})
    forged = jwt.encode(claims, None if algorithm == "none" else key, algorithm=algorithm)
    assert outcome(forged) == "malformed_token"


@pytest.mark.slow
@FIXTURE_SETTINGS
@given(
    claims=st.dictionaries(
        st.sampled_from(["sub", "clinic", "jti", "kind", "exp", "iat", "nbf", "aud", "x"]),
        JSON_VALUES,
    ),
)
def test_any_claims_under_the_real_key_are_refused_or_name_the_real_link(
    invite: Invite, claims: dict
) -> None:
    token = jwt.encode(claims, KEY, algorithm="HS256")
    result = outcome(token)
    if isinstance(result, Identity):
        assert (result.sender_id, result.jti) == (invite.sender_id, invite.link_id)


def live_link_token(invite: Invite, exp: float, kind: str = "invite") -> str:
    """A correctly signed token for ``invite``'s live link, with the given expiry claim."""
    claims = {
        "sub": invite.sender_id,
        "clinic": "north",
        "jti": invite.link_id,
        "kind": kind,
        "exp": exp,
    }
    return jwt.encode(claims, KEY, algorithm="HS256")


#: The last second a ``datetime`` can hold.
LAST_DATE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


@FIXTURE_SETTINGS
@given(
    exp=st.one_of(
        st.integers(min_value=int(time.time()) + 86_400, max_value=int(LAST_DATE)),
        st.floats(min_value=time.time() + 86_400, max_value=LAST_DATE),
    ),
    kind=st.text(max_size=20),
)
def test_the_real_link_with_any_future_expiry_verifies(
    invite: Invite, exp: float, kind: str
) -> None:
    result = patient_tokens.verify_token(live_link_token(invite, exp, kind), origin=NORTH)
    assert result.kind == kind
    assert result.expires_at == datetime.fromtimestamp(exp, tz=UTC)


@FIXTURE_SETTINGS
@given(
    exp=st.one_of(
        st.integers(min_value=int(LAST_DATE) + 1, max_value=2**64),
        st.floats(min_value=LAST_DATE + 1, max_value=1e300),
    )
)
def test_an_expiry_beyond_any_date_is_refused_not_a_crash(invite: Invite, exp: float) -> None:
    """Only a holder of the key can sign such a token, but the promise is the same: an
    answer, never OverflowError, OSError or ValueError out of ``datetime``."""
    assert outcome(live_link_token(invite, exp)) == "malformed_token"


@FIXTURE_SETTINGS
@given(minutes=st.integers(min_value=1, max_value=60 * 24 * 365), kind=st.text(max_size=20))
def test_issue_then_verify_round_trips(invite: Invite, minutes: int, kind: str) -> None:
    expires_at = (datetime.now(UTC) + timedelta(minutes=minutes)).replace(microsecond=0)
    token = patient_tokens.issue_token(
        sender_id=invite.sender_id,
        clinic="north",
        jti=invite.link_id,
        kind=kind,
        expires_at=expires_at,
    )
    assert patient_tokens.verify_token(token, origin=NORTH) == Identity(
        sender_id=invite.sender_id,
        clinic="north",
        jti=invite.link_id,
        kind=kind,
        expires_at=expires_at,
    )
    assert (
        patient_tokens.verify_token(token, origin=None, check_origin=False).expires_at == expires_at
    )
