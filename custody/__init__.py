"""Custody: a multi-agency system of record for people in custody."""

__version__ = "0.1.0"
