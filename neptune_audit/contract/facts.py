"""Facts over labels: a contract document's identities, verdicts, roll-ups, derived labels and summary checked
against the facts they rest on.  Every reader of a saved run uses it (``merge``, ``report --from``, ``evidence``):
a relabelled file is refused whoever reads it, signed or not."""
from __future__ import annotations

import re
from datetime import date, timedelta

from neptune_audit import vocabulary
from neptune_audit.errors import InputError, one_line

ACCOUNT = re.compile(r"[0-9]{12}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")


def _exception_expiry_ok(exception: dict, generated: date) -> bool:
    """A recorded exception's ``expired`` against its own date, at the run's date (a day either way: the run
    read its local date, ``generated_at`` is UTC)."""
    if exception["expires"] is None:
        return exception["expired"] is False
    expires = date.fromisoformat(exception["expires"])
    if expires < generated - timedelta(days=1):
        return exception["expired"] is True
    if expires >= generated + timedelta(days=1):
        return exception["expired"] is False
    return True


ACCOUNT = re.compile(r"[0-9]{12}")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")


def _identity_facts(doc: dict, name: str) -> None:
    """Identity as AWS means it, spelled one way: ASCII account ids and regions (the schema's ``$`` lets a trailing
    newline through; ``\\d`` would take other scripts' digits), a finding only in a scanned account-region whose
    count it matches, an ARN that names its own account, region and instance, and each instance and cluster once."""
    scanned = {}
    for row in doc["scope"]:
        if not ACCOUNT.fullmatch(row["account_id"]) or not (row["region"] == "*" or REGION.fullmatch(row["region"])):
            raise InputError(f"{name}: scope row {one_line(row['account_id'])} {one_line(row['region'])} is not an "
                             "AWS account id and region: refused")
        if row["state"] == vocabulary.SCANNED:
            scanned[(row["account_id"], row["region"])] = row["instances"]
    counts: dict[tuple, int] = {}
    seen_arns, seen_ids = set(), set()
    for f in doc["findings"]:
        where = f"{name}: instance {one_line(f['instance_id'])} ({one_line(f['account_id'])} {one_line(f['region'])})"
        key = (f["account_id"], f["region"])
        if not ACCOUNT.fullmatch(f["account_id"]) or not REGION.fullmatch(f["region"]):
            raise InputError(f"{where}: not an AWS account id and region: refused")
        if key not in scanned:
            raise InputError(f"{where} is in no scanned account-region of the file's scope: refused")
        partition = f["arn"].split(":")[1] if f["arn"].count(":") >= 6 else "aws"
        if f["arn"] != f"arn:{partition}:rds:{f['region']}:{f['account_id']}:db:{f['instance_id']}":
            raise InputError(f"{where}: its ARN {one_line(f['arn'])} names another account, region or instance: "
                             "refused")
        if f["arn"] in seen_arns or (f["account_id"], f["region"], f["instance_id"]) in seen_ids:
            raise InputError(f"{where} appears twice: refused")
        seen_arns.add(f["arn"])
        seen_ids.add((f["account_id"], f["region"], f["instance_id"]))
        counts[key] = counts.get(key, 0) + 1
    for key, n in scanned.items():
        if counts.get(key, 0) != n:
            raise InputError(f"{name}: scope says {n} instance(s) in {key[0]} {key[1]}, but it holds "
                             f"{counts.get(key, 0)} finding(s): refused")
    clusters: set[tuple] = set()
    for c in doc["clusters"]:
        cluster_key = (c["account_id"], c["region"], c["cluster_id"])
        if cluster_key in clusters:
            raise InputError(f"{name}: cluster {one_line(c['cluster_id'])} ({c['account_id']} {c['region']}) appears "
                             "twice: refused")
        if (c["account_id"], c["region"]) not in scanned:
            raise InputError(f"{name}: cluster {one_line(c['cluster_id'])} is in no scanned account-region: refused")
        clusters.add(cluster_key)


