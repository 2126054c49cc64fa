"""Gateway sign-in: Claude Code's "Cloud gateway" protocol against the organisation's OpenID Connect provider."""
