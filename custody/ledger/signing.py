"""The ledger's signer: where the checkpoint key lives, how it is unlocked, and the witness file.

Whoever can rewrite the database must not also be able to re-sign it. So, outside the demo and the
tests:
- the key file (LEDGER_KEY_FILE) must lie outside the data directory (CUSTODY_VAR_DIR, the SQLite
  database's directory, MEDIA_ROOT): a copy of the data, a backup or a database administrator's access
  does not carry the key;
- it is PKCS#8 encrypted with a passphrase given at start (CUSTODY_LEDGER_KEY_PASSPHRASE, or a file
  named by CUSTODY_LEDGER_KEY_PASSPHRASE_FILE, e.g. a systemd credential), and readable by its owner
  only;
- it is never created silently: a missing key could be an unmounted disk, and a new key would orphan
  every checkpoint signed before (`custody ledger keygen` creates it).
The key is used through the `Signer` interface (custody.engines.ledger.checkpoint): the file signer is
one implementation; a PKCS#11 token is the documented next one (decisions/0032).

Every checkpoint is also written, after its transaction commits, as one JSON line to the witness file
(LEDGER_WITNESS_FILE, outside the data directory too): a record the database cannot rewrite, which
`custody ledger verify --witness FILE` holds the database to.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custody.engines.ledger import Checkpoint, Frontier, key_id, sign_checkpoint
from custody.engines.ledger.checkpoint import Signer
from custody.engines.ledger.witness import witness_line

from .models import LedgerHead, SignedCheckpoint

ORIGIN = "custody/ledger"
PASSPHRASE_ENV = "CUSTODY_LEDGER_KEY_PASSPHRASE"
KEY_SETTING = "CUSTODY_LEDGER_KEY_FILE"
logger = logging.getLogger(__name__)


class SigningKeyError(ImproperlyConfigured):
    """The signing key or the witness file is missing, misplaced, unreadable or not protected."""


def relaxed() -> bool:
    """Demo, a developer's debug mode and the test suite (and the processes its tests start) may keep
    the key unencrypted in the data directory and have it made on first use."""
    return bool(settings.DEMO_MODE or settings.DEBUG or "pytest" in sys.modules
                or "PYTEST_CURRENT_TEST" in os.environ)


def data_directories() -> list[Path]:
    """Where the data lives: a copy or an administrator of any of these must not get the key."""
    dirs = [Path(settings.VAR_DIR), Path(settings.MEDIA_ROOT)]
    db = settings.DATABASES["default"]
    if db.get("ENGINE", "").endswith("sqlite3") and str(db.get("NAME", "")) not in {"", ":memory:"}:
        dirs.append(Path(str(db["NAME"])).parent)
    return [d.resolve() for d in dirs]


def check_location(path: Path, what: str, setting: str) -> Path:
    """Refuse `path` inside a data directory (outside demo and test mode), naming the directory."""
    path = Path(path).expanduser().resolve()
    if relaxed():
        return path
    for directory in data_directories():
        if path == directory or directory in path.parents:
            raise SigningKeyError(
                _("The ledger %(what)s %(path)s is inside the data directory %(dir)s: whoever copies or "
                  "administers the data would also hold it. Set %(setting)s to a path outside it (e.g. "
                  "/etc/custody/ on its own volume); see docs/ledger.md, 'Key custody'.")
                % {"what": what, "path": path, "dir": directory, "setting": setting})
    return path


def passphrase() -> bytes | None:
    """The key's passphrase, given at start: the environment variable, else the passphrase file."""
    given = os.environ.get(PASSPHRASE_ENV)
    if given:
        return given.encode("utf-8")
    name = settings.LEDGER_KEY_PASSPHRASE_FILE
    if not name:
        return None
    try:
        text = Path(name).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SigningKeyError(_("Cannot read the ledger key passphrase file %(path)s: %(error)s.")
                              % {"path": name, "error": exc.strerror}) from exc
    if not text:
        raise SigningKeyError(_("The ledger key passphrase file %(path)s is empty.") % {"path": name})
    return text.encode("utf-8")


