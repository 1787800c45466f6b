"""A BATCH execution backend for unit tests of the services on batch rows, while the server has no Slurm
backend: it takes every job and sends nothing anywhere, recording what it was asked."""

CALLS: list[tuple[str, int]] = []


class HeldBackend:
    """Takes batch jobs and holds them: nothing is dispatched, canceled or merged anywhere."""

    def check(self, *, simulator, user, cluster, batch_options) -> None:
        pass

    def dispatch(self, *, simulation_id: int, update_key: str) -> None:
        CALLS.append(("dispatch", simulation_id))

    def cancel(self, *, simulation_id: int) -> None:
        CALLS.append(("cancel", simulation_id))

    def merge(self, *, simulation_id: int) -> None:
        CALLS.append(("merge", simulation_id))

    def reaps_stale_tasks(self) -> bool:
        return False
