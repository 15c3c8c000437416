"""Adoption: drafting a policy from a repository (`lanewarden init`).

Service, contract and e2e discovery, CODEOWNERS import (with pattern overlap
checks), the draft policy and its commented rendering, and service packs.
"""
