"""The signed-in person's starting point: what their role has waiting for them."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .. import roles
from ..models import Article


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    mine = Article.objects.authored_by(request.user).with_variants() if roles.is_writer(request.user) else []
    return render(request, "articles/dashboard.html", {"my_articles": mine})
