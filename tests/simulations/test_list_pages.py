"""List pages read from the end (the second half of a list) hold the same jobs as pages read from the start."""

from datetime import timedelta

import pytest
from django.utils import timezone

from simulations.models import Simulation

URL = "/api/simulations/"


@pytest.fixture
def seven_jobs(submit):
    """Seven jobs, submitted a minute apart (oldest first); the two newest share one start time."""
    now = timezone.now()
    made = [submit()[0] for _ in range(7)]
    for n, simulation in enumerate(made):
        Simulation.objects.filter(pk=simulation.pk).update(start_time=now - timedelta(minutes=min(10 - n, 5)))
    return [s.job_id for s in made]


def all_pages(api_client, page_size: int, **params) -> list[list[str]]:
    pages, number = [], 1
    while True:
        response = api_client.get(URL, {"page": number, "page_size": page_size, **params})
        assert response.status_code == 200, response.content
        pages.append([item["job_id"] for item in response.json()["results"]])
        if not response.json()["next"]:
            return pages
        number += 1


@pytest.mark.parametrize("page_size", [1, 2, 3, 4, 6, 7])
def test_every_page_holds_the_next_jobs_newest_first(api_client, seven_jobs, page_size):
    newest_first = seven_jobs[::-1]

    pages = all_pages(api_client, page_size)

    assert pages == [newest_first[i : i + page_size] for i in range(0, 7, page_size)]


def test_pages_from_the_end_follow_the_requested_ordering(api_client, seven_jobs):
    assert all_pages(api_client, 3, ordering="start_time") == [seven_jobs[0:3], seven_jobs[3:6], seven_jobs[6:]]
    assert all_pages(api_client, 3, job_state="PENDING") == all_pages(api_client, 3)


def test_a_page_past_the_end_is_404(api_client, seven_jobs):
    assert api_client.get(URL, {"page": 4, "page_size": 2}).status_code == 200
    assert api_client.get(URL, {"page": 5, "page_size": 2}).status_code == 404


def cursor_pages(api_client, page_size: int, **params) -> list[list[str]]:
    pages, url, query = [], URL, {"cursor": "", "page_size": page_size, **params}
    while url:
        response = api_client.get(url, query)
        assert response.status_code == 200, response.content
        pages.append([item["job_id"] for item in response.json()["results"]])
        url, query = response.json()["next"], None
    return pages


@pytest.mark.parametrize("page_size", [1, 2, 3, 7])
@pytest.mark.parametrize("ordering", ["-start_time", "start_time"])
def test_cursor_pages_hold_the_same_jobs_as_numbered_pages(api_client, seven_jobs, page_size, ordering):
    numbered = [job for page in all_pages(api_client, 7, ordering=ordering) for job in page]

    pages = cursor_pages(api_client, page_size, ordering=ordering)

    assert [job for page in pages for job in page] == numbered
    assert all(len(page) == page_size for page in pages[:-1])


def test_a_cursor_page_deep_in_the_list_is_the_same_few_queries(api_client, seven_jobs, django_assert_num_queries):
    second = api_client.get(URL, {"cursor": "", "page_size": 3}).json()["next"]

    with django_assert_num_queries(4):  # authentication, the page's rows, their progress, the kept count
        response = api_client.get(second)

    assert response.json()["count"] == 7 and len(response.json()["results"]) == 3


def test_a_bad_cursor_is_400_naming_it(api_client, seven_jobs):
    response = api_client.get(URL, {"cursor": "not-a-cursor"})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["cursor"]


def test_cursor_pages_follow_start_time_whatever_else_is_asked(api_client, seven_jobs):
    pages = cursor_pages(api_client, 3, ordering="end_time,start_time")

    assert [job for page in pages for job in page] == [
        job for page in all_pages(api_client, 7, ordering="start_time") for job in page
    ]
