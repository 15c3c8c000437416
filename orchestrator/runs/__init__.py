"""Worker runs: the run's checkout, the agent process, one run end to end, and
dispatch of a plan of runs.
"""
