"""The old Flask API's routes as the yaptide UI calls them: parse the old parameters, call the native
selectors and services, answer in the old envelope. No rule lives here."""

import math

from django.conf import settings
from django.contrib.auth import authenticate
from rest_framework.permissions import IsAuthenticated

from accounts import keycloak
from accounts.authentication import sign_in_tokens
from accounts.services import keycloak_sign_in, user_create_local
from accounts.throttles import (
    KeycloakLoginThrottle,
    LoginAddressThrottle,
    LoginFailureThrottle,
    RefreshThrottle,
    RegisterThrottle,
)
from clusters.models import Cluster
from clusters.views import CanRunBatch
from simulations import execution, http, presenters, selectors
from simulations.choices import JobState, Platform
from simulations.serializers import SubmitSerializer
from simulations.services import simulation_cancel, simulation_delete, simulation_submit
from yaptide_site.api import _first_message
from yaptide_site.errors import Conflict, InvalidInput, NotFound

from .api import CompatError, CompatView, PublicCompatView, json_body, missing_keys
from .auth import clear_cookies, expiries, refresh_blacklist, refresh_token_of, set_token_cookies
from .envelope import answer, rfc1123


class HelloView(PublicCompatView):
    """`GET /`: the UI's "is the server reachable" probe."""

    def get(self, request):
        return answer("Hello World!")


class LoginView(PublicCompatView):
    throttle_classes = [LoginAddressThrottle, LoginFailureThrottle]

    def post(self, request):
        data = json_body(request)
        missing_keys(data, {"username", "password"})
        username, password = data["username"], data["password"]
        if not isinstance(username, str) or not isinstance(password, str):
            raise CompatError(400, "username and password must be strings")
        user = authenticate(request, username=username, password=password)
        if user is None:
            LoginFailureThrottle().record_failure(request, self)
            raise CompatError(401, "Invalid login or password")
        refresh = sign_in_tokens(user)
        access = refresh.access_token
        response = answer("Successfully logged in", 202, **expiries(access=access, refresh=refresh))
        set_token_cookies(response, access=access, refresh=refresh)
        return response


class RefreshView(PublicCompatView):
    """`GET /auth/refresh`: a new access token from the refresh cookie; the refresh token is not rotated."""

    throttle_classes = [RefreshThrottle]

    def get(self, request):
        _user, refresh = refresh_token_of(request)
        access = refresh.access_token
        response = answer("User refreshed", **expiries(access=access))
        set_token_cookies(response, access=access)
        return response


class LogoutView(PublicCompatView):
    def delete(self, request):
        refresh_blacklist(request)
        response = answer("User logged out")
        clear_cookies(response)
        return response


class RegisterView(PublicCompatView):
    throttle_classes = [RegisterThrottle]

    def put(self, request):
        if not settings.ALLOW_REGISTRATION:
            raise CompatError(403, "Registration is switched off")
        data = json_body(request)
        missing_keys(data, {"username", "password"})
        if not isinstance(data["username"], str) or not isinstance(data["password"], str):
            raise CompatError(400, "username and password must be strings")
        try:
            user_create_local(username=data["username"], password=data["password"])
        except Conflict:
            raise CompatError(403, "User existing") from None
        return answer("User created", 201)


class StatusView(CompatView):
    def get(self, request):
        return answer("User status", username=request.user.username)


class KeycloakView(PublicCompatView):
    """`POST /auth/keycloak`: a Keycloak access token (Bearer header) for our access cookie."""

    throttle_classes = [KeycloakLoginThrottle]

    def post(self, request):
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CompatError(401, "No token provided")
        try:
            user = keycloak_sign_in(token=token.strip())
        except keycloak.KeycloakError as error:
            # A token we do not accept is a 403 on the old routes ("You are not authorized to use this application").
            raise CompatError(403 if error.status == 401 else error.status, str(error)) from None
        except Conflict as error:
            raise CompatError(403, error.message) from None
        access = sign_in_tokens(user).access_token  # no refresh cookie: the UI signs in again with Keycloak
        response = answer("Successfully logged in", 202, **expiries(access=access))
        set_token_cookies(response, access=access)
        return response

    def delete(self, request):
        response = answer("User logged out")
        clear_cookies(response)
        return response


def not_found(request, *args, **kwargs):
    """Any address under the prefix that names no route: a JSON 404 (the UI parses every error body)."""
    return answer(f"The requested URL {request.path} was not found on this server", 404)


# --- jobs ----------------------------------------------------------------------------------------

JOB_NOT_FOUND = "Job with provided ID does not exist"
BATCH_UNAVAILABLE = "Batch simulations are not available on this server yet: it runs direct (Celery) jobs only"


