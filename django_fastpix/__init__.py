"""Django integration for the FastPix video API."""

__version__ = "0.1.0"
