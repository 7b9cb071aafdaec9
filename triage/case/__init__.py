"""Cases: every complaint becomes a case that is suggested, confirmed by a person,
handled, verified and closed, with every step in an append-only event log."""
