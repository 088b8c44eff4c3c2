from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path

from articles.views import importing, ops, reader

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("desk/import/", importing.import_article, name="import_article"),
    path("desk/", include("articles.desk_urls")),
    path("library/", include("articles.library_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("articles.api.urls")),
    path("sitemap.xml", sitemap, {"sitemaps": {"articles": reader.ArticleSitemap}}, name="sitemap"),
    path("", include("articles.urls")),
]
