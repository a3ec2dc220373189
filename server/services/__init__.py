"""Domain logic: every state change lives here, one transaction per use case."""
