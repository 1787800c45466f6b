from django.db import models


class AuthProvider(models.TextChoices):
    YAPTIDE = "YaptideUser", "Local (password)"
    KEYCLOAK = "KeycloakUser", "Keycloak (PLGrid)"
