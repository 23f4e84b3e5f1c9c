import numpy as np

from skfusion import FusionInput, GatedFusionClassifier
from skfusion.nn import ClinicalSpatialAttention

from ..conftest import TINY, make_data


def test_multiclass_fit_and_clinically_guided_maps():
    X, y = make_data(n=30, size=64, n_classes=3, labels=("NC", "MCI", "AD"), seed=2)
    clf = GatedFusionClassifier(**{**TINY, "max_epochs": 8, "lr": 3e-3}, n_heads=2, head_dim=8).fit(
        X, y
    )
    assert clf.predict_proba(X).shape == (30, 3)
    module = clf.net_.module_.eval()
    maps = []
    for attention in module.modules():
        if isinstance(attention, ClinicalSpatialAttention):
            attention.map_out.register_forward_hook(lambda m, i, o: maps.append(o))
    shuffled = FusionInput(
        X.images, X.clinical.sample(frac=1, random_state=0).reset_index(drop=True)
    )
    clf.predict_proba(X)
    first = [m.clone() for m in maps]
    maps.clear()
    clf.predict_proba(shuffled)
    assert len(first) == len(maps) == 2 * 4  # stages 3 and 4, four batches of 8
    assert first[0].shape[-2:] == (4, 4)  # stage 3 of a 64x64 input
    assert any(not np.allclose(a.numpy(), b.numpy()) for a, b in zip(first, maps))
    assert all(float(m.std()) > 0 for m in first[::2])  # maps vary over positions


def test_the_default_head_width_follows_the_backbone_and_an_explicit_one_is_kept():
    X, y = make_data(n=16, size=16)
    model = GatedFusionClassifier(**{**TINY, "max_epochs": 1, "base_width": 8}).fit(X, y)
    assert model.head_dim == "auto" and model.net_.module_.fusion.head_dim == 4
    model = GatedFusionClassifier(**{**TINY, "max_epochs": 1}, head_dim=3).fit(X, y)
    assert model.net_.module_.fusion.head_dim == 3
