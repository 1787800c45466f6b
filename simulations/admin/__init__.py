"""The simulations admin: jobs and tasks (polymorphic) and their compressed payloads."""

from . import audit, celery_results, jobs, results  # noqa: F401  (registers the model admins)
