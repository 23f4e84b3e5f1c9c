"""The task-neutral estimator core, grouped by concern: ``core`` (``BaseFusionEstimator`` and
the steps of a fit, the checked input, the task and family contracts, ``localize``,
``export`` and the explaining helpers), ``parameters`` (one ``Param`` record per parameter,
and every view made from them), ``inputs`` (the checks of ``X``, targets, masks and reports,
and which modalities each sample has), ``files`` (the safe model-file format, its checks,
atomic writes, the registries of safe names, checkpoints) and ``pretrained`` (pretrained
weights, ``image_weights=`` and ``freeze=``). Imports ``_net``, ``nn``, ``preprocessing``
and the input layer.
"""
