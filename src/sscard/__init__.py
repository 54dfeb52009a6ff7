"""sscard — a region's social security card (社会保障卡) platform."""

__version__ = "0.1.0"
