"""Chapter 3, training at scale: data parallelism and a fused Adam in Triton."""
