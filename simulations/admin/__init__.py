"""The simulations admin: jobs and tasks (polymorphic) and their compressed payloads."""

from . import jobs, results  # noqa: F401  (registers the model admins)