def key_pem(key: Ed25519PrivateKey, secret: bytes | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(secret) if secret else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def write_key_file(path: Path, pem: bytes, *, replace: bool = False) -> None:
    """Write a key with owner-only permissions. Without `replace`, O_EXCL + link: two processes starting
    together agree on one key (the loser gets FileExistsError and reads the winner's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_key_file(path: Path, secret: bytes | None) -> Ed25519PrivateKey:
    """Open the key file, refusing (outside demo/test) a key others may read or that is not encrypted."""
    try:
        data = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as exc:
        raise SigningKeyError(_("Cannot read the ledger signing key %(path)s: %(error)s.")
                              % {"path": path, "error": exc.strerror}) from exc
    encrypted = b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data
    if not relaxed():
        if mode & 0o077:
            raise SigningKeyError(_("The ledger signing key %(path)s can be read by others (mode %(mode)s): "
                                    "chmod 600 it.") % {"path": path, "mode": oct(mode & 0o777)})
        if not encrypted:
            raise SigningKeyError(_("The ledger signing key %(path)s is not encrypted: encrypt it with "
                                    "`custody ledger key-encrypt` (the passphrase from %(env)s).")
                                  % {"path": path, "env": PASSPHRASE_ENV})
    if encrypted and not secret:
        raise SigningKeyError(_("The ledger signing key %(path)s is encrypted: give its passphrase in %(env)s "
                                "or in the file named by CUSTODY_LEDGER_KEY_PASSPHRASE_FILE.")
                              % {"path": path, "env": PASSPHRASE_ENV})
    try:
        key = serialization.load_pem_private_key(data, password=secret if encrypted else None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(_("The passphrase does not open the ledger signing key %(path)s (or the file is "
                                "damaged).") % {"path": path}) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(_("%(path)s does not hold an Ed25519 private key.") % {"path": path})
    return key


class FileSigner:
    """The checkpoint key from a (passphrase-encrypted) PKCS#8 file, held in this process's memory."""

    def __init__(self, path: Path, secret: bytes | None, *, create: bool) -> None:
        self.path = path
        if not path.exists():
            if not create:
                raise SigningKeyError(
                    _("There is no ledger signing key at %(path)s. Create it once with `custody ledger keygen` "
                      "(its passphrase from %(env)s); if it exists elsewhere, set CUSTODY_LEDGER_KEY_FILE.")
                    % {"path": path, "env": PASSPHRASE_ENV})
            try:
                write_key_file(path, key_pem(Ed25519PrivateKey.generate(), secret))
            except FileExistsError:
                pass  # another process made it first: use theirs
        self._key = load_key_file(path, secret)
        self.key_id = key_id(self._key.public_key())

    def public_key(self) -> Ed25519PublicKey:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


@lru_cache(maxsize=4)
def _key_for(path: str, secret: bytes | None = None, create: bool = True) -> FileSigner:
    return FileSigner(Path(path), secret, create=create)


def signing_key() -> Signer:
    """The log's signer (unlocked once per process)."""
    if settings.LEDGER_SIGNER != "file":
        raise SigningKeyError(_("Unknown ledger signer %(name)r: only 'file' is built (a PKCS#11 token is the "
                                "documented next one).") % {"name": settings.LEDGER_SIGNER})
    path = check_location(Path(settings.LEDGER_KEY_FILE), _("signing key"), KEY_SETTING)
    # Checked here too, before any append commits: a misplaced witness file is refused at the first
    # signature, not discovered after the commit, when its line can only be logged as lost.
    witness_file()
    return _key_for(str(path), passphrase(), relaxed())


def public_key_id() -> str:
    return key_id(signing_key().public_key())


def create_key(path: Path, secret: bytes | None) -> str:
    """`custody ledger keygen`: a new encrypted key at `path` (refused where one exists). Its key id."""
    if secret is None and not relaxed():
        raise SigningKeyError(_("Give the new key's passphrase in %(env)s or CUSTODY_LEDGER_KEY_PASSPHRASE_FILE.")
                              % {"env": PASSPHRASE_ENV})
    key = Ed25519PrivateKey.generate()
    try:
        write_key_file(check_location(path, _("signing key"), KEY_SETTING), key_pem(key, secret))
    except FileExistsError:
        raise SigningKeyError(_("%(path)s already exists: a second key would orphan the checkpoints the first "
                                "one signed.") % {"path": path}) from None
    return key_id(key.public_key())


def encrypt_key(path: Path, secret: bytes) -> str:
    """`custody ledger key-encrypt`: re-write an unencrypted key file encrypted, same key. Its key id."""
    data = path.read_bytes()
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in data:
        raise SigningKeyError(_("%(path)s is already encrypted.") % {"path": path})
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(_("%(path)s does not hold an Ed25519 private key.") % {"path": path})
    write_key_file(path, key_pem(key, secret), replace=True)
    _key_for.cache_clear()
    return key_id(key.public_key())


# ---------------------------------------------------------------- the witness file


def witness_file() -> Path | None:
    name = settings.LEDGER_WITNESS_FILE
    if not name:
        if relaxed():
            return None
        raise SigningKeyError(_("CUSTODY_LEDGER_WITNESS_FILE is not set: every checkpoint must also be kept "
                                "outside the database."))
    return check_location(Path(name), _("witness file"), "CUSTODY_LEDGER_WITNESS_FILE")


def append_to_witness(checkpoints: list[Checkpoint]) -> None:
    """One JSON line per checkpoint, appended with a single write (O_APPEND: lines from several processes
    do not interleave). Not fsynced: a power cut may lose the last seconds of lines, never corrupt
    earlier ones, and the next checkpoint extends the ones lost."""
    path = witness_file()
    if path is None or not checkpoints:
        return
    data = b"".join(witness_line(cp) for cp in checkpoints)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        # The append has committed; its checkpoint is in the database and the next one extends it.
        logger.error("ledger witness file %s: %s (checkpoint at size %s not witnessed)", path, exc,
                     checkpoints[-1].tree_size)


# ---------------------------------------------------------------- checkpoints


def checkpoint_of(row: SignedCheckpoint) -> Checkpoint:
    return Checkpoint(row.origin, row.tree_size, bytes(row.root_hash), row.timestamp, row.key_id, bytes(row.signature))


def checkpoint_row(key: Signer, size: int, root_hash: bytes, now: datetime) -> SignedCheckpoint:
    cp = sign_checkpoint(key, ORIGIN, size, root_hash, now)
    return SignedCheckpoint(tree_size=cp.tree_size, root_hash=cp.root_hash, timestamp=cp.timestamp,
                            key_id=cp.key_id, signature=cp.signature, origin=cp.origin)


def store_checkpoints(rows: list[SignedCheckpoint]) -> None:
    """Insert signed checkpoints in the caller's transaction; witness them once it commits (a witnessed
    checkpoint the database then rolled back would look like a truncation)."""
    if not rows:
        return
    SignedCheckpoint.objects.bulk_create(rows)
    cps = [checkpoint_of(r) for r in rows]
    transaction.on_commit(lambda: append_to_witness(cps), robust=True)


def lock_head() -> LedgerHead:
    """The ledger's head row, locked for this transaction (created by the first append)."""
    head = LedgerHead.objects.select_for_update().filter(pk=1).first()
    if head is None:
        try:
            with transaction.atomic():
                LedgerHead.objects.create(pk=1)
        except IntegrityError:
            pass  # created by a concurrent first append
        head = LedgerHead.objects.select_for_update().get(pk=1)
    return head



def sign_now() -> SignedCheckpoint | None:
    """A checkpoint at the current size (for bundles and `custody ledger checkpoint`), unless one exists."""
    with transaction.atomic():
        head = lock_head()
        last = SignedCheckpoint.objects.order_by("-tree_size", "-id").first()
        if head.size == 0:
            return None
        if last is not None and last.tree_size == head.size:
            return last
        frontier = Frontier(head.size, [bytes.fromhex(h) for h in head.frontier])
        now = timezone.now()
        row = checkpoint_row(signing_key(), head.size, frontier.root(), now)
        store_checkpoints([row])
        head.last_checkpoint_size, head.last_checkpoint_at = head.size, now
        head.save()
        return row


def sign_if_due(now: datetime | None = None) -> SignedCheckpoint | None:
    """Every append transaction ends signed, so this only finds work after events were added some other
    way (a log from before that rule, a restore): it signs events left unsigned for M minutes."""
    now = now or timezone.now()
    head = LedgerHead.objects.filter(pk=1).first()
    if head is None or head.size <= head.last_checkpoint_size:
        return None
    since = head.last_checkpoint_at
    if since is not None and now - since < timedelta(minutes=settings.LEDGER_CHECKPOINT_MINUTES):
        return None
    return sign_now()

