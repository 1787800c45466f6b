from django.apps import AppConfig


class YaptideCompatConfig(AppConfig):
    name = "yaptide_compat"
    verbose_name = "yaptide-compatible API"
