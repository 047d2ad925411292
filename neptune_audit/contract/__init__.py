"""The contract: the words a run uses (vocabulary), its JSON Schema, and what a run hands to others: the result,
its formats (export, asff), read back (saved), embedded and signed (evidence, signing), and kept (history)."""
