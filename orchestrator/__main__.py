"""``python -m orchestrator``: the same CLI, for hooks when ``laneguard`` is not on PATH."""
from __future__ import annotations

from orchestrator.cli import main

main()
