"""Root/e2e integration: worker runs, reviews, ledger, reports and the CLI.

Kept import-free so ``lanewarden guard`` starts fast.
"""
