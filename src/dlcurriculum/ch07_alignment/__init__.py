"""Chapter 7, alignment: RLHF on the Shakespeare model and an ELK proposal."""
