"""`python -m benchmarks --only iac`: `neptune-audit iac` over a generated tree of templates and Terraform files.

Half the files are CloudFormation YAML templates (a cluster, one to three Neptune instances with the setting
true, false, omitted or from a parameter, and an RDS decoy), half are Terraform modules (one folder each, a
variable-decided instance and a literal one).  Rows: wall time, CPU, peak RSS of the `iac` process, and that its
findings equal a one-file-at-a-time run; beside it, when given, checkov (its default checks, frameworks
cloudformation and terraform) and cfn-lint on the same tree, which users run in the same CI step.
"""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

TEMPLATE = """AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Amvu{i}:
    Type: String
    Default: "{param}"
    AllowedValues: ["true", "false"]
Resources:
  Cluster{i}:
    Type: AWS::Neptune::DBCluster
    Properties:
      EngineVersion: "{version}"
{instances}  Orders{i}:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: mysql
      DBInstanceClass: db.t3.micro
      AllocatedStorage: "20"
      AutoMinorVersionUpgrade: false
"""
INSTANCE = """  Graph{i}x{k}:
    Type: AWS::Neptune::DBInstance
    Properties:
      DBClusterIdentifier: !Ref Cluster{i}
      DBInstanceClass: db.r6g.large
{setting}"""
TERRAFORM = """variable "amvu_{i}" {{
  type    = bool
  default = {param}
}}

resource "aws_neptune_cluster" "graph_{i}" {{
  cluster_identifier = "graph-{i}"
  engine             = "neptune"
  engine_version     = "{version}"
}}

resource "aws_neptune_cluster_instance" "writer_{i}" {{
  identifier                 = "graph-{i}-1"
  cluster_identifier         = aws_neptune_cluster.graph_{i}.id
  instance_class             = "db.r6g.large"
  auto_minor_version_upgrade = var.amvu_{i}
}}

resource "aws_neptune_cluster_instance" "reader_{i}" {{
  cluster_identifier         = aws_neptune_cluster.graph_{i}.id
  instance_class             = "db.r6g.large"
  auto_minor_version_upgrade = {literal}
}}
"""


def generate(root: Path, files: int, seed: int = 20261207) -> Path:
    """``files`` files under ``root``: templates in folders of 100, one Terraform module per folder."""
    rng = random.Random(seed)
    versions = ["1.2.1.0", "1.3.2.1", "1.4.5.0", "1.4.7.1"]
    for i in range(files):
        if i % 2 == 0:
            folder = root / "cfn" / f"team-{i // 200:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            parts = []
            for k in range(rng.randint(1, 3)):
                setting = rng.choice(["      AutoMinorVersionUpgrade: true\n", "      AutoMinorVersionUpgrade: false\n",
                                      "", f"      AutoMinorVersionUpgrade: !Ref Amvu{i}\n"])
                parts.append(INSTANCE.format(i=i, k=k, setting=setting))
            (folder / f"stack-{i}.yaml").write_text(TEMPLATE.format(
                i=i, param=rng.choice(["true", "false"]), version=rng.choice(versions), instances="".join(parts)))
        else:
            folder = root / "tf" / f"module-{i}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "main.tf").write_text(TERRAFORM.format(i=i, param=rng.choice(["true", "false"]),
                                                             version=rng.choice(versions),
                                                             literal=rng.choice(["true", "false"])))
    return root


def timed(argv: list[str], env=None) -> dict:
    """Run ``argv``: wall time, CPU and peak RSS of that process (and its children), exit code, stdout."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": time.monotonic() - start, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024, "code": proc.returncode, "stdout": out}


def _key(f: dict) -> tuple:
    return (f["file"], f["resource"], f["result"], f["line"])


def one_at_a_time(root: Path) -> list[tuple]:
    """The same rule file by file (in one process, so the comparison is about findings, not start-up)."""
    from neptune_audit.code.scan import scan

    out = []
    for p in sorted(root.rglob("*")):
        if p.is_file():
            out += [_key(f) for f in scan([p]).findings]
    return sorted(out)


def scenario_iac(files: int, checkov: str | None = None, cfn_lint: str | None = None) -> list[str]:
    import tempfile


    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = generate(Path(tmp) / "tree", files)
        cli = [sys.executable, "-m", "neptune_audit", "iac", str(root), "--format", "json"]
        ours = timed(cli)
        doc = json.loads(ours["stdout"])
        same = sorted(_key(f) for f in doc["findings"]) == one_at_a_time(root)
        rows.append({"tool": "neptune-audit iac", "files": files, "seconds": ours["seconds"], "cpu_s": ours["cpu_s"],
                     "peak_rss_mb": ours["peak_rss_mb"], "note": f"{doc['summary']['resources']} instances, "
                     f"{doc['summary']['fail']} FAIL; identical to one file at a time: {same}"})
        if checkov:
            c = timed([checkov, "-d", str(root), "--framework", "cloudformation", "terraform", "--quiet",
                       "--compact", "-o", "json"])
            rows.append({"tool": "checkov (default checks)", "files": files, "seconds": c["seconds"],
                         "cpu_s": c["cpu_s"], "peak_rss_mb": c["peak_rss_mb"],
                         "note": f"exit {c['code']}; {c['seconds'] / ours['seconds']:.1f}x our wall time"})
            # its closest check: Auto Minor Version Upgrade on RDS instances (CKV_AWS_226; checkov has none for
            # Neptune's), so the ratio is of the work each does to answer one setting's question
            k = timed([checkov, "-d", str(root), "--framework", "cloudformation", "terraform", "--quiet",
                       "--compact", "-o", "json", "--check", "CKV_AWS_226"])
            rows.append({"tool": "checkov --check CKV_AWS_226 (its closest check)", "files": files,
                         "seconds": k["seconds"], "cpu_s": k["cpu_s"], "peak_rss_mb": k["peak_rss_mb"],
                         "note": f"exit {k['code']}; {k['seconds'] / ours['seconds']:.1f}x our wall time, "
                                 f"{k['peak_rss_mb'] / ours['peak_rss_mb']:.1f}x our memory"})
        if cfn_lint:
            templates = [str(p) for p in sorted(root.rglob("*.yaml"))]
            c = timed([cfn_lint, *templates])
            rows.append({"tool": "cfn-lint (templates only)", "files": len(templates), "seconds": c["seconds"],
                         "cpu_s": c["cpu_s"], "peak_rss_mb": c["peak_rss_mb"],
                         "note": f"exit {c['code']}; {c['seconds'] / ours['seconds']:.1f}x our wall time"})
    lines = [f"### `iac` over {files:,} generated files (half CloudFormation templates, half Terraform modules)",
             "", "| tool | files | wall s | CPU s | peak RSS MB | note |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['tool']} | {r['files']:,} | {r['seconds']:.2f} | {r['cpu_s']:.2f} | {r['peak_rss_mb']:.0f} | "
              f"{r['note']} |" for r in rows]
    text = "\n".join(lines)
    print(text, flush=True)
    return [text]
