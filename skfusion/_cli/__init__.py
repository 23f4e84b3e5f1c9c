"""The command line's jobs (``python -m skfusion demo|tune``) and their argument checks."""
