"""Cross-validation folds on a real Dask distributed cluster (two worker processes on the
loopback interface) through joblib's dask backend: the same scores as the sequential run."""

import numpy as np
import pytest
from sklearn.model_selection import StratifiedGroupKFold, cross_validate

import skfusion
from skfusion.datasets import make_brain_cohort

pytestmark = pytest.mark.slow  # starts processes

distributed = pytest.importorskip("distributed")


def test_folds_on_a_dask_cluster_score_as_the_sequential_run():
    import joblib

    cohort = make_brain_cohort(24, n_slices=2, image_size=16, random_state=0)
    model = skfusion.ClinicalAttentionClassifier(
        mode="concat",
        backbone="resnet18",
        base_width=4,
        max_epochs=2,
        n_threads=1,
        verbose=0,
        random_state=0,
    )
    cv = StratifiedGroupKFold(3, shuffle=True, random_state=0)
    kwargs = dict(groups=cohort.groups, cv=cv, scoring=["roc_auc", "accuracy"])
    sequential = cross_validate(model, cohort.X, cohort.y, **kwargs)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with joblib.parallel_backend("dask"), distributed.get_task_stream(client) as stream:
            on_dask = cross_validate(model, cohort.X, cohort.y, n_jobs=2, **kwargs)
    ran_on = {task["worker"] for task in stream.data}
    assert len(stream.data) >= 3 and len(ran_on) == 2  # the folds ran on both workers
    for key in ("test_roc_auc", "test_accuracy"):
        np.testing.assert_array_equal(on_dask[key], sequential[key])
