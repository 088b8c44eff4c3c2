"""URLs of the signed-in desk: writing, review queue, and the article desk page with its actions."""

from django.urls import path

from .views import desk, feedback_desk, history, watch

app_name = "desk"

urlpatterns = [
    path("", desk.home, name="home"),
    path("queue/", desk.queue, name="queue"),
    path("alerts/", watch.alerts, name="alerts"),
    path("alerts/sweep-progress/", watch.sweep_progress, name="sweep_progress"),
    path("alerts/<int:pk>/<slug:action>/", watch.alert_act, name="alert_act"),
    path("articles/", desk.my_articles, name="mine"),
    path("articles/new/", desk.new_article, name="new"),
    path("preview/", desk.preview, name="preview"),
    path("feedback/", feedback_desk.backlog, name="feedback"),
    path("feedback/<int:pk>/", feedback_desk.item_page, name="feedback_item"),
    path("feedback/<int:pk>/<slug:action>/", feedback_desk.decide, name="feedback_decide"),
    path("articles/<slug:slug>/", desk.article_page, name="article"),
    path("articles/<slug:slug>/edit/", desk.edit_article, name="edit"),
    path("articles/<slug:slug>/do/<slug:action>/", desk.act, name="act"),
    path("articles/<slug:slug>/check-citations/", watch.check_article, name="check_citations"),
    path("articles/<slug:slug>/sources/<int:pk>/cite-as-retracted/", watch.cite_as_retracted, name="cite_as_retracted"),
    path("articles/<slug:slug>/history/", history.history, name="history"),
    path("articles/<slug:slug>/revisions/<int:revision_id>/", history.revision_preview, name="revision"),
    path("articles/<slug:slug>/revisions/<int:revision_id>/revert/", history.revert, name="revert"),
    path("articles/<slug:slug>/diff/", history.diff, name="diff"),
]
