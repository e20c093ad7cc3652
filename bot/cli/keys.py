"""``python -m bot keys …``: the keys that seal patient text at rest (see :mod:`bot.encryption`).

- ``status``: where the keys come from, their ids (never the keys), and per store how many
  rows each key sealed;
- ``new``: a fresh key, for deployments that give the keys in ``COMPANION_DATA_KEYS``;
- ``rotate``: a new key first in the key file, then every row sealed again with it. The
  servers may keep running: they re-read the key file when it changes, seal with the new key
  from then on and still open what the old keys sealed. ``--resume`` only seals again (after
  an interruption, or after an operator put a new key first in ``COMPANION_DATA_KEYS``);
- ``retire``: drop every key but the newest from the key file, once no row needs them.

Registrars in the style of :mod:`bot.cli`, which lists them.
"""

from __future__ import annotations

import argparse
import sys

from bot.cli.common import CommandError, SubParsers, command_group, database_errors

#: Passes over the stores before ``rotate`` gives up on rows that running servers keep
#: writing with an old key (each pass seals what the one before could not see yet).
MAX_PASSES = 5


def _keyring():  # noqa: ANN202 - bot.encryption is imported lazily
    from bot import encryption

    try:
        return encryption.keyring()
    except encryption.EncryptionError as error:
        raise CommandError(f"Cannot read the data keys: {error}") from error


def _source() -> str:
    from bot import encryption

    if encryption.keys_from_environment():
        return f"the environment variable {encryption.ENV_KEYS}"
    return f"the key file {encryption.keys_file()}"


def _count_by_key() -> dict[str, dict[str, int]]:
    """Per store, how many rows each key id (or ``plaintext``) sealed; a store whose table
    does not exist yet is missing."""
    from bot.storage import db, rekey

    with database_errors(), db.get_engine().connect() as connection:
        return rekey.count_by_key(connection)


def _save_keys(keys: list[str]) -> None:
    """Write the key file (newest first) and make this process read it again."""
    from bot import encryption

    encryption.write_keys_file(keys)
    encryption.reset()


# ----------------------------------------------------------------------------- status


def _status(args: argparse.Namespace) -> int:
    from bot.storage import db, rekey

    ring = _keyring()
    print(f"Keys from {_source()}, newest first:")
    for kid in ring.key_ids:
        print(f"  {kid}  {'seals and opens' if kid == ring.primary else 'opens only'}")
    counts = _count_by_key()
    print(f"Rows in {db.display_url()}:")
    unknown: set[str] = set()
    for store in rekey.STORES:
        if store.name not in counts:
            print(f"  {store.name}: no table yet")
            continue
        by_key = counts[store.name]
        parts = [f"{name} {count}" for name, count in sorted(by_key.items())] or ["none"]
        print(f"  {store.name}: {', '.join(parts)}")
        unknown |= {name for name in by_key if name != "plaintext" and name not in ring.fernets}
    if unknown:
        print(
            f"Rows sealed with keys that are not configured ({', '.join(sorted(unknown))}) "
            "cannot be read: restore those keys from your backup.",
            file=sys.stderr,
        )
    return 0


# ----------------------------------------------------------------------------- new


def _new(args: argparse.Namespace) -> int:
    from bot import encryption

    print(encryption.new_key())
    return 0


# ----------------------------------------------------------------------------- rotate


def _checkpoint() -> None:
    """On SQLite, copy the write-ahead log into the database file and empty it, so that no
    page copy from before the reseal stays there (deleted pages are zeroed: secure_delete)."""
    from bot.storage import db

    engine = db.get_engine()
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        busy, _log, _done = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.close()
    if busy:
        print(
            "The write-ahead log is in use by a running server and could not be emptied "
            "now; SQLite empties it at its next checkpoint.",
            file=sys.stderr,
        )


def reseal_all(batch: int) -> dict[str, int]:
    """Seal every store with the newest key, pass after pass until nothing is left (rows a
    running server wrote with the old key while a pass went on); what is left at the end."""
    from bot.storage import db, rekey

    engine = db.get_engine()

    def progress(store: str, last_id: int) -> None:
        print(f"  {store}: sealed up to row {last_id}", flush=True)

    pending: dict[str, int] = {}
    for _ in range(MAX_PASSES):
        rekey.reseal_engine(engine, batch=batch, progress=progress)
        with engine.connect() as connection:
            pending = {name: n for name, n in rekey.count_pending(connection).items() if n}
        if not pending:
            break
    return pending


