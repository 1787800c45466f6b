"""Simulators: run one task's input with its primaries and seed, report progress, return estimators.

`get_simulator(sim_type)` gives the implementation; base.Simulator is the interface.
"""

from django.utils.module_loading import import_string

from .base import Simulator

SIMULATORS = {
    "dummy": "simulations.simulators.dummy.DummySimulator",
    "shieldhit": "simulations.simulators.shieldhit.ShieldhitSimulator",
    "fluka": "simulations.simulators.fluka.FlukaSimulator",
    "topas": "simulations.simulators.topas.TopasSimulator",
}


def get_simulator(sim_type: str) -> Simulator:
    """The simulator for a sim_type (one of choices.SimType)."""
    return import_string(SIMULATORS[sim_type])()
