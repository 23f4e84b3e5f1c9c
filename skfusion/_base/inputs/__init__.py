"""Input checks, with errors that say how to fix them: ``X`` against what the network reads
(input_checks), targets and labels (validation), masks, report text (text), and which
modalities each sample has (presence)."""