def _derived_facts(c: dict, generated: date, name: str) -> None:
    """A cluster's derived labels against the facts they come from: exposure not-covered exactly when the release
    is older than 1.3.0.0, end_of_life from its date and the run's day, an outlook of automatic upgrades only for a
    cluster that gets them."""
    from neptune_audit.rule.outlook import amvu_effective, eol_state

    where = f"{name}: cluster {one_line(c['cluster_id'])} ({c['account_id']} {c['region']})"
    effective = amvu_effective(c["engine_version"])
    if c["amvu_effective"] is not None and effective is not None and c["amvu_effective"] != effective:
        raise InputError(f"{where}: amvu_effective={c['amvu_effective']} contradicts engine {c['engine_version']}: "
                         "refused")
    if c.get("exposure") is not None and (c["exposure"] == vocabulary.NOT_COVERED) != (effective is False):
        raise InputError(f"{where}: exposure {c['exposure']} contradicts engine {c['engine_version']}: refused")
    if "end_of_life" in c and c.get("end_of_life") is not None:
        eol = c.get("end_of_life_date")
        day = date.fromisoformat(eol) if eol else None
        # a day either way: the run read its local date, generated_at is UTC
        if c["end_of_life"] not in {eol_state(day, generated + timedelta(days=k)) for k in (-1, 0, 1)}:
            raise InputError(f"{where}: end_of_life {c['end_of_life']} contradicts its date {eol} on "
                             f"{generated}: refused")
    outlook = c.get("outlook") or ""
    if outlook.startswith("Upgraded automatically") and not c["gets_minor_upgrades"]:
        raise InputError(f"{where}: its outlook says it is upgraded automatically, but it gets no minor upgrades: "
                         "refused")


def check_facts(doc: dict, name: str) -> None:
    """Never trust a label: identities, every verdict, cluster roll-up, derived label and the summary are checked
    against the facts they rest on (the setting, the exception and its expiry, the writer, the engine release);
    any that disagrees is bad input."""
    from neptune_audit.rule.evaluate import verdict_of

    _identity_facts(doc, name)
    generated = date.fromisoformat(doc["generated_at"][:10])
    members: dict[tuple, list[dict]] = {}
    for f in doc["findings"]:
        where = f"{name}: instance {f['instance_id']} ({f['account_id']} {f['region']})"
        if f["exception"] is not None and not _exception_expiry_ok(f["exception"], generated):
            raise InputError(f"{where}: its exception says expired={f['exception']['expired']} but expires "
                             f"{f['exception']['expires']} (run of {doc['generated_at']}): refused")
        if f["result"] == vocabulary.EXCEPTED and not f["exception"]:
            raise InputError(f"{where} is EXCEPTED without an exception: refused")
        verdict = verdict_of(f).result
        if verdict != f["result"]:
            exc = f["exception"]
            held = "no exception" if not exc else "an expired exception" if exc["expired"] else "an exception"
            raise InputError(f"{where} is labelled {f['result']}, but auto_minor_version_upgrade="
                             f"{f['auto_minor_version_upgrade']} with {held} makes it {verdict}: refused")
        if f["cluster_id"]:
            members.setdefault((f["account_id"], f["region"], f["cluster_id"]), []).append(f)
    for c in doc["clusters"]:
        _derived_facts(c, generated, name)
        found = members.get((c["account_id"], c["region"], c["cluster_id"]), [])
        writer = next((f for f in found if f["instance_id"] == c["writer_instance_id"]), None)
        failing = sum(f["result"] == vocabulary.FAIL for f in found)
        result = vocabulary.FAIL if failing or (c["writer_instance_id"] and writer is None) else vocabulary.PASS
        gets = bool(writer and writer["auto_minor_version_upgrade"] is True and c["amvu_effective"] is not False)
        stated = (c["result"], c["failing_instances"], c["gets_minor_upgrades"])
        if stated != (result, failing, gets):
            raise InputError(f"{name}: cluster {c['cluster_id']} ({c['account_id']} {c['region']}) says result="
                             f"{c['result']}, failing_instances={c['failing_instances']}, gets_minor_upgrades="
                             f"{c['gets_minor_upgrades']}, but its instances make it {result}, {failing}, {gets}: "
                             "refused")
    summary = vocabulary.summary([f["result"] for f in doc["findings"]], [s["state"] for s in doc["scope"]])
    if summary != doc["summary"]:
        wrong = ", ".join(f"{k}={doc['summary'][k]} (facts: {v})" for k, v in summary.items() if doc["summary"][k] != v)
        raise InputError(f"{name}: its summary disagrees with its findings and scope: {wrong}: refused")
