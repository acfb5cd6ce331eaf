"""Engines turn a GenerationRequest into images. See ``base`` for the protocol."""
