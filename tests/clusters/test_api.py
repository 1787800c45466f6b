"""Clusters are listed for users who may run batch jobs (Keycloak users and staff); others get 403."""

from ..conftest import api_client_for
from ..factories import ClusterFactory, KeycloakUserFactory, UserFactory


def test_keycloak_users_see_the_clusters(db):
    ClusterFactory(cluster_name="prometheus")
    ClusterFactory(cluster_name="ares")

    response = api_client_for(KeycloakUserFactory()).get("/api/clusters/")

    assert response.status_code == 200
    assert [c["cluster_name"] for c in response.json()] == ["ares", "prometheus"]


def test_staff_see_the_clusters(db):
    ClusterFactory()
    assert api_client_for(UserFactory(is_staff=True)).get("/api/clusters/").status_code == 200


def test_local_users_cannot_use_clusters(api_client):
    response = api_client.get("/api/clusters/")
    assert response.status_code == 403
    assert "Keycloak" in response.json()["message"]


def test_anonymous_is_401(client, db):
    assert client.get("/api/clusters/").status_code == 401
