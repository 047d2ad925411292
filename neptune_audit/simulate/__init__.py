"""The built-in simulated AWS account (``--demo``): a moto server (server) seeded with a Neptune estate (estate)."""
