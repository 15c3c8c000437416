"""The root/e2e orchestrator and the command line.

Worker runs (``runs/``), the root reviewer's reviews (``reviews/``), reports
(``reports/``), adoption (``adoption/``), agent-runtime integrations
(``integrations/``), the error boundary and the click CLI (``commands/``).
Kept import-free so ``lanewarden guard`` starts fast.
"""