def _rotate(args: argparse.Namespace) -> int:
    from bot import encryption
    from bot.storage import db

    if not args.resume:
        if encryption.keys_from_environment():
            raise CommandError(
                f"The keys come from {encryption.ENV_KEYS}, which this command cannot change. "
                "Make a key with `python -m bot keys new`, put it first in "
                f"{encryption.ENV_KEYS} (keep the old keys after it, comma-separated), restart "
                "the servers, then run `python -m bot keys rotate --resume`."
            )
        encryption.ensure_keys_file()
        keys = encryption.read_keys_file()
        key = encryption.new_key()
        _save_keys([key, *keys])
        print(f"Added key {encryption.key_id(key)} first in {encryption.keys_file()}.")
    ring = _keyring()
    print(f"Sealing every row with key {ring.primary} ...", flush=True)
    with database_errors():
        db.ensure_schema()
        try:
            pending = reseal_all(args.batch)
        except encryption.EncryptionError as error:
            raise CommandError(f"Stopped: {error}. Nothing sealed so far is lost.") from error
        if pending:
            counts = ", ".join(f"{name} {n}" for name, n in sorted(pending.items()))
            raise CommandError(
                f"Rows still not sealed with key {ring.primary} ({counts}): a server may still "
                "use an old key. Run `python -m bot keys rotate --resume` again."
            )
        _checkpoint()
    print(f"Every row is sealed with key {ring.primary}.")
    if len(ring.key_ids) > 1:
        print("The older keys still open backups; `python -m bot keys retire` removes them.")
    return 0


# ----------------------------------------------------------------------------- retire


def _retire(args: argparse.Namespace) -> int:
    from bot import encryption

    if encryption.keys_from_environment():
        raise CommandError(
            f"The keys come from {encryption.ENV_KEYS}: remove the old keys there yourself, once "
            "`python -m bot keys status` shows no row sealed with them."
        )
    ring = _keyring()
    retired = [kid for kid in ring.key_ids if kid != ring.primary]
    if not retired:
        print(f"Only key {ring.primary} is in {encryption.keys_file()}; nothing to retire.")
        return 0
    counts = _count_by_key()
    still = [
        f"{store} {count} with {kid}"
        for store, by_key in counts.items()
        for kid, count in sorted(by_key.items())
        if kid in retired
    ]
    if still:
        raise CommandError(
            f"Not retiring: rows are still sealed with an old key ({', '.join(still)}). "
            "Run `python -m bot keys rotate --resume` first."
        )
    keys = encryption.read_keys_file()
    _save_keys([key for key in keys if encryption.key_id(key) == ring.primary])
    with database_errors():
        _checkpoint()
    print(f"Retired {', '.join(retired)}; {encryption.keys_file()} holds key {ring.primary} only.")
    return 0


# ----------------------------------------------------------------------------- registrar


def register_keys(subparsers: SubParsers) -> None:
    actions = command_group(
        subparsers,
        "keys",
        help="the keys that seal patient text at rest",
        description="Show, make, rotate and retire the keys that seal patient text at rest. "
        "No command prints a key in use.",
    )
    status = actions.add_parser(
        "status",
        help="where the keys come from, their ids and how many rows each sealed",
        description="Where the keys come from, their ids (never the keys) and, per store, "
        "how many rows each key sealed or are still plaintext.",
    )
    status.set_defaults(handler=_status)
    new = actions.add_parser(
        "new",
        help="print a fresh key (for COMPANION_DATA_KEYS)",
        description="Print a fresh random key, for deployments that keep their keys in "
        "COMPANION_DATA_KEYS (a secret manager). It is used only once you configure it.",
    )
    new.set_defaults(handler=_new)
    rotate = actions.add_parser(
        "rotate",
        help="add a new key and seal every row with it (servers may keep running)",
        description="Add a new key first in the key file, then seal every stored row with it "
        "in committed batches. Running servers pick up the new key by themselves. An "
        "interrupted run loses nothing: run it again with --resume.",
    )
    rotate.add_argument(
        "--resume",
        action="store_true",
        help="do not add a key; seal with the newest key what is not sealed with it yet",
    )
    rotate.add_argument(
        "--batch", type=int, default=500, metavar="ROWS", help="rows per committed batch"
    )
    rotate.set_defaults(handler=_rotate)
    retire = actions.add_parser(
        "retire",
        help="remove every key but the newest, once no row needs them",
        description="Remove every key but the newest from the key file. Refuses while any "
        "row is still sealed with one of them. Backups of the database made before the "
        "rotation can no longer be read without a copy of the old key file.",
    )
    retire.set_defaults(handler=_retire)
