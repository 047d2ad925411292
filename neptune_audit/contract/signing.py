"""Signed artefacts: every byte of a report (HTML) or an executed notebook, signed with a local key or AWS KMS.

The signature is *detached*, in ``FILE.sig`` beside the artefact, so the artefact stays exactly what a browser or
JupyterLab opens and every one of its bytes is covered.  ``FILE.sig`` is a DSSE envelope (the format in-toto and
Sigstore use) around an in-toto Statement v1 whose subject is the artefact's SHA-256; the predicate names the
key, the signer and the run's evidence hash.  DSSE signs ``PAE(payloadType, payload)``, a short byte string, so:

- KMS signs it as a ``RAW`` message (at most 4,096 bytes, KMS ``Sign`` API reference), hashing it itself;
- anyone can verify without the kit: ``openssl dgst -sha256 -verify`` (ECDSA P-256, RSA) or
  ``openssl pkeyutl -verify -rawin`` (Ed25519) over the PAE bytes, then ``sha256sum`` of the artefact
  (README, "Signing and verifying reports").

Keys: local PEM private keys, Ed25519 or ECDSA P-256 (``NEPTUNE_AUDIT_KEY_PASSWORD`` for an encrypted one); or
``kms:KEY-ID|ARN|ALIAS``, an asymmetric ``SIGN_VERIFY`` key of spec ``ECC_NIST_P256`` (``ECDSA_SHA_256``) or
``RSA_2048/3072/4096`` (``RSASSA_PKCS1_V1_5_SHA_256``), used through the standard AWS credential chain
(``kms:GetPublicKey`` once to name it, ``kms:Sign`` once per file).  A key is named by the SHA-256 of its
public key (DER SubjectPublicKeyInfo): ``SHA256:<hex>``, what
``openssl pkey -pubin -in PUB.pem -outform DER | sha256sum`` prints.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from neptune_audit._version import __version__
from neptune_audit.contract import notebook
from neptune_audit.errors import InputError, UsageError, one_line
from neptune_audit.inputs import MB, read_bytes, strict_json

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "urn:neptune-audit:signed-artefact:1"
SUFFIX = ".sig"
MAX_SIGNATURE = 1 * MB
ED25519, ECDSA, RSA = "ed25519", "ecdsa-p256-sha256", "rsa-pkcs1v15-sha256"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what is actually signed."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _spki(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(public_key) -> str:
    return "SHA256:" + hashlib.sha256(_spki(public_key)).hexdigest()


def public_pem(public_key) -> str:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def _algorithm_of(public_key) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return ED25519
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        return ECDSA
    if isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size >= 2048:
        return RSA
    raise InputError("the key is neither Ed25519, ECDSA P-256 nor RSA (2048 bits or more): refused")


def verify_bytes(public_key, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding

    algorithm = _algorithm_of(public_key)
    try:
        if algorithm == ED25519:
            public_key.verify(signature, message)
        elif algorithm == ECDSA:
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass
class Signer:
    """Who signs: the key's id and algorithm, the KMS key's ARN and the AWS caller where KMS signs."""

    algorithm: str
    key_id: str
    kms_key_arn: str | None = None
    signed_by: str | None = None
    signed_at: str = field(default_factory=lambda: _now())  # when the key was checked, before the run
    _sign: Callable[[bytes], bytes] | None = field(default=None, repr=False, compare=False)

    def describe(self) -> dict:
        """What the report's header, the JSON ``run`` block and the scheduler's log record."""
        return {"key_id": self.key_id, "algorithm": self.algorithm, "kms_key_arn": self.kms_key_arn,
                "signed_by": self.signed_by, "signed_at": self.signed_at}

    def sign(self, message: bytes) -> bytes:
        assert self._sign is not None, "a Signer is made by signer_for()"
        return self._sign(message)


def _local_signer(path: str) -> Signer:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    data = read_bytes(path, MAX_SIGNATURE, "signing key")
    password = os.environ.get("NEPTUNE_AUDIT_KEY_PASSWORD")
    try:
        key = serialization.load_pem_private_key(data, password.encode() if password else None)
    except TypeError:  # cryptography: a password for a key that has none, or none for one that needs it
        if password:
            raise InputError(f"signing key {path} is not encrypted, but NEPTUNE_AUDIT_KEY_PASSWORD is set: unset "
                             "it for this key") from None
        raise InputError(f"signing key {path} is encrypted: set NEPTUNE_AUDIT_KEY_PASSWORD") from None
    except Exception as exc:  # cryptography raises ValueError or UnsupportedAlgorithm
        raise InputError(f"signing key {path} is not a PEM private key ({one_line(exc, limit=80)})") from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return Signer(ED25519, key_id(key.public_key()), _sign=key.sign)
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return Signer(ECDSA, key_id(key.public_key()), _sign=lambda m: key.sign(m, ec.ECDSA(hashes.SHA256())))
    raise InputError(f"signing key {path} is neither Ed25519 nor ECDSA P-256: refused")


def kms_public_key(key: str):
    """The public key of a KMS signing key (``aws.kms.open_key`` checks it can sign)."""
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    from neptune_audit.aws import kms

    return load_der_public_key(kms.open_key(key).public_der)


def _kms_signer(key: str) -> Signer:
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    from neptune_audit.aws import kms

    opened = kms.open_key(key)
    caller = opened.who_signs()
    algorithm = ECDSA if opened.algorithm.startswith("ECDSA") else RSA
    return Signer(algorithm, key_id(load_der_public_key(opened.public_der)), kms_key_arn=opened.arn,
                  signed_by=caller, _sign=opened.sign)


def signer_for(spec: str) -> Signer:
    """``KEY.pem`` (a local private key) or ``kms:KEY`` (an AWS KMS key): checked now, before any work."""
    if spec.startswith("kms:"):
        if not spec[4:]:
            raise UsageError("--sign kms: needs a key id, ARN or alias (kms:alias/NAME)")
        return _kms_signer(spec[4:])
    return _local_signer(spec)


def signature_path(artefact) -> Path:
    return Path(f"{artefact}{SUFFIX}")


def statement(name: str, data: bytes, signer: Signer, evidence_sha256: str | None) -> dict:
    predicate = {**signer.describe(), "signed_at": _now(), "evidence_sha256": evidence_sha256,
                 "tool_version": __version__}
    if name.endswith(".ipynb"):
        # a notebook is opened and saved by its receiver's JupyterLab: its content is stated apart from the bytes
        predicate["notebook"] = notebook.digests(strict_json(data, name))
    return {"_type": STATEMENT_TYPE,
            "subject": [{"name": name, "digest": {"sha256": hashlib.sha256(data).hexdigest()}}],
            "predicateType": PREDICATE_TYPE,
            # signed_at here is the signature's own time; the report's header (written before it) shows when the
            # key was checked, at the start of the run
            "predicate": predicate}


def envelope(name: str, data: bytes, signer: Signer, evidence_sha256: str | None = None) -> str:
    """The text of ``NAME.sig``: a DSSE envelope over a statement of the artefact's SHA-256."""
    payload = json.dumps(statement(name, data, signer, evidence_sha256), indent=2).encode("utf-8")
    env = {"payloadType": PAYLOAD_TYPE, "payload": _b64(payload),
           "signatures": [{"keyid": signer.key_id, "sig": _b64(signer.sign(pae(PAYLOAD_TYPE, payload)))}]}
    return json.dumps(env, indent=2) + "\n"


