"""factory-boy factories for the models; simulations are made through the submit service."""

import factory

from accounts.models import KeycloakUser, YaptideUser
from clusters.models import Cluster


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = YaptideUser
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery-1")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class KeycloakUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KeycloakUser

    username = factory.Sequence(lambda n: f"plg{n}")


class ClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cluster

    cluster_name = factory.Sequence(lambda n: f"cluster{n}")


def editor_project(*, primaries: int = 1000, outputs: tuple[str, ...] = ("z_profile",), energy: float = 150.0) -> dict:
    """A minimal editor project: a proton beam, one cylinder detector segmented along z, one output per name."""
    detector = {
        "name": "CylZ",
        "uuid": "det-1",
        "geometryData": {
            "geometryType": "Cyl",
            "position": [0, 0, 10],
            "parameters": {"radius": 5, "innerRadius": 0, "depth": 20, "radialSegments": 1, "zSegments": 100},
        },
    }
    return {
        "metadata": {"version": "1.0"},
        "project": {"title": "test"},
        "beam": {"energy": energy, "numberOfParticles": primaries, "particle": {"id": 2, "a": 1, "z": 1}},
        "detectorManager": {"detectors": [detector]},
        "scoringManager": {
            "outputs": [
                {"name": name, "detectorUuid": "det-1", "quantities": [{"name": "Dose", "keyword": "Dose"}]}
                for name in outputs
            ]
        },
    }
