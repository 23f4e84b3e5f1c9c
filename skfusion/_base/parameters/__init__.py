"""Parameters: one ``Param`` record per parameter (params), the records every estimator shares
(shared_params), and the docstrings made from them (docstrings)."""
