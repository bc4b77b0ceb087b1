"""Parity case modules, one per family; each registers its components on import."""
