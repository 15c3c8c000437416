"""``python -m lanewarden``: the same CLI, for hooks when ``lanewarden`` is not on PATH."""
from __future__ import annotations

from lanewarden.orchestrator.cli import main

main()
