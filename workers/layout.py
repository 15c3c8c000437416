"""Where laneguard keeps things in a repository.

A module without heavy imports, so hot paths can name the policy file without
loading the policy machinery.
"""
from __future__ import annotations

POLICY_FILE = "laneguard.yaml"
REF_ROOT = "refs/laneguard/"
BRANCH_PREFIX = "laneguard/"
