"""Export of a fitted network for inference outside Python: ONNX (through torch's exporter)
or TorchScript, with the numeric clinical preprocessing and the task's output transform in
the graph, and a JSON signature that says what goes in and what comes out.

Net layer: pure torch; the estimator describes the preprocessing and the head as data."""

import copy
import json
import warnings

import torch

__all__ = ["FORMATS", "export_network"]

FORMATS = ("onnx", "torchscript")


class _Exported(torch.nn.Module):
    """The fitted module between the inputs a caller has and the outputs predict gives."""

    def __init__(self, module, extra_inputs, clinical_plan, n_clinical, head):
        super().__init__()
        self.module = module
        self.extra_inputs = list(extra_inputs)
        self.fold = clinical_plan is not None
        self.n_clinical = n_clinical
        plan = clinical_plan or {"median": [], "mean": [], "scale": [], "indicator": []}
        self.register_buffer("median", torch.tensor(plan["median"], dtype=torch.float32))
        self.register_buffer("mean", torch.tensor(plan["mean"], dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(plan["scale"], dtype=torch.float32))
        self.indicators = [i for i, flag in enumerate(plan["indicator"]) if flag]
        self.head = head["kind"]
        self.flatten = bool(head.get("flatten", False))
        self.temperature = float(head.get("temperature", 1.0))
        self.register_buffer("bias", torch.tensor(head.get("bias", [0.0]), dtype=torch.float32))
        self.register_buffer("shift", torch.tensor(head.get("shift", []), dtype=torch.float32))
        self.register_buffer("factor", torch.tensor(head.get("scale", []), dtype=torch.float32))

    def encode(self, raw):
        """Impute the training median, standardise, add the missing-value indicators: the
        estimator's own encoding of numeric columns."""
        missing = ~torch.isfinite(raw)
        filled = torch.where(missing, self.median, raw)
        encoded = (filled - self.mean) / self.scale
        if not self.indicators:
            return encoded
        parts = []
        for j in range(encoded.shape[1]):
            parts.append(encoded[:, j : j + 1])
            if j in self.indicators:
                parts.append(missing[:, j : j + 1].to(encoded.dtype))
        return torch.cat(parts, dim=1)

    def forward(self, images, clinical, first=None, second=None, third=None):
        """``first``...: the extra inputs named in ``self.extra_inputs``, in order (token
        ids, presence masks)."""
        if self.fold:
            clinical = self.encode(clinical)
        inputs = {"images": images, "clinical": clinical}
        for name, value in zip(self.extra_inputs, (first, second, third)):
            inputs[name] = value
        output = self.module(**inputs)
        output = output[0] if isinstance(output, tuple) else output
        if self.head == "softmax":
            return torch.softmax(output / self.temperature + self.bias, dim=1)
        if self.head == "affine":
            output = output * self.factor + self.shift
            return output[:, 0] if self.flatten else output
        return output[:, 0]


class _ImagesOnly(torch.nn.Module):
    """For networks that read no clinical values: images (and tokens) in."""

    def __init__(self, exported):
        super().__init__()
        self.exported = exported

    def forward(self, images, first=None, second=None, third=None):
        clinical = images.new_zeros((images.shape[0], 0))
        return self.exported(images, clinical, first, second, third)


def export_network(
    module,
    stream,
    *,
    format,
    image_shape,
    n_clinical,
    uses_clinical,
    clinical_plan,
    tokens_length,
    head,
    signature,
    presence=(),
):
    """Write ``module`` (a fitted torch module; copied to the CPU, in eval mode) to ``stream``
    (a binary file object; the caller makes the file appear atomically).

    ``clinical_plan``: the numeric encoding folded into the graph (lists ``median``,
    ``mean``, ``scale``, ``indicator``, one entry per raw column) or None (the caller passes
    encoded values, ``n_clinical`` of them). ``head``: ``{"kind": "softmax"}`` (with
    ``"temperature"`` where the classifier was calibrated),
    ``{"kind": "affine", "scale": [...], "shift": [...], "flatten": bool}`` (flatten: the first
    column only) or ``{"kind": "first"}``. ``presence``: the presence masks the graph takes
    after the other inputs ("image_present", "text_present"), one bool per sample.
    ``signature`` (JSON values) is stored in the file (ONNX metadata ``skfusion_signature``;
    TorchScript extra file ``skfusion_signature.json``) and returned.
    """
    module = copy.deepcopy(module).to("cpu").eval()
    for part in module.modules():
        if hasattr(part, "unrolled"):  # packed sequences do not trace; the same numbers
            part.unrolled = True
    n_raw = len(clinical_plan["mean"]) if clinical_plan is not None else n_clinical
    extra_inputs = (["tokens"] if tokens_length is not None else []) + list(presence)
    wrapper = _Exported(module, extra_inputs, clinical_plan, n_clinical, head).eval()
    example = [torch.zeros((2, *image_shape))]
    names = ["images"]
    if uses_clinical:
        example.append(torch.zeros((2, n_raw)))
        names.append("clinical")
    else:
        wrapper = _ImagesOnly(wrapper).eval()
    if tokens_length is not None:
        example.append(torch.ones((2, tokens_length), dtype=torch.long))
        names.append("tokens")
    for mask in presence:
        example.append(torch.ones(2, dtype=torch.bool))
        names.append(mask)
    text = json.dumps(signature)
    with torch.no_grad():
        if format == "torchscript":
            with warnings.catch_warnings():  # torch deprecates TorchScript in favour of
                warnings.simplefilter("ignore", DeprecationWarning)  # torch.export
                scripted = torch.jit.trace(wrapper, tuple(example), check_trace=False)
                torch.jit.save(scripted, stream, _extra_files={"skfusion_signature.json": text})
            return signature
        _export_onnx(wrapper, tuple(example), names, stream, text)
    return signature


def _export_onnx(wrapper, example, names, stream, text):
    try:
        import onnx  # noqa: F401  (the exporter writes its ModelProto)
        import onnxscript  # noqa: F401  (torch's exporter needs it)
    except ImportError:
        raise ImportError(
            'export(format="onnx") needs onnx and onnxscript; install them with pip install '
            '"skfusion[export]" (or use format="torchscript").'
        ) from None
    import logging

    batch = torch.export.Dim("n_samples", min=1)
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                wrapper,
                example,
                input_names=names,
                output_names=["output"],
                dynamic_shapes=tuple({0: batch} for _ in example),
                dynamo=True,
                verbose=False,
                external_data=False,
            )
    finally:
        quiet.setLevel(level)
    model = program.model_proto
    entry = model.metadata_props.add()
    entry.key, entry.value = "skfusion_signature", text
    stream.write(model.SerializeToString())
