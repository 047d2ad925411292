"""AWS KMS for signing reports: the key's public half and its ARN, the caller, and ``Sign``.

Through the standard credential chain, as a scan (``kms:GetPublicKey`` once to name the key, ``kms:Sign`` once per
file signed).  Sign's ``RAW`` message is at most 4,096 bytes (KMS API reference, ``Sign``): the kit signs DSSE's
short pre-authentication encoding, never a whole report.
"""
from __future__ import annotations

from typing import Any

from neptune_audit.aws.faults import AWS_ERRORS
from neptune_audit.aws.permissions import Needs
from neptune_audit.errors import AwsError, UsageError, one_line

# The calls made here and the IAM action each needs (aws/permissions.py); GetCallerIdentity needs none.
NEEDS = (Needs("SignReportsWithKms", {"kms.GetPublicKey": "kms:GetPublicKey", "kms.Sign": "kms:Sign",
                                      "sts.GetCallerIdentity": ""}, when="kms_key"),)
# KeySpec -> the SigningAlgorithm the kit uses with it (ECDSA over P-256, or PKCS#1 v1.5 RSA, both with SHA-256)
SIGNING_ALGORITHMS = {"ECC_NIST_P256": "ECDSA_SHA_256",
                      **{f"RSA_{n}": "RSASSA_PKCS1_V1_5_SHA_256" for n in (2048, 3072, 4096)}}


def _error(key: str, exc: Exception) -> AwsError:
    """One of AWS's errors (``faults.AWS_ERRORS``) as one line naming the key."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return AwsError(f"KMS key {key}: {err.get('Code')}: {one_line(err.get('Message', ''), limit=160)}")
    return AwsError(f"KMS key {key}: {one_line(exc, limit=160)}")


class KmsKey:
    """One KMS signing key: ``public_der``, ``arn``, ``spec``, ``algorithm`` (KMS's name), ``caller`` (ARN, once
    ``who_signs()`` asked), and ``sign()``.  Made by `open_key()`, which checks it can sign."""

    def __init__(self, key: str, session: Any, client: Any, answer: dict):
        self.key, self._session, self._client = key, session, client
        self.spec: str = answer.get("KeySpec") or answer.get("CustomerMasterKeySpec") or ""
        if answer.get("KeyUsage") != "SIGN_VERIFY" or self.spec not in SIGNING_ALGORITHMS:
            raise UsageError(f"KMS key {key} is {answer.get('KeyUsage')} {self.spec}: signing needs a SIGN_VERIFY key "
                             f"of spec {', '.join(SIGNING_ALGORITHMS)}")
        self.public_der: bytes = answer["PublicKey"]
        self.arn: str = answer["KeyId"]
        self.algorithm = SIGNING_ALGORITHMS[self.spec]
        self.caller: str | None = None

    def who_signs(self) -> str:
        """The caller's ARN (GetCallerIdentity); the key's ARN completed from it where KMS gave a bare id."""
        from neptune_audit.aws.connection import Connection

        region = self._client.meta.region_name
        try:
            caller = Connection().client(self._session, "sts", region).get_caller_identity()
        except AWS_ERRORS as exc:
            raise _error(self.key, exc) from None
        if not self.arn.startswith("arn:"):
            # AWS answers GetPublicKey with the key ARN (API reference); moto with the bare id.  A bare id is the
            # caller's own key (another account's key must be named by its ARN), so its ARN follows.
            self.arn = f"arn:{caller['Arn'].split(':')[1]}:kms:{region}:{caller['Account']}:key/{self.arn}"
        self.caller = caller["Arn"]
        return self.caller

    def sign(self, message: bytes) -> bytes:
        try:
            return self._client.sign(KeyId=self.arn, Message=message, MessageType="RAW",
                                     SigningAlgorithm=self.algorithm)["Signature"]
        except AWS_ERRORS as exc:
            raise _error(self.key, exc) from None


def open_key(key: str) -> KmsKey:
    """The KMS key named by id, ARN or alias, checked to be a signing key the kit can use (GetPublicKey)."""
    from neptune_audit.aws.connection import Connection

    region = key.split(":")[3] if key.startswith("arn:") and key.count(":") >= 5 else None
    connection = Connection()
    session = connection.base_session()  # the standard credential chain, as for a scan
    region = region or session.get_config_variable("region")
    if not region:
        raise UsageError(f"KMS key {key}: give its ARN or set AWS_REGION (the key's region)")
    client = connection.client(session, "kms", region)
    try:
        answer = client.get_public_key(KeyId=key)
    except AWS_ERRORS as exc:
        raise _error(key, exc) from None
    return KmsKey(key, session, client, answer)
