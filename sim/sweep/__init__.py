"""Experiments: configs, samplers, executors, storage and reproduction of sweeps.

``config.load_experiment(path)`` -> ``Experiment`` (validated design and settings);
``runner.run_sweep(exp, out, workers=, scheduler=, resume=, force=)`` -> manifest dict;
``reproduce.reproduce(folder)`` -> report of differing files. docs/experiments.md is the reference.
"""
