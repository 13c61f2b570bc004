"""The Identity service (CommunicationIdentity 2023-10-01): users and their access tokens."""

from .routes import IDENTITY_STORE, add_identity_routes
from .store import IdentityStore

__all__ = ["IDENTITY_STORE", "IdentityStore", "add_identity_routes"]
