"""The task layers on top of the core: classification, regression, survival (with its
concordance kernel), report generation (with its text scores, BLEU and ROUGE-L, which
``skfusion.metrics`` also offers) and self-supervised pretraining."""
