"""Gait station: pelvic drop for runners on a Raspberry Pi."""

__version__ = "0.1.0"
