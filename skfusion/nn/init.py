"""Weight initialisation."""

from torch import nn


def he_init_(module):
    """Apply He (Kaiming) normal initialisation to every conv and linear layer in ``module``.

    Convolutions use ``fan_out`` (as in ResNet), linear layers ``fan_in``; biases are zeroed and
    normalisation layers start as the identity (weight 1, bias 0). Returns ``module``.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, mode="fan_in", nonlinearity="relu")
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)):
            if layer.weight is not None:
                nn.init.ones_(layer.weight)
                nn.init.zeros_(layer.bias)
    return module
