"""Group chat on Azure Communication Services."""
