"""AWS: which accounts and regions a scan covers (targets), what Neptune holds there (inventory), the
permissions each call needs, and botocore tuned for many account-regions."""
