"""Chapter 5, modeling objectives: a contrastive CNN on MNIST."""
