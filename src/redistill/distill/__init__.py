"""Stage: teacher augmentation and dataset construction."""
