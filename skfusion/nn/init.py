"""Weight initialisation from an optional local random generator."""

import math

from torch import nn


def he_init_(module, generator=None):
    """Initialise every parameter of ``module``, drawing from ``generator`` if given.

    Convolutions get He (Kaiming) normal initialisation with ``fan_out`` (as in ResNet), linear
    layers with ``fan_in``; biases are zeroed and normalisation layers start as the identity
    (weight 1, bias 0). Embeddings are drawn from N(0, 1) (padding row zero) and LSTMs from
    U(-1/sqrt(hidden), 1/sqrt(hidden)), torch's own defaults. Last, every submodule that
    defines ``post_init_(generator)`` (a zero-initialised modulation, a per-head gate) runs it.

    With a ``torch.Generator``, no draw touches torch's global generator: fits running in
    parallel threads then start from the same weights whatever the others do. Returns
    ``module``.

    Parameters
    ----------
    module : torch.nn.Module
        The module initialised in place.
    generator : torch.Generator, default=None
        The source of every draw (``None``: torch's global generator).
    """
    for layer in module.modules():
        if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(
                layer.weight, mode="fan_out", nonlinearity="relu", generator=generator
            )
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(
                layer.weight, mode="fan_in", nonlinearity="relu", generator=generator
            )
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.modules.batchnorm._NormBase) or isinstance(
            layer, (nn.GroupNorm, nn.LayerNorm)
        ):
            if getattr(layer, "weight", None) is not None:
                nn.init.ones_(layer.weight)
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.Embedding):
            nn.init.normal_(layer.weight, generator=generator)
            if layer.padding_idx is not None:
                layer.weight.data[layer.padding_idx].zero_()
        elif isinstance(layer, nn.LSTM):
            bound = 1.0 / math.sqrt(layer.hidden_size)
            for weight in layer.parameters():
                nn.init.uniform_(weight, -bound, bound, generator=generator)
    for layer in module.modules():
        if hasattr(layer, "post_init_"):
            layer.post_init_(generator)
    return module
