"""Shared by the training tests: the keyword arguments that keep a trainer quiet and on one
thread (no progress lines in the test output, the same numbers on any machine)."""

from __future__ import annotations

quiet = {"log": lambda *_: None, "threads": 1}
