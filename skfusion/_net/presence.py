"""The presence masks of a batch (``image_present``, ``text_present``: one bool per sample)
between the datasets and the module: all-True masks added where the module reads them, and
masks taken out for a module that does not (a third-party module written before missing
modalities)."""

import inspect

import torch

__all__ = ["fit_to_module", "module_reads", "unread_gaps", "with_presence"]

#: Each presence mask and the input it describes.
MASKS = (("image_present", "images"), ("text_present", "tokens"))


def module_reads(module):
    """The names of ``module.forward``'s parameters."""
    return inspect.signature(module.forward).parameters


def unread_gaps(inputs, reads):
    """Whether the batch has a sample without a modality whose mask the module cannot read
    (gaps in the data, before modality dropout adds its own)."""
    return any(
        name not in reads and inputs.get(name) is not None and not bool(inputs[name].bool().all())
        for name, _ in MASKS
    )


def with_presence(inputs, reads):
    """``inputs`` with an all-True mask for each modality whose mask the batch lacks, where
    the module reads one: its stand-ins then join every training graph (a data-parallel fit
    needs every parameter in each step's graph)."""
    added = {}
    for name, part in MASKS:
        if name in reads and inputs.get(part) is not None and inputs.get(name) is None:
            value = inputs[part]
            added[name] = torch.ones(value.shape[0], dtype=torch.bool, device=value.device)
    return {**inputs, **added} if added else inputs


def fit_to_module(x, reads, module_name, *, zero_dropped):
    """``x`` without the masks the module does not read: all-True masks are dropped; with
    ``zero_dropped`` (a training batch whose only gaps are modality dropout's) the dropped
    modalities are zeroed instead, as modality dropout did before missing modalities; any
    other gap is refused, with the remedy."""
    extra = [(name, part) for name, part in MASKS if name in x and name not in reads]
    if not extra:
        return x
    x = dict(x)
    for name, part in extra:
        mask = x.pop(name).bool()
        if bool(mask.all()):
            continue
        if not zero_dropped:
            raise ValueError(
                f"{module_name}.forward takes no {name!r}, so it cannot take samples without "
                "that modality; pass complete samples, or give the module an "
                f"{name!r} argument (skfusion.nn.presence)."
            )
        value = x[part]
        keep = mask.to(value.device).view(-1, *([1] * (value.dim() - 1))).to(value.dtype)
        x[part] = value * keep
    return x
