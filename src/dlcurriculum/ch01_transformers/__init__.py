"""Chapter 1: transformers from scratch (attention, the decoder-only model, sampling)."""
