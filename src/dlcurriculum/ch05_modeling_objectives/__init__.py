"""Chapter 5: modeling objectives, made concrete as contrastive MNIST encoders.

The learner writes NT-Xent, the view augmentation and the nearest-class rule; `dlc check 5`
grades them and `dlc run contrastive --impl WORKSPACE` trains with the learner's code.
Extras (optional reading made concrete, no exercise): `dlc run vae` and `dlc run ddpm`.
"""
