"""skfusion._net.presence: masks added where a module reads them, and taken out for a module
that does not (zeroing modality dropout's drops, refusing real gaps)."""

import pytest
import torch
from torch import nn

from skfusion._net.presence import fit_to_module, module_reads, unread_gaps, with_presence


class Old(nn.Module):
    def forward(self, images, clinical):
        return images.flatten(1).sum(1, keepdim=True) + clinical.sum(1, keepdim=True)


class New(Old):
    def forward(self, images, clinical, image_present=None):
        return super().forward(images, clinical)


def batch(mask=None):
    x = {"images": torch.ones(4, 1, 2, 2), "clinical": torch.ones(4, 3)}
    if mask is not None:
        x["image_present"] = torch.tensor(mask)
    return x


def test_masks_are_added_only_where_the_module_reads_them():
    assert "image_present" in with_presence(batch(), module_reads(New()))
    assert "image_present" not in with_presence(batch(), module_reads(Old()))
    assert with_presence(batch(), module_reads(Old())).keys() == batch().keys()


def test_a_module_without_masks_gets_dropout_as_zeros_and_refuses_real_gaps():
    reads = module_reads(Old())
    gappy = batch([True, False, True, True])
    assert unread_gaps(gappy, reads) and not unread_gaps(gappy, module_reads(New()))
    # All present: the mask is simply dropped.
    assert "image_present" not in fit_to_module(batch([True] * 4), reads, "Old", zero_dropped=False)
    # Modality dropout's drops in training: zeroed, as before masks existed.
    out = fit_to_module(gappy, reads, "Old", zero_dropped=True)
    assert out["images"][1].abs().sum() == 0 and out["images"][0].abs().sum() == 4
    with pytest.raises(ValueError, match="Old.forward takes no 'image_present'.*complete"):
        fit_to_module(gappy, reads, "Old", zero_dropped=False)
    # A module that reads masks gets them as they are.
    assert fit_to_module(gappy, module_reads(New()), "New", zero_dropped=False) is gappy
