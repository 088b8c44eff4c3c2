from django.urls import path

from .views import reader

app_name = "articles"

urlpatterns = [
    path("", reader.index, name="index"),
    path("articles/<slug:slug>/", reader.detail, name="detail"),
]
