"""The app's models; querysets live beside their models."""

from .token import AccessToken, AccessTokenQuerySet, TokenStatus
from .workspace import Environment, Workspace

__all__ = ["AccessToken", "AccessTokenQuerySet", "Environment", "TokenStatus", "Workspace"]
