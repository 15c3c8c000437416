"""One module per CLI command; each turns flags into a call of the core."""
