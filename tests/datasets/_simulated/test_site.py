"""The built-in cohort's second acquisition site: each shift does what it says and only that;
the judged external site's shifts are the fixed ones; bad shifts are refused."""

import numpy as np
import pytest

from skfusion.datasets import make_brain_cohort
from skfusion.datasets._simulated.site import EXTERNAL_SITE

SMALL = dict(n_subjects=40, n_slices=1, image_size=32)


def draw(seed=3, **kwargs):
    return make_brain_cohort(**SMALL, random_state=seed, **kwargs)


def detail(images):
    """Mean absolute difference between neighbouring pixels: what resolution carries."""
    return np.abs(np.diff(images, axis=-1)).mean()


def test_no_shift_is_the_reference_site():
    reference = draw()
    same = draw(site={"intensity": 1.0, "noise": 1.0, "resolution": 1.0})
    np.testing.assert_array_equal(same.X.images, reference.X.images)
    assert same.X.clinical.equals(reference.X.clinical)


def test_each_shift_moves_what_it_names():
    reference = draw().X.images
    brighter = draw(site={"intensity": 1.3}).X.images
    assert 1.25 < brighter.mean() / reference.mean() < 1.35
    coarser = draw(site={"resolution": 0.5}).X.images
    assert detail(coarser) < 0.8 * detail(reference)
    assert abs(coarser.mean() / reference.mean() - 1) < 0.05
    noisier = draw(site={"noise": 4.0}).X.images
    background = (slice(None), slice(None), slice(0, 3), slice(0, 3))  # outside the head
    assert noisier[background].std() > 2 * reference[background].std()


def test_the_external_site_is_the_fixed_one_with_its_prevalence():
    assert EXTERNAL_SITE == {"intensity": 1.3, "noise": 2.0, "resolution": 0.75, "prevalence": 0.3}
    external = make_brain_cohort(100, n_slices=1, image_size=32, site="external", random_state=1)
    assert (external.y == "AD").sum() == 30
    conversion = make_brain_cohort(
        50,
        task="mci_conversion",
        n_slices=1,
        image_size=32,
        site={"prevalence": 0.2},
        random_state=1,
    )
    assert (conversion.y == "pMCI").sum() == 10


@pytest.mark.parametrize(
    "site, match",
    [
        ("hospital-b", r"'site' parameter .* must be None, a str among \{'external'\}"),
        ({"contrast": 1.2}, r"unknown shift\(s\) \['contrast'\]"),
        ({"resolution": 1.5}, r"site\['resolution'\]=1.5; expected a number from 0.1 to 1"),
        ({"prevalence": True}, r"site\['prevalence'\]=True"),
    ],
)
def test_bad_sites_are_refused(site, match):
    with pytest.raises(ValueError, match=match):
        draw(site=site)


def test_prevalence_needs_two_groups():
    with pytest.raises(ValueError, match="share of the second group.*NC', 'MCI', 'AD"):
        draw(task="nc_mci_ad", site={"prevalence": 0.3})
    draw(task="nc_mci_ad", site={"intensity": 1.3})
