"""Pure gait analysis: arrays in, dataclasses out. No I/O, no clock; numpy (and scipy) only."""
