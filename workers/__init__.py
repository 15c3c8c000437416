"""Policy models and loading, the pattern matcher, ownership, and the one git access module."""
