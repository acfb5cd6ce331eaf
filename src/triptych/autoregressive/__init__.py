"""Autoregressive image generation over binary tokens (pico-bits): decode loops and pipeline."""
