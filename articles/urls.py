from django.urls import path

from .views import reader

app_name = "articles"

urlpatterns = [
    path("", reader.index, name="index"),
    path("about/<slug:slug>/", reader.site_page, name="site_page"),
    path("articles/<slug:slug>/", reader.choose_audience, name="detail"),
    path("articles/<slug:slug>/<slug:audience>/", reader.article_page, name="audience"),
]
