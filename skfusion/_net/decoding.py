"""The net layer's side of report generation: decoding batch by batch, the encoder's
features for retrieval, and attention weights mapped back onto the image."""

import numpy as np
import torch

from .net import FusionNet

__all__ = ["DecodingNet"]


class DecodingNet(FusionNet):
    """The net of a module with ``generate`` and ``encode`` (a
    :class:`~skfusion.nn.report_generation.ReportGeneratorNet`, maybe inside a localisation
    head): :class:`~skfusion._net.net.FusionNet` plus decoding, the encoder's features and
    attention mapped back onto the image. The report generator builds it; the task-neutral
    net knows nothing of decoding."""

    def generate(self, dataset, *, max_length, beam_size):
        """Decode with the module's ``generate`` (a report generator, maybe inside a
        localisation head) batch by batch: token ids ``(n, T)`` and attention ``(n, T, P)``
        as numpy arrays, padded to the longest report."""
        module = getattr(self.module_, "inner", self.module_)
        module.eval()
        tokens, attention = [], []
        with torch.inference_mode(), self.kernels(), self._autocast():
            for x, _ in self.get_iterator(dataset, training=False):
                x = {k: v.to(self.device) for k, v in x.items()}
                ids, weights = module.generate(
                    x["images"], x["clinical"], max_length=max_length, beam_size=beam_size
                )
                tokens.append(ids.cpu().numpy())
                attention.append(weights.float().cpu().numpy())
        width = max(t.shape[1] for t in tokens)
        tokens = np.concatenate([np.pad(t, ((0, 0), (0, width - t.shape[1]))) for t in tokens])
        attention = np.concatenate(
            [np.pad(a, ((0, 0), (0, width - a.shape[1]), (0, 0))) for a in attention]
        )
        return tokens, attention

    def encoded_features(self, dataset):
        """A report generator's mean image features per sample, float64 ``(n, C)``."""
        module = getattr(self.module_, "inner", self.module_)
        module.eval()
        parts = []
        with torch.inference_mode(), self.kernels():
            for x, _ in self.get_iterator(dataset, training=False):
                x = {k: v.to(self.device) for k, v in x.items()}
                positions, _ = module.encode(x["images"], x["clinical"])
                parts.append(positions.mean(dim=1).double().cpu().numpy())
        return np.concatenate(parts)

    def upsample_positions(self, weights, size):
        """Weights over the last feature map's positions ``(k, P)`` as maps ``(k, *size)``
        at input resolution (bilinear / trilinear)."""
        module = getattr(self.module_, "inner", self.module_)
        shape = module.feature_shape
        maps = torch.as_tensor(np.asarray(weights, dtype=np.float32)).reshape(-1, 1, *shape)
        mode = "trilinear" if len(shape) == 3 else "bilinear"
        if maps.shape[0] == 0:
            return np.zeros((0, *size), dtype=np.float32)
        return torch.nn.functional.interpolate(
            maps, size=tuple(size), mode=mode, align_corners=False
        )[:, 0].numpy()
