"""Template tags: ``{% load fastpix %}``."""