def load_public_key(path):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    data = read_bytes(path, MAX_SIGNATURE, "public key")
    if b"PRIVATE KEY-----" in data:  # the signing key itself: never needed to verify, and not to be handed around
        raise InputError(f"public key {path} is a private key: verify with its public half (openssl pkey -in "
                         f"{path} -pubout -out public.pem), and keep the private key to the signer")
    try:
        key = load_pem_public_key(data)
    except Exception:  # noqa: BLE001 - ValueError or UnsupportedAlgorithm, whose text is the library's, not the user's
        raise InputError(f"public key {path} is not a PEM public key (expected '-----BEGIN PUBLIC KEY-----', as "
                         "`openssl pkey -pubout` writes it)") from None
    _algorithm_of(key)
    return key


@dataclass(frozen=True)
class Verified:
    """A signature that verified: the statement's predicate (key, signer, time, evidence hash)."""

    key_id: str
    predicate: dict
    rewritten: tuple[str, ...] = ()  # a notebook whose content is as signed: the housekeeping fields that changed
    bytes_intact: bool = True


def read_envelope(artefact, signature=None) -> tuple[Path, dict] | None:
    """The envelope beside ``artefact`` (or at ``signature``), parsed; None when there is none."""
    path = Path(signature) if signature else signature_path(artefact)
    if not signature and not path.exists():
        return None
    env = strict_json(read_bytes(path, MAX_SIGNATURE, "signature"), f"signature {path}")
    ok = (isinstance(env, dict) and env.get("payloadType") == PAYLOAD_TYPE and isinstance(env.get("payload"), str)
          and isinstance(env.get("signatures"), list) and len(env["signatures"]) == 1
          and isinstance(env["signatures"][0], dict)
          and all(isinstance(env["signatures"][0].get(k), str) for k in ("keyid", "sig")))
    if not ok:
        raise InputError(f"signature {path} is not a neptune-audit DSSE envelope (one signature, in-toto payload)")
    return path, env


