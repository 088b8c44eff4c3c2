"""URLs of the reference library (writers and reviewers)."""

from django.urls import path  # noqa: F401 - used as the library views land

app_name = "library"

urlpatterns: list = []
