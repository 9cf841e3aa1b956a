"""Partner witnesses: an agency fetches our latest checkpoint with a consistency proof from the last
one it kept, checks both, keeps the checkpoint in its own witness file and may countersign it.

Both ends are here: `offer` (what `GET /api/ledger/witness/?from=N` answers), `receive_cosignature`
(`POST /api/ledger/witness/`) and `keep` (the partner's side, run by `custody ledger witness FILE`,
which reads the offer over HTTPS from our API or, for the operator's own offline witness, from the
local database). `keep` appends nothing unless the new checkpoint is signed by the pinned key and
provably extends the last one in the file: a partner told a different history is told so, by name.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from custody.core.errors import RuleError
from custody.engines.ledger import Checkpoint, CheckpointError, public_from_raw, verify_consistency
from custody.engines.ledger.checkpoint import Signer, b64, key_id, public_raw, unb64
from custody.engines.ledger.witness import Cosignature, cosign, read_witness, witness_line

from .models import SignedCheckpoint, WitnessCosignature

WITNESS_NAME_MAX = WitnessCosignature._meta.get_field("witness").max_length or 100


def offer(from_size: int | None) -> dict[str, Any]:
    """The latest checkpoint (signing one if events stand unsigned), our public key, and a consistency
    proof from `from_size` (the size of the last checkpoint the partner kept)."""
    from .services import consistency_for, latest_checkpoint, sign_now
    from .signing import checkpoint_of, signing_key

    row = sign_now() or latest_checkpoint()
    if row is None:
        raise RuleError(_("The ledger is empty: there is no checkpoint to witness yet."), rule="witness")
    cp = checkpoint_of(row)
    public = public_raw(signing_key().public_key())
    out: dict[str, Any] = {"checkpoint": cp.to_json(), "public_key": b64(public), "key_id": key_id(public)}
    if from_size is not None:
        if from_size < 0:
            raise RuleError(_("'from' is the size of the last checkpoint you kept: 0 or more."), rule="from")
        out["from"] = from_size
        # A witness that kept a larger log than this one is answered, not refused: the latest checkpoint
        # without a proof is how it learns the log was cut back.
        out["consistency_proof"] = ([b64(h) for h in consistency_for(from_size, cp.tree_size)]
                                    if 0 < from_size <= cp.tree_size else [])
    return out


def receive_cosignature(payload: Any, *, user: Any) -> tuple[WitnessCosignature, bool]:
    """Store a partner's countersignature of one of our checkpoints, after checking that the checkpoint
    is ours (the row at that size, byte for byte) and the signature verifies. (row, created)."""
    from .signing import checkpoint_of

    if not isinstance(payload, dict):
        raise RuleError(_("Send an object with 'checkpoint' and 'cosignature'."), rule="cosignature")
    try:
        cp = Checkpoint.from_json(payload.get("checkpoint"))  # type: ignore[arg-type]
    except (CheckpointError, AttributeError) as exc:
        raise RuleError(_("Field 'checkpoint': %(error)s.") % {"error": exc}, rule="checkpoint") from exc
    try:
        cosig = Cosignature.from_json(payload.get("cosignature"))
    except CheckpointError as exc:
        raise RuleError(_("Field 'cosignature': %(error)s.") % {"error": exc}, rule="cosignature") from exc
    if len(cosig.witness) > WITNESS_NAME_MAX:
        raise RuleError(_("Field 'cosignature': the witness name is at most %(n)s characters.")
                        % {"n": WITNESS_NAME_MAX}, rule="cosignature")
    ours = [checkpoint_of(r) for r in SignedCheckpoint.objects.filter(tree_size=cp.tree_size)]
    if cp not in ours:
        raise RuleError(_("Field 'checkpoint': no checkpoint of this log at size %(size)s has that root, time and "
                          "signature.") % {"size": cp.tree_size}, rule="checkpoint")
    if not cosig.verify(cp):
        raise RuleError(_("Field 'cosignature': the signature does not verify under the public key sent "
                          "(key id %(kid)s).") % {"kid": cosig.key_id}, rule="cosignature")
    existing = WitnessCosignature.objects.filter(tree_size=cp.tree_size, key_id=cosig.key_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            row = WitnessCosignature.objects.create(
                tree_size=cp.tree_size, root_hash=cp.root_hash, checkpoint_timestamp=cp.timestamp,
                witness=cosig.witness, agency=getattr(user, "agency", None), key_id=cosig.key_id,
                public_key=cosig.public_key, timestamp=cosig.timestamp, signature=cosig.signature,
                received_by=user if getattr(user, "is_authenticated", False) else None)
    except IntegrityError:  # the same countersignature sent twice at once
        return WitnessCosignature.objects.get(tree_size=cp.tree_size, key_id=cosig.key_id), False
    return row, True


class WitnessRefused(Exception):
    """The offer does not extend what the witness file holds, or is not signed by the pinned key."""


@dataclass
class Kept:
    checkpoint: Checkpoint
    previous_size: int | None
    appended: bool
    cosignature: Cosignature | None


def last_kept(path: Path) -> Checkpoint | None:
    if not path.exists():
        return None
    parsed = read_witness(path.read_bytes(), str(path))
    if parsed.problems:
        raise WitnessRefused(parsed.problems[0].message)
    return max((e.checkpoint for e in parsed.entries), key=lambda c: c.tree_size, default=None)


def keep(path: Path, offered: dict[str, Any], *, pinned_key_id: str | None, witness_name: str = "",
         cosigner: Signer | None = None) -> Kept:
    """Check an offer against the witness file at `path` and append its checkpoint (countersigned when
    `cosigner` is given). The key is pinned by `pinned_key_id`, else by the file's earlier checkpoints."""
    last = last_kept(path)
    try:
        cp = Checkpoint.from_json(offered["checkpoint"])
        public = unb64(offered["public_key"], length=32)
        proof = [unb64(h, length=32) for h in offered.get("consistency_proof", [])]
    except (KeyError, TypeError, CheckpointError) as exc:
        raise WitnessRefused(f"the answer is not a checkpoint offer: {exc}") from exc
    pin = pinned_key_id or (last.key_id if last else None)
    if pin is None:
        raise WitnessRefused("no key id to trust: give --key-id (from the operator, out of band) for the first checkpoint")
    if key_id(public) != pin or cp.key_id != pin:
        raise WitnessRefused(f"the checkpoint is signed by key {cp.key_id}, not the pinned {pin}: the log's key was "
                             "replaced, or this is not the log you witness")
    if not cp.verify(public_from_raw(public)):
        raise WitnessRefused(f"the checkpoint at size {cp.tree_size} does not carry a valid signature")
    if last is not None:
        if cp.tree_size < last.tree_size:
            raise WitnessRefused(f"the log offers {cp.tree_size} events but you kept a checkpoint at {last.tree_size}: "
                                 "TRUNCATED")
        if offered.get("from") != last.tree_size:
            raise WitnessRefused(f"the consistency proof is from size {offered.get('from')}, not {last.tree_size}")
        if not verify_consistency(last.tree_size, cp.tree_size, last.root_hash, cp.root_hash, proof):
            raise WitnessRefused(f"the log at {cp.tree_size} events does not extend the checkpoint you kept at "
                                 f"{last.tree_size} ({last.timestamp}): REWRITTEN")
        if cp == last:
            return Kept(cp, last.tree_size, False, None)
    cosig = cosign(cosigner, witness_name, cp, datetime.now(UTC)) if cosigner is not None else None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, witness_line(cp, [cosig] if cosig else []))
        os.fsync(fd)  # a partner's file is written once a fetch, not once an append: make it durable
    finally:
        os.close(fd)
    return Kept(cp, last.tree_size if last else None, True, cosig)


def cosignature_payload(kept: Kept) -> dict[str, Any]:
    assert kept.cosignature is not None
    return {"checkpoint": kept.checkpoint.to_json(), "cosignature": kept.cosignature.to_json()}


def fetch_offer(url: str, token: str, from_size: int | None) -> dict[str, Any]:
    """GET {url}/api/ledger/witness/?from=N with a bearer token (the partner's API account)."""
    import urllib.parse
    import urllib.request

    query = f"?{urllib.parse.urlencode({'from': from_size})}" if from_size is not None else ""
    req = urllib.request.Request(f"{url.rstrip('/')}/api/ledger/witness/{query}",
                                 headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310 (the operator gives the URL)
        return json.loads(resp.read())


def post_cosignature(url: str, token: str, payload: dict[str, Any]) -> int:
    import urllib.request

    req = urllib.request.Request(f"{url.rstrip('/')}/api/ledger/witness/", data=json.dumps(payload).encode(),
                                 method="POST", headers={"Authorization": f"Bearer {token}",
                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
        return int(resp.status)
