"""The rule, Neptune-001: its metadata (rule.yaml), the verdict per instance and cluster, the allow-list of
reviewed instances, and the engine calendar (where the setting takes a cluster, end-of-life dates)."""
