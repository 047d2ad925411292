"""The defaults a user reads in ``--help`` and in the IAM policies: plain values, so the CLI can print its help
without loading the modules that use them."""

# An IAM role name (letters, digits and +=,.@_-, at most 64), with an optional IAM path: never a wildcard
ROLE_NAME = r"^([A-Za-z0-9_+=,.@-]+/)*[A-Za-z0-9_+=,.@-]{1,64}$"
DEFAULT_ROLE_NAME = "OrganizationAccountAccessRole"  # the role AWS Organizations creates in new member accounts
POLICY_KINDS = ("audit", "remediate")                # the policies `neptune-audit policy` prints

DEFAULT_WORKERS = 16   # account-regions at once when several accounts share a region's API
# With max_workers None (the default), one account's regions all start at once, one worker each (up to the cap
# below): each region is its own endpoint and its own API rate bucket, so one listing per region is the politest
# fan-out there is, and no region waits for a free worker (an account with every opt-in region enabled lists ~35,
# more than the 32 this used to be capped at: the last ones waited two round trips).
# Several accounts (an Organization, several profiles or roles): their account-regions are separate endpoints and
# rate buckets too (API rate limits are per account and region), so more of them at once asks no one endpoint for
# more.  Measured (benchmarks/RESULTS.md): 1,000 accounts x 20 regions, 64 workers against 16: 1.4-1.76x faster,
# +15-23 % CPU, +8 % memory; the retry and throttling runs stay exact (each client keeps its own retry state).
MAX_ORGANIZATION_WORKERS = 64
