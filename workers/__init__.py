"""What a worker is and may touch, and the foundations every layer stands on.

The policy (models, loader, JSON Schema, lints, policy diffs), the path-pattern
matcher and the ownership index; git access (``git.py``, the only module that
spawns git), the ledger store (``ledger.py``), errors, identity and layout.
Nothing here imports a higher layer.
"""
