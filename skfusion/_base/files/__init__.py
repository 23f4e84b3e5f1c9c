"""Model files: the safe format's reading and writing (persistence, model_files), the checks of
a file's contents (file_checks), atomic writes (atomic), the registries of names a file may
hold (safe_names), and checkpoints during training (checkpoint)."""
