from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

app_name = "api"

urlpatterns = [
    path("articles/", views.ArticleList.as_view(), name="articles"),
    path("articles/<slug:slug>/", views.ArticleDetail.as_view(), name="article"),
    path("articles/<slug:slug>/<slug:audience>/", views.ArticleAudienceDetail.as_view(), name="article_audience"),
    path("topics/", views.TopicList.as_view(), name="topics"),
    path("references/<int:pk>/", views.ReferenceDetail.as_view(), name="reference"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
]
