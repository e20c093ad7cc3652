"""Encryption at rest of everything a patient wrote or said.

Journal text, the messages that raised risk flags and every event in Rasa's tracker store are
stored as *sealed* strings::

    enc1:<key id>:<Fernet token>

Fernet (from the ``cryptography`` package) is authenticated encryption: AES-128-CBC with an
HMAC-SHA256 over the whole token, so a changed byte is detected, not decrypted into garbage.
The key id (the first 8 hex digits of the key's SHA-256) says which key sealed a value, which
is what makes key rotation resumable: a row still sealed with an older key can be found with a
plain ``LIKE 'enc1:<id>:%'`` query, without trying to decrypt every row.

Keys, newest first:

- ``COMPANION_DATA_KEYS``: comma-separated Fernet keys (production: from a secret manager);
- otherwise ``var/secrets/data.keys`` (under ``COMPANION_VAR_DIR``; ``COMPANION_DATA_KEYS_FILE``
  names another file), one key per line, created with permissions 0600 on first start.
  ``var/`` is never committed. Losing every key means losing every sealed text: back the key
  file up, apart from the database backups.

The newest key seals; every listed key opens. The key file is re-read whenever it changes
(one ``stat`` per call), so ``python -m bot keys rotate`` can add a key while the Rasa server,
the action server and the web app keep running: they seal with the new key from their next
write on, and still open rows sealed with the old ones.

This module runs in both environments (Rasa's and the application's) and depends on nothing
but the standard library, ``cryptography`` and :mod:`bot.settings`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from bot import settings

PREFIX = "enc1:"
ENV_KEYS = "COMPANION_DATA_KEYS"
ENV_KEYS_FILE = "COMPANION_DATA_KEYS_FILE"


class EncryptionError(RuntimeError):
    """A sealed value cannot be opened (unknown key, or the bytes were changed), or no key is
    configured. Never raised for a value that was simply stored before encryption existed."""


def key_id(key: bytes | str) -> str:
    """The public name of ``key``: 8 hex digits of its SHA-256, safe to store beside data."""
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(raw.strip()).hexdigest()[:8]


def new_key() -> str:
    """A fresh random Fernet key (32 random bytes, URL-safe base64)."""
    return Fernet.generate_key().decode()


@dataclass(frozen=True)
class Keyring:
    """The keys in use: ``primary`` seals, every key in ``fernets`` opens."""

    primary: str
    fernets: dict[str, Fernet]
    source: str

    @classmethod
    def from_keys(cls, keys: list[str], source: str) -> Keyring:
        cleaned = [key.strip() for key in keys if key.strip()]
        if not cleaned:
            raise EncryptionError(f"no data encryption key in {source}")
        fernets: dict[str, Fernet] = {}
        for key in cleaned:
            try:
                fernets.setdefault(key_id(key), Fernet(key.encode()))
            except ValueError:
                raise EncryptionError(
                    f"{source} holds a value that is not a Fernet key "
                    "(32 url-safe base64-encoded bytes; make one with `python -m bot keys new`)"
                ) from None
        return cls(primary=key_id(cleaned[0]), fernets=fernets, source=source)

    @property
    def key_ids(self) -> list[str]:
        """Key ids, primary (newest) first."""
        return list(self.fernets)

    def seal(self, plaintext: str) -> str:
        token = self.fernets[self.primary].encrypt(plaintext.encode("utf-8"))
        return f"{PREFIX}{self.primary}:{token.decode('ascii')}"

    def open(self, sealed: str) -> str:
        kid, token = _split(sealed)
        fernet = self.fernets.get(kid)
        if fernet is None:
            raise EncryptionError(f"value sealed with key {kid}, which is not in {self.source}")
        try:
            return fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise EncryptionError(
                f"value sealed with key {kid} failed authentication (changed or corrupt)"
            ) from None


def _split(sealed: str) -> tuple[str, str]:
    body = sealed[len(PREFIX) :]
    kid, sep, token = body.partition(":")
    if not sep or len(kid) != 8:
        raise EncryptionError("malformed sealed value")
    return kid, token


def is_sealed(value: object) -> bool:
    """Whether ``value`` is a sealed string (as opposed to plaintext stored before)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def sealed_key_id(value: str) -> str | None:
    """The id of the key that sealed ``value``; ``None`` for plaintext."""
    return _split(value)[0] if is_sealed(value) else None


# ----------------------------------------------------------------------------- key sources


def keys_file() -> Path:
    named = os.environ.get(ENV_KEYS_FILE)
    return Path(named) if named else settings.VAR_DIR / "secrets" / "data.keys"


def keys_from_environment() -> bool:
    """Whether the keys come from ``COMPANION_DATA_KEYS`` (then the key file is not used)."""
    return bool(os.environ.get(ENV_KEYS, "").strip())


def ensure_keys_file() -> Path | None:
    """Create the key file with one new key if there is none; ``None`` when keys come from
    the environment. Two processes starting at once may race: ``O_EXCL`` lets exactly one
    write the key and the other reads what the first wrote."""
    if keys_from_environment():
        return None
    path = keys_file()
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w") as handle:
        handle.write(new_key() + "\n")
    return path


def write_keys_file(keys: list[str]) -> Path:
    """Replace the key file atomically (a reader sees the old list or the new, never half)."""
    path = keys_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(key.strip() + "\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return path


def read_keys_file() -> list[str]:
    path = keys_file()
    for _ in range(50):
        keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        if keys:
            return keys
        time.sleep(0.01)  # created by another process a moment ago, not yet written
    raise EncryptionError(f"{path} holds no key: restore it from your backup")


_lock = threading.Lock()
_cached: tuple[object, Keyring] | None = None


def _source_state() -> object:
    if keys_from_environment():
        return ("env", os.environ[ENV_KEYS])
    path = keys_file()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return ("missing", str(path))
    return ("file", str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)


def keyring() -> Keyring:
    """The current keys; re-read when the environment variable or the key file changed.

    The key file is created on first use if it does not exist (``make run`` creates it before
    any server starts, so in practice the servers only ever read it).
    """
    global _cached
    with _lock:
        state = _source_state()
        if _cached is not None and _cached[0] == state:
            return _cached[1]
        if keys_from_environment():
            ring = Keyring.from_keys(os.environ[ENV_KEYS].split(","), ENV_KEYS)
        else:
            ensure_keys_file()
            state = _source_state()
            ring = Keyring.from_keys(read_keys_file(), str(keys_file()))
        _cached = (state, ring)
        return ring


def reset() -> None:
    """Forget the cached keys (tests that switch key files)."""
    global _cached
    with _lock:
        _cached = None


# ----------------------------------------------------------------------------- values


def seal(plaintext: str) -> str:
    """``plaintext`` sealed with the newest key."""
    return keyring().seal(plaintext)


def open_value(value: str) -> str:
    """The plaintext of a sealed ``value``; a value stored before encryption existed (no
    ``enc1:`` prefix) is returned as it is, so that old rows stay readable until
    ``python -m bot keys rotate`` has sealed them."""
    if not is_sealed(value):
        return value
    ring = keyring()
    try:
        return ring.open(value)
    except EncryptionError:
        # A key added by another process a moment ago (key file rewritten within the same
        # mtime tick): read the keys again once before giving up.
        reset()
        return keyring().open(value)