def _job_id(request) -> str:
    job_id = request.query_params.get("job_id")
    if not job_id:
        raise CompatError(400, "Missing job_id query parameter")
    return job_id


def _simulation(request):
    """The requesting user's simulation named by `?job_id=`; unknown and foreign jobs are the same 404."""
    try:
        return selectors.simulation_get(user=request.user, job_id=_job_id(request))
    except NotFound:
        raise CompatError(404, JOB_NOT_FOUND) from None


def _status_body(request) -> dict:
    try:
        row, tasks = selectors.simulation_detail(user=request.user, job_id=_job_id(request))
    except NotFound:
        raise CompatError(404, JOB_NOT_FOUND) from None
    return {"job_state": row["job_state"], "job_tasks_status": [_task_status(task) for task in tasks]}


def _task_status(task: dict) -> dict:
    """The native task status with the old API's times and its estimated time as hours, minutes, seconds."""
    status = presenters.task_status(task, time=rfc1123)
    seconds = status.pop("estimated_time")
    if seconds is not None and status["end_time"] is None:
        minutes, seconds = divmod(int(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        status["estimated_time"] = {"hours": hours, "minutes": minutes, "seconds": seconds}
    return status


def _status_answer(request):
    body = _status_body(request)
    return answer(f"Job state: {body['job_state']}", **body)


def _submit(request, *, platform: str, ignored: tuple[str, ...] = ()):
    """Submits the old API's payload on `platform` (the route names it), without the `ignored` keys."""
    data = json_body(request)
    missing_keys(data, {"input_type", "ntasks", "sim_type"})
    data = {**{key: value for key, value in data.items() if key not in ignored}, "platform": platform}
    serializer = SubmitSerializer(data=data, context={"user": request.user})
    if not serializer.is_valid():
        raise CompatError(400, _first_message(serializer.errors))
    simulation, _key = simulation_submit(user=request.user, **serializer.validated_data)
    return answer("Task started", 202, job_id=simulation.job_id)


class DirectJobView(CompatView):
    """`/jobs/direct`: submit, status, cancel of a direct (Celery) job."""

    def post(self, request):
        # The UI may send its batch form's options along with a direct run: they do not apply.
        return _submit(request, platform=Platform.DIRECT, ignored=("batch_options",))

    def get(self, request):
        return _status_answer(request)

    def delete(self, request):
        simulation = _simulation(request)
        try:
            simulation_cancel(simulation=simulation)
        except Conflict:
            # Already final: the old API answers 200, since the user cannot see this race coming.
            state = selectors.simulation_get(user=request.user, job_id=simulation.job_id).job_state
            return answer(f"Cannot cancel job which is in {state} state", job_state=state)
        return answer("Cancelled sucessfully")


class BatchJobView(DirectJobView):
    """`/jobs/batch`: submit a batch (Slurm) job where this server runs them; status and cancel as for direct jobs
    (a job's status does not depend on its platform, and imported batch jobs must stay visible)."""

    def post(self, request):
        if Platform.BATCH not in execution.platforms():
            raise CompatError(400, BATCH_UNAVAILABLE)
        return _submit(request, platform=Platform.BATCH)


class JobStatusView(CompatView):
    """`GET /jobs?job_id=`: the status of any job, direct or batch."""

    def get(self, request):
        return _status_answer(request)


ORDER_BY = ("start_time", "end_time")
ORDER_TYPES = ("ascend", "descend")
DEFAULT_PAGE_SIZE = 6
MAX_PAGE_SIZE = 100


def _positive(request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise CompatError(400, f"{name} must be a whole number, got {text!r}") from None
    if value < 1:
        raise CompatError(400, f"{name} must be at least 1, got {value}")
    return value


def _choice(request, name: str, choices: tuple[str, ...], default: str) -> str:
    value = request.query_params.get(name) or default
    if value not in choices:
        raise CompatError(400, f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _states(request) -> list[str]:
    text = request.query_params.get("job_state") or ""
    states = [state.strip() for state in text.split(",") if state.strip()]
    unknown = [state for state in states if state not in JobState.values]
    if unknown:
        raise CompatError(400, f"job_state: {', '.join(unknown)} is not a state; one of {', '.join(JobState.values)}")
    return states


def _list_item(row: dict) -> dict:
    # No job_state: the UI builds a card as {...status, ...item}, so a state here would pin the card.
    return {
        "job_id": row["job_id"],
        "title": row["title"],
        "start_time": rfc1123(row["start_time"]),
        "end_time": rfc1123(row["end_time"]),
        "metadata": {
            "platform": row["platform"],
            "server": "Yaptide",
            "input_type": row["input_type"],
            "sim_type": row["sim_type"],
        },
    }


class UserSimulationsView(CompatView):
    """`/user/simulations`: the user's jobs a page at a time; delete a finished one."""

    def get(self, request):
        page_idx = _positive(request, "page_idx", 1)
        page_size = min(_positive(request, "page_size", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
        order_by = _choice(request, "order_by", ORDER_BY, "start_time")
        sign = "-" if _choice(request, "order_type", ORDER_TYPES, "descend") == "descend" else ""
        query = selectors.ListQuery(job_states=tuple(_states(request)), ordering=(sign + order_by,))
        try:
            page, count = selectors.simulation_page(user=request.user, query=query, number=page_idx, size=page_size)
        except NotFound:  # past the end: the old API answers an empty page with the real page count
            page, count = [], selectors.simulation_count(user=request.user, query=query)
        return answer(
            "User Simulations",
            simulations=[_list_item(row) for row in page],
            page_count=math.ceil(count / page_size),
            simulations_count=count,
        )

    def delete(self, request):
        simulation = _simulation(request)
        try:
            simulation_delete(simulation=simulation)
        except Conflict as error:
            raise CompatError(409, error.message) from None
        return answer(f"Simulation with job_id={simulation.job_id} successfully deleted from database")


class InputsView(CompatView):
    def get(self, request):
        simulation = _simulation(request)
        blob = selectors.input_blob(simulation=simulation)
        parts = http.wrapped_parts(b'{"message":"Input of simulation","input":', blob, b"}")
        return http.json_response(request, parts)


class LogfilesView(CompatView):
    def get(self, request):
        simulation = _simulation(request)
        blob = selectors.logfiles_blob(simulation=simulation)
        if blob is None:
            raise CompatError(404, "Logfiles are unavailable")
        return http.json_response(request, http.wrapped_parts(b'{"message":"Logfiles","logfiles":', blob, b"}"))


class EstimatorsView(CompatView):
    def get(self, request):
        simulation = _simulation(request)
        listing = selectors.estimators_listing(simulation=simulation)
        if not listing:
            raise CompatError(404, "Pages metadata not found")
        metadata = [{"name": item["name"], "pages_metadata": item["pages"]} for item in listing]
        return answer("Estimators metadata", estimators_metadata=metadata)


class ClustersView(CompatView):
    permission_classes = [IsAuthenticated, CanRunBatch]

    def get(self, request):
        names = Cluster.objects.order_by("cluster_name").values_list("cluster_name", flat=True)
        return answer("Available clusters", clusters=[{"cluster_name": name} for name in names])


def _pages_parts(blobs: list[bytes]) -> list:
    parts: list = [b'{"message":"Pages retrieved successfully","pages":[']
    for index, blob in enumerate(blobs):
        if index:
            parts.append(b",")
        parts.append(http.Stored(blob))
    parts.append(b"]}")
    return parts


class ResultsView(CompatView):
    """`GET /results`: all estimators; one (`estimator_name`); or some of its pages (`page_numbers`, `page_number`)."""

    def get(self, request):
        simulation = _simulation(request)
        name = request.query_params.get("estimator_name")
        numbers = request.query_params.get("page_numbers")
        number = request.query_params.get("page_number")
        if not name:
            if numbers is not None or number is not None:
                raise CompatError(400, "page_numbers and page_number need estimator_name")
            estimators = selectors.results_all(simulation=simulation)
            if not estimators:
                raise CompatError(404, "Results are unavailable")
            envelope = {"message": f"Results for simulation: {simulation.job_id}"}
            return http.json_response(request, http.results_parts(estimators, envelope=envelope))
        if number is not None and numbers is not None:
            raise CompatError(400, "Give page_number or page_numbers, not both")
        try:
            selection = selectors.page_selection_parse(number if number is not None else numbers)
        except InvalidInput as error:
            raise CompatError(400, error.message.replace("pages:", "page_numbers:", 1)) from None
        try:
            estimator, blobs = selectors.estimator_with_pages(simulation=simulation, name=name, selection=selection)
        except NotFound:
            raise CompatError(404, f"Estimator {name!r} or its pages not found") from None
        if number is not None:
            parts = [b'{"message":"Page retrieved successfully","page":', http.Stored(blobs[0]), b"}"]
        elif numbers is not None:
            parts = _pages_parts(blobs)
        else:
            envelope = {"message": f"Estimator {estimator['name']}"}
            parts = http.estimator_parts(estimator, blobs, envelope=envelope)
        return http.json_response(request, parts)
