"""Mistakes mypy --strict must catch: each line marked `# error: CODE` is reported with that code."""
from __future__ import annotations

import neptune_audit
from neptune_audit import ScanOptions

ScanOptions(organisation=True)  # error: call-arg
ScanOptions(regions=["us-east-1"], max_workers="8")  # error: arg-type
ScanOptions(regions=[1, 2])  # error: list-item
ScanOptions("us-east-1")  # error: call-arg
neptune_audit.scan(organisation=True)  # error: call-arg
result = neptune_audit.scan(ScanOptions())
result.summary["failed"]  # error: typeddict-item
count: str = result.summary["fail"]  # error: assignment
neptune_audit.policy("admin")  # error: arg-type
neptune_audit.policy("audit", organisation=True)  # error: call-arg
imported: str = neptune_audit.send_to_security_hub(result)  # error: assignment
neptune_audit.scan_or_load(ScanOptions(), [], signer={})  # error: call-arg
