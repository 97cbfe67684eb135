"""Chapter 4, optimization: noisy quadratic model experiments."""
