"""Agents that train with checked scale functions (pgcheck)."""
