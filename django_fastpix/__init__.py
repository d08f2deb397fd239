"""Django integration for the FastPix video API."""

# The one version source: pyproject.toml reads it ([tool.setuptools.dynamic]), and so does
# the client's User-Agent. A plain string literal, so the build reads it without importing.
__version__ = "0.1.0"
