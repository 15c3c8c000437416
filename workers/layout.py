"""Where lanewarden keeps things in a repository.

A module without heavy imports, so hot paths can name the policy file without
loading the policy machinery.
"""
from __future__ import annotations

POLICY_FILE = "lanewarden.yaml"
REF_ROOT = "refs/lanewarden/"
BRANCH_PREFIX = "lanewarden/"
