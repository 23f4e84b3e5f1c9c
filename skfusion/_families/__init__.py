"""The fusion families, each a network and its classifier, regressor and survival model:
clinical attention (Yang et al.), gated fusion (EHR-guided attention with a GMU), feature
modulation (FiLM, DAFT) and report fusion."""
