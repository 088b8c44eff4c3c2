from django.apps import AppConfig


class ArticlesConfig(AppConfig):
    name = "articles"
    verbose_name = "Editorial"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the receivers
        from .admin_pages import SitePageAdmin  # noqa: F401 - registers the site pages' admin
        from .feedback import queue_owed_replies  # noqa: F401 - registers the reader replies' owed-work sweep
        from .references import requeue_stale_lookups  # noqa: F401 - registers its owed-work sweep
        from .watch import queue_owed_checks  # noqa: F401 - registers the citation watch's owed-work sweep
