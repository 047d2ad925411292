"""Live <-> code: which template or Terraform resource owns each live instance (``managed_by``).

- CloudFormation (and CDK, which deploys through it) by stack and logical id: the live instance's
  ``aws:cloudformation:stack-name`` / ``logical-id`` tags against the templates' logical ids (a CDK template knows
  its stack; a plain template matches by logical id, and by its file name where several share one).
- Terraform by the ARN a plan or state JSON records, else by the ``identifier`` written literally in HCL or plan.
"""
from __future__ import annotations

from pathlib import Path

from neptune_audit.code.model import Resource


def _cfn_match(candidates: list[Resource], stack: str) -> Resource | None:
    if len(candidates) == 1:
        return candidates[0]
    named = [r for r in candidates if r.stack == stack or Path(r.file).stem.split(".")[0] == stack]
    return named[0] if len(named) == 1 else None


def attach(findings: list[dict], resources: list[Resource]) -> int:
    """Fill each finding's ``managed_by`` from the code that defines it (in place); returns how many were linked."""
    by_logical: dict[str, list[Resource]] = {}
    by_ident: dict[str, list[Resource]] = {}
    by_arn: dict[str, Resource] = {}
    for r in resources:
        if r.source in ("cloudformation", "cdk"):
            by_logical.setdefault(r.resource, []).append(r)
        elif r.arn:
            by_arn[r.arn] = r
        if r.identifier and r.source.startswith("terraform"):
            by_ident.setdefault(r.identifier, []).append(r)
    linked = 0
    for f in findings:
        owner = f.get("managed_by")
        match: Resource | None
        if owner and owner.get("tool") == "cloudformation":
            match = _cfn_match(by_logical.get(owner["logical_id"], []), owner["stack"])
            if match is not None:
                f["managed_by"] = {**owner, "tool": "cdk" if match.source == "cdk" else "cloudformation",
                                   "file": match.file, "line": match.where}
                linked += 1
            continue
        match = by_arn.get(f.get("arn") or "")
        if match is None:
            named = by_ident.get(f.get("instance_id") or "", [])
            match = named[0] if len({x.resource for x in named}) == 1 else None
        if match is not None:
            f["managed_by"] = {"tool": "terraform", "stack": None, "logical_id": None, "address": match.resource,
                               "file": match.file, "line": match.where}
            linked += 1
    return linked


def where(managed: dict | None) -> str:
    """"defined in infra/graph.yaml:42" (or the stack and logical id, or the address), "" when nothing is known."""
    if not managed:
        return ""
    if managed.get("file"):
        return f"defined in {managed['file']}" + (f":{managed['line']}" if managed.get("line") else "")
    if managed.get("stack"):
        return f"defined in stack {managed['stack']} ({managed['logical_id']})"
    if managed.get("address"):
        return f"defined as {managed['address']}"
    # known from the tag the user named (--managed-by-tag), with nothing of the code itself
    return "owned by Terraform (its tag says so)" if managed.get("tool") == "terraform" else ""
