"""Training: SFT and preference alignment on TRL + PEFT; students built from scratch."""
