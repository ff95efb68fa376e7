"""Experiments: configs, samplers, executors, storage and reproduction of sweeps."""
