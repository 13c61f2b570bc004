"""Kwebbel's Django project: settings, URLs, the ASGI application and the account pages."""
