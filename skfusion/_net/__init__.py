"""The skorch layer: every torch decision (device, precision, threads, seeding) is made here.

``net`` (:class:`~skfusion._net.net.FusionNet`, the skorch net with its training step),
``decoding`` (its subclass that decodes reports), ``device`` (device, precision and
threads), ``data`` (datasets and batch iterators), ``callbacks`` (validation split, finite
loss, interrupt recovery), ``parallel`` (data-parallel training across processes), ``maps``
(the Grad-CAM and saliency kernels), ``export_graph`` (the ONNX / TorchScript graph) and
``progress`` (progress bars). Imports ``skfusion.nn`` and the input layer only.
"""


def __getattr__(name):
    # skfusion 0.3's module ``skfusion._net`` is this package now; pickles of 0.3 estimators
    # name ``skfusion._net.FusionNet``. Resolved on first use, until 0.5.
    from . import net

    try:
        return getattr(net, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
