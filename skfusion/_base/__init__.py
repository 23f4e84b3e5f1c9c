"""The task-neutral estimator core: :class:`~skfusion._base.estimator.BaseFusionEstimator`
and what it is built from, parameters (``params``, ``docstrings``), input checks
(``input_checks``, ``validation``, ``masks``, ``text``), model files (``persistence``,
``model_files``, ``safe_names``), pretrained weights (``weights``, ``image_weights``),
``localize`` and ``export`` (``localizing``, ``exporting``), and the helpers that fit and
split whatever the task (``fitting``, ``cv``), and ``explaining``: the fitted estimator
behind a pipeline, its inputs in batches, and its image maps by ``_net.maps``' kernels.
Imports ``_net``, ``nn``, ``preprocessing`` and the input layer.
"""
