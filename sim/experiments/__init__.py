"""Experiments: configs, designs, executors, the results store, provenance. Knows nothing of analysis.

``config.load_experiment(path)`` -> ``Experiment``; ``runner.run_blocks(exp, folder, ...)`` computes its
blocks; the sweep study (sim.studies.sweep) adds summary, figures and manifest.
"""
