"""lanewarden: keep coding agents in their lane inside a monorepo.

Installed, the repository's top-level folders become one import package
(``pyproject.toml`` maps them with ``package-dir``), and imports flow one way:

- ``lanewarden.workers``: what a worker is and may touch (the policy, patterns,
  ownership) and the foundations: the one git access module and the ledger store.
- ``lanewarden.guards``: change sets read from git and the guards that vote on them.
- ``lanewarden.handoffs``: out-of-scope work as records routed to their owners.
- ``lanewarden.orchestrator``: worker runs, root/e2e reviews, reports and the CLI.
- ``lanewarden.fixtures``: the embedded monorepos behind ``lanewarden demo``.

The package root is kept import-free so ``lanewarden guard`` starts fast.
"""
