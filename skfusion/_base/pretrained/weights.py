"""Pretrained image-encoder weights for ``image_weights=``: read from a local file (``.pt`` /
``.pth`` with ``torch.load(weights_only=True)``, or ``.safetensors``), or taken from a fitted
estimator (an :class:`~skfusion.ImageClinicalPretrainer`, or any fitted skfusion estimator
trained on a source task), wrapped or not in sklearn's ``FrozenEstimator``; loaded into a
network's ResNet (:func:`skfusion.nn.pretrained.load_resnet_weights`), hashed, and frozen
(``freeze=``).

Nothing is downloaded: a hub's weights are files the user fetched under their licence."""

import hashlib
import os

import torch

from ...nn.pretrained import load_resnet_weights, source_layout

__all__ = [
    "PretrainedWeights",
    "apply_freeze",
    "frozen_keys",
    "load_into",
    "resolve_image_weights",
    "weights_sha256",
]

#: The largest weights file read (a ResNet101 in float32 is about 170 MB).
MAX_WEIGHTS_BYTES = 4 * 2**30
_FILE_KINDS = (".pt", ".pth", ".safetensors", ".bin")


class PretrainedWeights:
    """Image-encoder weights held in memory: what a model file keeps of ``image_weights``, and
    what :func:`resolve_image_weights` makes of a file or a fitted estimator.

    Parameters
    ----------
    state : dict of str to torch.Tensor
        The weights, in skfusion's ResNet layout or torchvision's/MONAI's.
    source : str, default=""
        Where they came from (a path, an estimator's name), for messages only.

    Attributes
    ----------
    sha256 : str
        Hash of the tensors (names, dtypes, shapes and values), as stored by fitted models
        in ``image_weights_sha256_``.
    """

    def __init__(self, state, source=""):
        self.state = {str(k): v.detach().to("cpu") for k, v in state.items()}
        self.source = str(source)
        self.sha256 = weights_sha256(self.state)

    def __repr__(self):
        return (
            f"PretrainedWeights({len(self.state)} tensors, sha256={self.sha256[:12]}..."
            + (f", from {self.source!r}" if self.source else "")
            + ")"
        )

    def __eq__(self, other):
        return isinstance(other, PretrainedWeights) and other.sha256 == self.sha256

    def __hash__(self):
        return hash(self.sha256)


def weights_sha256(state):
    """SHA-256 of a dict of tensors: each name, dtype, shape and the values' bytes, in name
    order (the same weights give the same hash whatever file or object held them)."""
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(
            tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
        )
    return digest.hexdigest()


def _unwrap(state, where):
    """The tensors of a checkpoint: inside ``state_dict`` / ``model`` / ``state`` wrappers,
    with the ``module.`` prefix of DataParallel and MedicalNet checkpoints removed."""
    for key in ("state_dict", "model", "state"):
        if (
            isinstance(state, dict)
            and isinstance(state.get(key), dict)
            and not all(isinstance(v, torch.Tensor) for v in state.values())
        ):
            state = state[key]
    if (
        not isinstance(state, dict)
        or not state
        or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items())
    ):
        raise ValueError(
            f"image_weights={where!r} holds no state dict (a mapping of names to "
            "tensors, or one under 'state_dict'); save the network's "
            "state_dict()."
        )
    if all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def _read_file(path):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"image_weights={path!r}: no such file. Pass the path of a "
            ".pt, .pth or .safetensors weights file."
        )
    if not path.endswith(_FILE_KINDS):
        raise ValueError(f"image_weights={path!r}: expected a .pt, .pth or .safetensors file.")
    size = os.path.getsize(path)
    if size > MAX_WEIGHTS_BYTES:
        raise ValueError(
            f"image_weights={path!r} is {size} bytes, over the "
            f"{MAX_WEIGHTS_BYTES} read for an image encoder."
        )
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError:
            raise ImportError(
                "reading .safetensors files needs safetensors; install it with "
                'pip install "skfusion[weights]".'
            ) from None
        try:
            return load_file(path, device="cpu")
        except Exception as exc:  # the library raises its own error types
            raise ValueError(
                f"image_weights={path!r} is not a readable safetensors file "
                f"({type(exc).__name__}: {exc})."
            ) from None
    try:
        # weights_only: a weights file is data; it cannot run code when read.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle and zip errors of many kinds
        first = str(exc).splitlines()[0][:300] if str(exc) else ""
        raise ValueError(
            f"image_weights={path!r} cannot be read as weights "
            f"({type(exc).__name__}: {first}); it must hold tensors only "
            "(torch.save(model.state_dict(), path))."
        ) from None


def resolve_image_weights(value):
    """``value`` (a path, a fitted estimator, a ``FrozenEstimator`` around one, or
    :class:`PretrainedWeights`) as :class:`PretrainedWeights`."""
    if isinstance(value, PretrainedWeights):
        return value
    if isinstance(value, (str, os.PathLike)):
        return PretrainedWeights(
            _unwrap(_read_file(value), os.fspath(value)), source=os.fspath(value)
        )
    inner = getattr(value, "estimator", value)  # sklearn's FrozenEstimator wraps one
    if hasattr(inner, "image_encoder_state_dict"):
        try:
            state = inner.image_encoder_state_dict()
        except Exception as exc:
            raise ValueError(
                f"image_weights={type(value).__name__}: its image encoder could "
                f"not be read ({exc}). Pass a fitted estimator with an image "
                "path."
            ) from None
        return PretrainedWeights(state, source=type(inner).__name__)
    raise TypeError(
        f"image_weights must be a weights file path, a fitted skfusion estimator "
        f"(or FrozenEstimator around one) or PretrainedWeights; got "
        f"{type(value).__name__}."
    )


def load_into(encoder, weights):
    """Load :class:`PretrainedWeights` into ``encoder``; the :class:`LoadReport`."""
    if source_layout(weights.state) is None:
        raise ValueError(
            f"image_weights ({weights!r}) are in no layout skfusion reads; "
            "expected a skfusion image encoder or a torchvision/MONAI ResNet."
        )
    try:
        return load_resnet_weights(encoder, weights.state)
    except ValueError as exc:
        raise ValueError(
            f"image_weights ({weights.source or weights.sha256[:12]}): {exc}"
        ) from None


def frozen_keys(freeze, loaded):
    """Our encoder's state keys (parameters and normalisation statistics) that ``freeze``
    holds fixed: of the stem (``"stem"``), the stem and stages 1..k (an int k), or the whole
    encoder (``"encoder"``), those that received pretrained values (``loaded``). Parts with
    no source (an RBCA front, a FiLM or DAFT modulation) always train: freezing random
    weights helps nothing."""
    if freeze is None:
        return []
    if freeze == "stem":
        prefixes = ("stem.",)
    elif freeze == "encoder":
        prefixes = ("stem.", "stages.")
    else:
        prefixes = ("stem.", *(f"stages.{s}." for s in range(int(freeze))))
    return sorted(k for k in loaded if k.startswith(prefixes))


def apply_freeze(encoder, keys):
    """Hold the parameters among ``keys`` fixed (no gradient) and return the names of the
    normalisation layers whose statistics are among them: the net keeps those in evaluation
    mode while training, so their running statistics stay the pretrained ones."""
    keys = set(keys)
    for name, parameter in encoder.named_parameters():
        parameter.requires_grad_(name not in keys)
    return [
        name
        for name, module in encoder.named_modules()
        if isinstance(module, torch.nn.modules.batchnorm._NormBase)
        and f"{name}.running_mean" in keys
    ]
