"""Trainers for the built-in models (seeded, resumable) and their data caching."""
