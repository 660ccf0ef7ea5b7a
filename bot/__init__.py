"""rotabot: watch money rotate between AI chip makers and AI platforms."""

__version__ = "0.1.0"
