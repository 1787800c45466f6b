"""Simulators: run one task's input with its primaries and seed, report progress, return estimators.

`get_simulator(sim_type)` gives the implementation; see base.Simulator for the interface.
"""
