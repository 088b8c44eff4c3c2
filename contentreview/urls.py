from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path

from articles.page_cache import LISTING, public_page
from articles.views import importing, ops, reader

# The sitemap lists every published article: stored until any article's public pages change.
cached_sitemap = public_page(lambda **kwargs: [LISTING], query=("p",))(sitemap)

urlpatterns = [
    path("healthz", ops.healthz, name="healthz"),
    path("favicon.ico", ops.favicon),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password change and reset (templates/registration/, in the site's look; email through EMAIL_BACKEND).
    path("accounts/", include("django.contrib.auth.urls")),
    path("desk/import/", importing.import_article_page, name="import_article"),
    path("desk/import/article-template.docx", importing.import_template_docx, name="import_template_docx"),
    path("desk/", include("articles.desk_urls")),
    path("library/", include("articles.library_urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("articles.api.urls")),
    path("sitemap.xml", cached_sitemap, {"sitemaps": {"articles": reader.ArticleSitemap}}, name="sitemap"),
    path("", include("articles.urls")),
]
