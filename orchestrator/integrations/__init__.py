"""Agent-runtime integrations: a worker's lane as each runtime's own settings."""
