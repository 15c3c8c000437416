"""Change sets read from git and the guards that vote on them.

One entry point, ``engine.guard``: it reads the real change (range, index, work
tree or patch), runs every guard with veto consensus into a verdict, and can cut
per-owner patches, queue handoffs through a sink and record the decision.
"""
