"""Hooks between the services and the workers that run simulations (filled in by the execution issue)."""


def simulation_dispatch(*, simulation_id: int, update_key: str) -> None:
    """Hands a freshly submitted simulation to its workers; called after the submit transaction commits."""


def simulation_revoke(*, simulation_id: int) -> None:
    """Tells the workers of a canceled simulation to stop; called after the cancel transaction commits."""
