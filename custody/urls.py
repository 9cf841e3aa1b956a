"""URL map: each domain app mounts its pages at /<app>/ (its urls.py) and its API at /api/<app>/
(its api.py exposing `register(router)`)."""

from __future__ import annotations

from importlib import import_module
from importlib.util import find_spec

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from custody.core import views as core_views
from custody.core.api import CustodyRouter

DOMAIN_APPS = [
    "accounts", "registry", "ledger", "matching", "biometrics", "planning",
    "cases", "repatriation", "camps", "coordination",
]

router = CustodyRouter()  # Idempotency-Key on every POST (custody.core.idempotency)
# No ".json" twins of every route: custom actions would each need a `format` argument, and the
# Accept header already chooses the renderer.
router.include_format_suffixes = False
for app in DOMAIN_APPS:
    if find_spec(f"custody.{app}.api"):
        import_module(f"custody.{app}.api").register(router)

urlpatterns = [
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", core_views.healthz, name="healthz"),
]

app_pages = [path("", core_views.home, name="home"), path("admin/", admin.site.urls)]
for app in DOMAIN_APPS:
    if find_spec(f"custody.{app}.urls"):
        app_pages.append(path(f"{app}/", include(f"custody.{app}.urls")))
app_pages.append(path("audit/", include("custody.core.urls")))

urlpatterns += i18n_patterns(*app_pages, prefix_default_language=False)