def verify_file(artefact, data: bytes, public_key, signature=None) -> Verified:
    """Check ``ARTEFACT.sig`` against ``public_key`` and the artefact's bytes; any mismatch is a UsageError."""
    found = read_envelope(artefact, signature)
    if found is None:
        raise InputError(f"{artefact} is not signed (no {signature_path(artefact).name} beside it): "
                         "nothing to verify the public key against")
    path, env = found
    expected = key_id(public_key)
    named = env["signatures"][0]["keyid"]
    if named != expected:
        raise InputError(f"{path} was signed by key {one_line(named, limit=80)}, not by the given key {expected}")
    try:
        payload = base64.b64decode(env["payload"], validate=True)
        sig = base64.b64decode(env["signatures"][0]["sig"], validate=True)
    except ValueError:
        raise InputError(f"signature {path} is damaged (not base64): it was altered") from None
    if not verify_bytes(public_key, sig, pae(PAYLOAD_TYPE, payload)):
        raise InputError(f"signature {path} does not verify with key {expected}: the signature or its statement "
                         "was altered")
    st = strict_json(payload, f"the statement in {path}")
    try:
        digest = st["subject"][0]["digest"]["sha256"]
        predicate = st["predicate"]
        assert st["_type"] == STATEMENT_TYPE and st["predicateType"] == PREDICATE_TYPE and isinstance(predicate, dict)
    except (KeyError, IndexError, TypeError, AssertionError):
        raise InputError(f"the statement in {path} is not a neptune-audit statement") from None
    if predicate.get("key_id") != expected:
        raise InputError(f"the statement in {path} names another key: refused")
    if hashlib.sha256(data).hexdigest() == digest:
        return Verified(expected, predicate)
    signed_nb = predicate.get("notebook")
    if not (isinstance(signed_nb, dict) and signed_nb.get("content_version") == notebook.CONTENT_VERSION):
        raise InputError(f"{artefact} was changed after it was signed (its SHA-256 is not the signed one)")
    content, housekeeping = notebook.compare(signed_nb, notebook.digests(strict_json(data, str(artefact))))
    if content:
        raise InputError(f"{artefact}: its content was changed after it was signed ({', '.join(content)}); "
                         "what JupyterLab rewrites on its own is told apart, this is not that")
    return Verified(expected, predicate, tuple(housekeeping), bytes_intact=False)
