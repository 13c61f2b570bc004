"""Each site user's Azure Communication Services identity and chat tokens."""
