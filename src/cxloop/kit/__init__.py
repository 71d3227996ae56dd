"""Shared building blocks that know nothing about any domain.

Nothing here may import a domain package (import-linter enforces it), so
every domain can lean on it without creating cycles.
"""
