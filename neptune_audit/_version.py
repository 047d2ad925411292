"""The kit's version, in a module of its own: any room can import it without the package's ``__init__``."""

__version__ = "0.1.0"
