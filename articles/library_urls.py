"""URLs of the reference library (writers and reviewers)."""

from __future__ import annotations

from django.urls import path

from .views import library, watch

app_name = "library"

urlpatterns = [
    path("", library.reference_list, name="list"),
    path("new/", library.reference_create, name="create"),
    path("add/", library.add_by_identifier, name="add_by_identifier"),
    path("<int:pk>/", library.reference_detail, name="detail"),
    path("<int:pk>/edit/", library.reference_edit, name="edit"),
    path("<int:pk>/look-up-again/", library.look_up_again, name="look_up_again"),
    path("<int:pk>/check/", watch.check_reference, name="check"),
]
