"""Errors a user can act on. Every message says what was wrong, where, and what to do."""

from __future__ import annotations


class MotionscopeError(Exception):
    """Base class: the CLI prints these as one clean line instead of a traceback."""


class DataError(MotionscopeError, ValueError):
    """Bad or inconsistent input data (shape, NaN, empty folders, unknown layout ...)."""


class BundleError(MotionscopeError):
    """A model bundle is missing, incomplete or from an unsupported format version."""
