"""`cli.py keys ...`: the field-encryption keyring (generate, status, rotate, retire).

The keyring is the key file (``DARAPORT_KEY_FILE`` or ``<data dir>/keyring.json``); with
``DARAPORT_KEYRING`` set, ``status`` and ``rotate`` (to the primary it names) work and the
commands that edit the file are refused. See :mod:`engine.crypto` and :mod:`engine.crypto_keys`.
"""

from __future__ import annotations

import click

from engine.crypto import CryptoError


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group()
def keys() -> None:
    """Field-encryption keys: generate, status, rotate, retire."""


@keys.command("generate")
def keys_generate() -> None:
    """Add a new key to the keyring file (not primary: `keys rotate KID` makes it primary)."""
    from engine import crypto_keys
    from engine.db import brand_session
    from engine.runtime import current

    try:
        kid = crypto_keys.generate_key()
    except CryptoError as exc:
        raise _fail(exc) from exc
    with brand_session(current().sessions, None) as session:
        crypto_keys.record_key_event(session, "keys.generate", kid)
        session.commit()
    click.echo(f"generated key {kid} (not primary); run `keys rotate {kid}` to use it")


@keys.command("status")
def keys_status() -> None:
    """The keys, and how many rows of each encrypted column (and files of each file store,
    such as messaging attachments) use each key."""
    from engine import crypto, crypto_keys
    from engine.db import brand_session
    from engine.runtime import current

    try:
        ring = crypto.keyring()
        with brand_session(current().sessions, None) as session:
            counts = crypto_keys.status(session)
    except CryptoError as exc:
        raise _fail(exc) from exc
    click.echo(f"keyring: {ring.source}")
    for kid in sorted(ring.keys, key=lambda k: ring.created.get(k, "")):
        mark = " (primary)" if kid == ring.primary else ""
        click.echo(f"  key {kid}{mark} created {ring.created.get(kid) or 'unknown'}")
    for name, per_key in counts.items():
        shown = ", ".join(f"{k}: {n}" for k, n in sorted(per_key.items())) or (
            "no files" if name.startswith("files:") else "no rows")
        click.echo(f"{name}: {shown}")


@keys.command("rotate")
@click.argument("kid", required=False)
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(min=1),
              help="Rows (or files) re-encrypted and committed per transaction.")
def keys_rotate(kid: str | None, batch_size: int) -> None:
    """Make KID primary and re-encrypt every encrypted column's rows under it, then re-seal the
    files of every file store (messaging attachments) under it, each to a new name.

    Without KID, continue (or check) the rotation to the current primary key. Interrupted runs
    resume where they stopped: run the same command again.
    """
    from engine import crypto, crypto_keys
    from engine.runtime import current

    try:
        if kid is not None:
            crypto_keys.make_primary(kid)
        target = crypto.keyring().primary
        click.echo(f"re-encrypting under key {target} in batches of {batch_size}")
        result = crypto_keys.rotate(
            current().sessions, batch_size=batch_size,
            after_batch=lambda n: click.echo(f"  {n} rows re-encrypted", err=True))
    except CryptoError as exc:
        raise _fail(exc) from exc
    rate = result.rows / result.seconds if result.seconds else 0.0
    click.echo(f"{'resumed; ' if result.resumed else ''}{result.rows} rows re-encrypted under "
               f"{result.target_kid} in {result.batches} batches ({result.seconds:.1f} s, "
               f"{rate:.0f} rows/s), {result.files} files re-sealed; every encrypted column "
               f"is on {result.target_kid}")


@keys.command("retire")
@click.argument("kid")
def keys_retire(kid: str) -> None:
    """Remove KID from the keyring; refused while it is primary or any row or file uses it."""
    from engine import crypto_keys
    from engine.db import brand_session
    from engine.runtime import current

    try:
        with brand_session(current().sessions, None) as session:
            crypto_keys.retire_key(session, kid)
            session.commit()  # the audit event of the retirement
    except (CryptoError, crypto_keys.KeyInUse) as exc:
        raise _fail(exc) from exc
    click.echo(f"retired key {kid}")
