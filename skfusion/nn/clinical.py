"""The clinical path: fully connected layers from a clinical vector to high-dimensional features."""

from torch import nn

from ._checks import check_positive_int


class ClinicalEncoder(nn.Sequential):
    """Two fully connected layers mapping clinical values to ``out_features`` features.

    Yang et al. lift the clinical vector (a few hundred values at most) to a dimension "close
    to" that of the image features so that it is not drowned when both are concatenated.
    Each layer is ``Linear -> BatchNorm1d -> ReLU``.

    Parameters
    ----------
    in_features : int
        Number of clinical values per sample.
    out_features : int, default=1024
        Size of the clinical feature vector.
    hidden_features : int or None, default=None
        Width of the first layer; ``None`` uses ``out_features``.
    """

    def __init__(self, in_features, out_features=1024, hidden_features=None):
        check_positive_int("in_features", in_features)
        check_positive_int("out_features", out_features)
        hidden_features = out_features if hidden_features is None else hidden_features
        check_positive_int("hidden_features", hidden_features)
        super().__init__(
            nn.Linear(in_features, hidden_features),
            nn.BatchNorm1d(hidden_features),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_features, out_features),
            nn.BatchNorm1d(out_features),
            nn.ReLU(inplace=True),
        )
        self.in_features = in_features
        self.out_features = out_features


class ClinicalShortcut(nn.Linear):
    """Logits straight from the clinical values, added to a fusion network's logits.

    A "wide" linear path beside the "deep" fusion network (Cheng et al., 2016, "Wide & Deep
    Learning"): the network can always represent a logistic regression on the clinical
    values, and the deep part learns what the image adds to it. Its own weights start at
    zero, and the networks that hold one start their head at zero, so the output begins as
    whatever this layer is set to: the estimators set it to a linear model fitted on the
    training samples (a logistic, ridge or Cox model), and the network begins as that model
    (``skfusion.explain.logit_parts`` splits a fitted network's output back into the two).
    """

    def __init__(self, n_clinical, n_outputs):
        check_positive_int("n_clinical", n_clinical)
        check_positive_int("n_outputs", n_outputs)
        super().__init__(n_clinical, n_outputs)
        self.post_init_()

    def post_init_(self, generator=None):
        """Zero the weights and bias."""
        nn.init.zeros_(self.weight)
        nn.init.zeros_(self.bias)
