"""Channel adapters: each hands one message to its provider and says whether
that worked, failed for good, or is worth trying again."""
