from django.urls import path

from .views import reader, trust

app_name = "articles"

urlpatterns = [
    path("", reader.index, name="index"),
    path("updates/", trust.updates, name="updates"),
    path("advisory-board/", trust.advisory_board, name="advisory_board"),
    path("people/<int:pk>/", trust.person, name="person"),
    path("about/<slug:slug>/", reader.site_page, name="site_page"),
    path("articles/<slug:slug>/", reader.choose_audience, name="detail"),
    # Before "<audience>/": these are fixed words, never audiences.
    path("articles/<slug:slug>/ask/", trust.ask, name="ask"),
    path("articles/<slug:slug>/report/", trust.report, name="report"),
    path("articles/<slug:slug>/sent/", trust.feedback_sent, name="feedback_sent"),
    path("articles/<slug:slug>/<slug:audience>/", reader.article_page, name="audience"),
]
