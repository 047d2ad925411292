"""What a user writes, and mypy --strict accepts."""
from __future__ import annotations

from datetime import date

import neptune_audit
from neptune_audit import ScanOptions
from neptune_audit.act.securityhub import ImportReport
from neptune_audit.vocabulary import Summary

options = ScanOptions(regions=["us-east-1", "eu-west-1"], profiles=("audit",), accounts=["111111111111"],
                      organization=True, exceptions_file="exceptions.yml", managed_by_tag="ManagedBy=terraform")
same = ScanOptions(regions=("us-east-1",), iac_paths=["infra/"], max_workers=8)
result = neptune_audit.scan(options, today=date(2026, 12, 7))
summary: Summary = result.summary
failing: int = summary["fail"] + result.summary["targets_not_scanned"]
report: ImportReport = neptune_audit.send_to_security_hub(result, region="us-east-1")
print(report.imported, report.line())
policy: dict[str, object] = neptune_audit.policy("remediate", organization=True, role_name="Audit", iac=True)
again = neptune_audit.scan_or_load(same, ["saved.json"], progress=False)
code: int = again.exit_code
