from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "articles"
    verbose_name = "Editorial"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the receivers
