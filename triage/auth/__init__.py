"""Console sign-in: people with a role and a password, and their browser sessions."""
