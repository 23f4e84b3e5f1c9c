"""The output every fusion network shares: a linear head on the fused features, plus the
clinical shortcut's outputs when the network has one (a "wide" linear path beside the "deep"
network, :class:`~skfusion.nn.clinical.ClinicalShortcut`)."""

from torch import nn

__all__ = ["FusionHead"]


class FusionHead(nn.Module):
    """Base of the fusion networks: ``forward`` is ``head(forward_features(images,
    clinical))`` plus ``shortcut(clinical)`` when the network has a shortcut.

    A subclass sets ``self.head`` (a linear layer), ``self.shortcut`` (a ``ClinicalShortcut``
    or None) and defines ``forward_features``. With a shortcut the head starts at zero
    (:meth:`post_init_`, run by ``he_init_``), so a new network outputs what the shortcut is
    set to and the deep path learns what it adds.
    """

    def post_init_(self, generator=None):
        """With a clinical shortcut, zero the head's weights and bias."""
        if self.shortcut is not None:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward_head(self, features):
        """Return the deep path's outputs from fused features."""
        return self.head(features)

    def output(self, features, clinical):
        """The network's outputs from fused features: the head's, plus the shortcut's."""
        outputs = self.forward_head(features)
        return outputs if self.shortcut is None else outputs + self.shortcut(clinical)

    def forward(self, images, clinical=None, image_present=None):
        """Return the outputs, shape ``(n, n_outputs)``: class logits, standardised targets
        or log-risk. ``image_present`` (bool, one per sample; None: all present) marks the
        samples that have an image (:mod:`skfusion.nn.presence`)."""
        return self.output(self.forward_features(images, clinical, image_present), clinical)
