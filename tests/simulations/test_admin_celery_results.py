"""The Celery results admin on rows that real workers wrote: decoded, linked, with the task rows' states."""

import html
import re

import pytest
from django.urls import reverse
from django_celery_results.models import TaskResult

from simulations.choices import JobState
from simulations.models import CelerySimulation

from .pipeline_helpers import submit_dummy, wait_for_state

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_results_written_by_workers_are_linked_to_their_simulation_and_tasks(celery_workers, api_client, admin_client):
    celery_workers.start(concurrency=2)
    job_id = submit_dummy(api_client, ntasks=2, primaries=2_000, dummy={"seconds": 0})
    wait_for_state(api_client, job_id, JobState.COMPLETED)
    simulation = CelerySimulation.objects.get(job_id=job_id)

    listing = admin_client.get(reverse("admin:django_celery_results_taskresult_changelist")).content.decode()

    rows = re.findall(r"<tr>.*?</tr>", listing, re.S)
    ours = [row for row in rows if job_id in row]
    assert len(ours) == 3  # two tasks and the merge
    assert sum("task 0<" in row or "task 1<" in row for row in ours) == 2
    assert all(">COMPLETED" in row for row in ours)
    merge = TaskResult.objects.get(task_id=simulation.merge_id)
    page = html.unescape(
        admin_client.get(reverse("admin:django_celery_results_taskresult_change", args=[merge.pk])).content.decode()
    )
    assert f"[\n  {simulation.pk}\n]" in page and "simulations.merge_results" in page

    found = admin_client.get(reverse("admin:django_celery_results_taskresult_changelist"), {"q": job_id})
    assert found.content.decode().count(f">{job_id}</a>") == 3
