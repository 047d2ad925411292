"""Acting on findings: the remediation (plan, dry run, apply, verify, log), its notebook panel, and Security Hub."""
