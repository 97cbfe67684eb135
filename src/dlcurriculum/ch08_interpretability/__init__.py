"""Chapter 8, interpretability: circuits in small transformers and CNNs."""
