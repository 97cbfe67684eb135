"""Chapter 2, scaling laws: a scaling-law study of MNIST CNNs."""
