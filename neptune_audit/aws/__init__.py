"""AWS: how the kit reaches it (connection), which accounts and regions a scan covers (accounts, regions), what
Neptune holds there (inventory), AWS's faults in one line (faults), the permissions each call needs, KMS signing,
and botocore tuned for many account-regions (tuning)."""
