"""Change sets from git and the guards that vote on them."""
