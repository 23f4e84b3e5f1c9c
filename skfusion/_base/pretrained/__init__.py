"""Pretrained weights: reading and mapping them (weights), and ``image_weights=`` / ``freeze=``
of every estimator (image_weights)."""
