"""Hostile inputs: every case of the fresh-machine/hostile-input issue, one file per area."""
