"""The root/e2e reviews: the service and contract graph, contract impact (with
vendored copies and inferred consumers), the e2e matrix, the final review and
the plan. networkx is imported here and never on the guard's path.
"""
