"""Chapter 9, adversarial training: red teaming and robust MNIST."""
