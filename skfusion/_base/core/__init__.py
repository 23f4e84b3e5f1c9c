"""The estimator core: ``BaseFusionEstimator`` (estimator), the steps of a fit (training,
building, settings, linear_start, convergence), the checked input (checked), the task and
family contracts (encoders, contract), and what a fitted estimator offers beyond predictions
(localizing, exporting, explaining), with the helpers that fit and split whatever the task
(fitting, cv)."""
